"""One Fivetran API budget for the sync triggers of every run: a token bucket over the hourly quota.

Fivetran counts every API call of an account against one rolling-hour quota (20,000 calls an
hour on paid plans, 500 on trial accounts; then ``429`` with ``Retry-After``: Fivetran docs,
"REST API rate limiting", https://fivetran.com/docs/rest-api/rate-limiting). The budget gives
the sync triggers of all runs of the account a share of that hour (``per_hour``, half of the
quota by default) as a token bucket: up to ``burst`` triggers go at once, the rest of the hour
refills at an even pace. A run of up to ``burst`` connections triggers every sync at once; many
runs an hour never take more than ``per_hour``.

The bucket is one item in the token table, kept as GCRA does (the "theoretical arrival time"
``tat``, in integer microseconds): a trigger at ``now`` atomically sets ``tat = max(tat, now) +
interval`` (``BudgetSlots.advance_budget_slot``: one conditional ``ADD``, or one conditional
``SET`` when the bucket has been idle; never a read-then-write, so concurrent callers never
collide or lose an update) and gets the **slot** ``tat - burst * interval``. A slot at or before
``now`` goes ahead; a later one is that trigger's own turn: every caller advances the counter
by one interval, so the k-th over-budget caller's slot is ``k`` intervals after the bucket ran
dry, and no two callers ever hold the same slot. The run waits (for free) until its slot and
triggers then without asking the budget again (it owns the slot): **a trigger is deferred at
most once.**

Why it holds: the slots of any ``n`` triggers are at least ``(n - burst) * interval`` apart, so
any window of ``3,600 + margin_s`` seconds holds at most ``burst + (per_hour - burst) =
per_hour`` of them. ``margin_s`` (``MARGIN_SECONDS``) absorbs what separates a slot from the
moment Fivetran counts the call: clock skew between Lambdas and Step Functions (a few seconds),
a ``Wait`` rounded up to the second, the Lambda's own latency. Calls this budget does not see
(listing, the safety net's reads, HTTP retries) live in the quota's other share.

Shapes: ``Budget.take(now) -> None`` (go ahead) or a ``datetime`` (the trigger's slot, UTC).
``BudgetRule.per_hour`` 0 means no budget (every trigger goes ahead).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from chalicelib.platform.config import DEFAULT_HOURLY_QUOTA, DEFAULT_QUOTA_SHARE_PERCENT, Settings
from chalicelib.platform.timeutil import from_epoch

__all__ = [
    "MARGIN_SECONDS",
    "Budget",
    "BudgetRule",
]

# The default burst is a fifth of the hourly budget: 2,000 triggers at once on a paid account.
DEFAULT_BURST_FRACTION = 5
# Seconds added to the hour the refill is spread over (see the module docstring).
MARGIN_SECONDS = 60
HOUR_SECONDS = 3_600
MICROSECONDS = 1_000_000


class SlotCounter(Protocol):
    def advance_budget_slot(self, now_us: int, interval_us: int) -> int: ...


@dataclass(frozen=True)
class BudgetRule:
    """At most ``per_hour`` triggers in any rolling hour, up to ``burst`` of them at once."""

    per_hour: int
    burst: int

    @classmethod
    def from_quota(
        cls,
        hourly_quota: int = DEFAULT_HOURLY_QUOTA,
        share_percent: int = DEFAULT_QUOTA_SHARE_PERCENT,
        burst: int | None = None,
    ) -> BudgetRule:
        """``share_percent`` of ``hourly_quota``; ``burst`` defaults to a fifth of that and is
        kept below it (so the hour always refills). A share of 0 turns the budget off."""
        per_hour = hourly_quota * share_percent // 100
        if per_hour <= 0:
            return cls(per_hour=0, burst=0)
        per_hour = max(per_hour, 2)  # one at once, one more in the hour
        wanted = per_hour // DEFAULT_BURST_FRACTION if burst is None else burst
        return cls(per_hour=per_hour, burst=max(1, min(wanted, per_hour - 1)))

    @classmethod
    def of(cls, settings: Settings) -> BudgetRule:
        """The stage's rule: ``FIVETRAN_TRIGGERS_PER_MINUTE`` (the older alias) when set, else the
        share of the hourly quota (``FIVETRAN_HOURLY_QUOTA``, ``FIVETRAN_TRIGGER_QUOTA_SHARE``,
        ``FIVETRAN_TRIGGER_BURST``)."""
        if settings.triggers_per_minute is not None:
            return cls.per_minute(settings.triggers_per_minute)
        return cls.from_quota(
            settings.fivetran_hourly_quota, settings.trigger_quota_share_percent, settings.trigger_burst
        )

    @classmethod
    def per_minute(cls, triggers: int) -> BudgetRule:
        """The older setting ``triggers_per_minute`` N: a burst of N refilled N a minute (0: off)."""
        if triggers <= 0:
            return cls(per_hour=0, burst=0)
        return cls(per_hour=triggers * 61, burst=triggers)

    @property
    def enabled(self) -> bool:
        return self.per_hour > self.burst > 0

    @property
    def interval_us(self) -> int:
        """Microseconds between two refills (rounded up, so the bound stays on the safe side)."""
        return math.ceil((HOUR_SECONDS + MARGIN_SECONDS) * MICROSECONDS / (self.per_hour - self.burst))

    def slot(self, tat_us: int) -> int:
        """The slot (epoch microseconds) of the caller that advanced the counter to ``tat_us``."""
        return tat_us - self.burst * self.interval_us


@dataclass(frozen=True)
class Budget:
    slots: SlotCounter
    rule: BudgetRule

    def take(self, now: datetime) -> datetime | None:
        """Reserve one trigger's slot; ``None`` if it is now, else the slot's time (UTC)."""
        if not self.rule.enabled:
            return None
        now_us = math.floor(now.astimezone(UTC).timestamp() * MICROSECONDS)
        slot_us = self.rule.slot(self.slots.advance_budget_slot(now_us, self.rule.interval_us))
        if slot_us <= now_us:
            return None
        return from_epoch(slot_us / MICROSECONDS)
