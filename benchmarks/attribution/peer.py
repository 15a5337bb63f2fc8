"""The polling peer's attribution rule, applied to a world: which sync's outcome ``dagster-fivetran``'s
``sync_and_poll`` would report for a trigger.

It does not read webhooks: it reads the connection's ``succeeded_at``/``failed_at`` before triggering
(``previous``), triggers, then polls every ``poll_interval`` seconds until
``max(succeeded_at, failed_at) > previous``, and takes the outcome of whatever sync set that time. The
delivery chaos and the clock offset cannot affect it (it compares Fivetran's times with Fivetran's).
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.attribution.world import Trigger, TrueSync, World

__all__ = ["PeerRule", "peer_decision"]


@dataclass(frozen=True)
class PeerRule:
    """dagster-fivetran's completion test (``FivetranClient.poll_sync``), on the connector's fields."""

    poll_interval_s: float = 10.0


def _completed_at(world: World, t: float) -> tuple[float, TrueSync | None]:
    """``max(succeeded_at, failed_at)`` as the connector shows it at ``t``, and the sync that set it."""
    ended = [s for s in world.syncs if s.end <= t and s.status != "RESCHEDULED"]
    if not ended:
        return float("-inf"), None
    last = max(ended, key=lambda s: s.end)
    return last.end, last


def peer_decision(world: World, trigger: Trigger, rule: PeerRule) -> str | None:
    """The sync whose outcome the peer would report for ``trigger`` (None: it never saw one end)."""
    previous, _ = _completed_at(world, trigger.accepted - trigger.peer_read_before_s)
    horizon = max(s.end for s in world.syncs) + rule.poll_interval_s
    t = trigger.accepted + trigger.peer_first_poll_s
    while t <= horizon:
        completed, sync = _completed_at(world, t)
        if sync is not None and completed > previous:
            return sync.sync_id
        t += rule.poll_interval_s
    return None
