"""The Fivetran API budget: a token bucket over a share of the hourly quota; a trigger over it gets
its own slot, and the slots of every run never crowd more than the budget into an hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.platform.config import Settings
from chalicelib.tokens.api_budget import MARGIN_SECONDS, Budget, BudgetRule


class SlotCounter:
    """The token table's budget item, advanced as ``TokenStore.advance_budget_slot`` does: an
    ``ADD`` while ``tat >= now``, else a ``SET`` to ``now + interval``."""

    def __init__(self) -> None:
        self.tat: int | None = None
        self.calls = 0

    def advance_budget_slot(self, now_us: int, interval_us: int) -> int:
        self.calls += 1
        if self.tat is not None and self.tat >= now_us:
            self.tat += interval_us
        else:
            self.tat = now_us + interval_us
        return self.tat


NOW = datetime(2026, 11, 30, 10, 0, 15, tzinfo=UTC)


def test_the_default_budget_is_half_a_paid_accounts_hour_with_a_burst_of_two_thousand():
    rule = BudgetRule.of(Settings(token_table="t"))

    assert (rule.per_hour, rule.burst) == (10_000, 2_000)
    # the other 8,000 refill evenly over the hour and its margin: one every 0.4575 s
    assert rule.interval_us == 457_500


def test_a_run_up_to_the_burst_triggers_every_sync_at_once():
    budget = Budget(SlotCounter(), BudgetRule(per_hour=10_000, burst=2_000))

    assert [budget.take(NOW) for _ in range(2_000)] == [None] * 2_000


def test_the_kth_trigger_over_the_burst_gets_the_kth_slot_after_now():
    rule = BudgetRule(per_hour=100, burst=4)
    budget = Budget(SlotCounter(), rule)
    for _ in range(4):
        assert budget.take(NOW) is None

    slots = [budget.take(NOW) for _ in range(3)]

    interval = timedelta(microseconds=rule.interval_us)
    assert slots == [NOW + interval, NOW + 2 * interval, NOW + 3 * interval]


def test_the_bucket_refills_while_idle_but_never_above_its_burst():
    rule = BudgetRule(per_hour=100, burst=2)
    budget = Budget(SlotCounter(), rule)
    assert [budget.take(NOW) for _ in range(3)][:2] == [None, None]

    later = NOW + timedelta(hours=5)  # a long idle time refills only up to the burst
    assert [budget.take(later) for _ in range(2)] == [None, None]
    assert budget.take(later) is not None


def test_a_lambda_whose_clock_is_behind_still_queues_after_everyone_else():
    rule = BudgetRule(per_hour=100, burst=1)
    budget = Budget(SlotCounter(), rule)
    assert budget.take(NOW) is None
    first = budget.take(NOW)
    behind = budget.take(NOW - timedelta(seconds=5))

    assert first is not None and behind is not None
    assert behind - first == timedelta(microseconds=rule.interval_us)


def test_a_budget_share_of_zero_never_counts_or_holds_back():
    counter = SlotCounter()
    rule = BudgetRule.from_quota(20_000, share_percent=0)

    assert Budget(counter, rule).take(NOW) is None
    assert counter.calls == 0


@pytest.mark.parametrize(
    ("quota", "share", "burst", "expected"),
    [
        (20_000, 50, None, (10_000, 2_000)),
        (500, 50, None, (250, 50)),  # a trial account
        (20_000, 100, 50_000, (20_000, 19_999)),  # a burst is kept below the hour
        (2, 50, None, (2, 1)),
    ],
)
def test_the_rule_is_a_share_of_the_quota_with_a_burst_below_it(quota, share, burst, expected):
    rule = BudgetRule.from_quota(quota, share, burst)

    assert (rule.per_hour, rule.burst) == expected
    assert rule.enabled


def test_the_older_per_minute_setting_is_a_burst_of_n_refilled_n_a_minute():
    rule = BudgetRule.per_minute(120)

    assert rule.burst == 120
    assert rule.interval_us == pytest.approx(60_000_000 * (3_600 + MARGIN_SECONDS) / 3_600 / 120, rel=1e-5)
    assert not BudgetRule.per_minute(0).enabled


def test_settings_read_the_budget_from_the_environment_and_keep_the_per_minute_alias():
    env = {"TOKEN_TABLE": "t", "FIVETRAN_HOURLY_QUOTA": "500", "FIVETRAN_TRIGGER_QUOTA_SHARE": "40"}
    assert BudgetRule.of(Settings.from_env(env)) == BudgetRule(per_hour=200, burst=40)

    env["FIVETRAN_TRIGGER_BURST"] = "10"
    assert BudgetRule.of(Settings.from_env(env)) == BudgetRule(per_hour=200, burst=10)

    env["FIVETRAN_TRIGGERS_PER_MINUTE"] = "5"
    assert BudgetRule.of(Settings.from_env(env)) == BudgetRule.per_minute(5)
