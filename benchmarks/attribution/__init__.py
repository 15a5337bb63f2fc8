"""Attribution under chaos: is each run given its own sync's outcome? Ours versus the polling peer's rule.

- ``world``: the seeded random worlds (syncs, triggers, reordered webhook deliveries, a clock offset),
  each trigger's true sync known by construction;
- ``ours``: a world played through our real ``start_sync`` and webhook handler on moto's DynamoDB,
  and our pure rule (``bind``) on the same events;
- ``peer``: dagster-fivetran's completion rule (``sync_and_poll``) on the same worlds;
- ``run``: all of it over many worlds, tallied (``run_attribution``, ``AttributionResult``).

``benchmarks.report.attribution`` renders the result as section 7 of ``results.md``.
"""

from benchmarks.attribution.peer import PeerRule, peer_decision
from benchmarks.attribution.run import AttributionResult, Tally, run_attribution
from benchmarks.attribution.world import Delivery, Trigger, TrueSync, World, generate

__all__ = [
    "AttributionResult",
    "Delivery",
    "PeerRule",
    "Tally",
    "Trigger",
    "TrueSync",
    "World",
    "generate",
    "peer_decision",
    "run_attribution",
]
