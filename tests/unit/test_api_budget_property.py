"""Property: whatever the arrivals (bursts, several runs, Lambdas whose clocks disagree by up to a
few seconds), every trigger is deferred by the budget at most once, and the calls Fivetran counts
never exceed the budget in any rolling hour, nor its burst in any short window.

The simulation plays the whole deferral loop as the state machine does: ``start_sync`` takes a
place at its Lambda's (skewed) clock; a trigger within the budget reaches Fivetran after the
Lambda's latency; one over it is handed its slot, the child ``Wait``s until the slot on Step
Functions' (skewed) clock, rounded up to the second, and triggers then, owning its slot.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.tokens.api_budget import HOUR_SECONDS, MARGIN_SECONDS, Budget, BudgetRule
from tests.unit.test_api_budget import SlotCounter

EPOCH = datetime(2026, 12, 1, tzinfo=UTC)
MAX_SKEW_S = 5.0  # between a Lambda's clock (or Step Functions') and the true time
MAX_LATENCY_S = 2.0  # from taking a place to Fivetran counting the call


@dataclass
class Trigger:
    arrives_at: float  # true seconds since EPOCH
    lambda_skew: float
    sfn_skew: float
    latency: float
    deferrals: int = 0
    owns_slot: bool = False
    counted_at: float | None = None  # when Fivetran counted the call (true time)


runs = st.lists(
    st.tuples(
        st.floats(min_value=0, max_value=3 * HOUR_SECONDS),  # when the run's Map starts its children
        st.integers(min_value=1, max_value=600),  # connections
        st.sampled_from([100.0, 20.0, 1.0, 0.1]),  # children started a second (AWS: up to 100)
    ),
    min_size=1,
    max_size=4,
)
rules = st.integers(min_value=2, max_value=1_500).flatmap(
    lambda per_hour: st.builds(
        BudgetRule, per_hour=st.just(per_hour), burst=st.integers(min_value=1, max_value=per_hour - 1)
    )
)


def play(rule: BudgetRule, triggers: list[Trigger]) -> None:
    """Every trigger through the deferral loop, in true-time order (a min-heap of next events)."""
    budget = Budget(SlotCounter(), rule)
    events = [(t.arrives_at, i) for i, t in enumerate(triggers)]
    heapq.heapify(events)
    while events:
        at, i = heapq.heappop(events)
        trigger = triggers[i]
        if trigger.owns_slot:
            trigger.counted_at = at + trigger.latency
            continue
        turn = budget.take(EPOCH + timedelta(seconds=at + trigger.lambda_skew))
        if turn is None:
            trigger.counted_at = at + trigger.latency
            continue
        trigger.deferrals += 1
        if trigger.deferrals > 1:
            continue  # churn: the assertions below say so (no need to play it out)
        trigger.owns_slot = True
        # Wait (TimestampPath, rounded up to the second) on Step Functions' clock.
        slot_s = math.ceil((turn - EPOCH).total_seconds())
        heapq.heappush(events, (max(at, slot_s - trigger.sfn_skew), i))


def most_in_a_window(times: list[float], width: float) -> int:
    """The most calls in any closed window ``[t, t + width]`` (two pointers over sorted times)."""
    most, start = 0, 0
    for end, t in enumerate(times):
        while times[start] < t - width:
            start += 1
        most = max(most, end - start + 1)
    return most


@pytest.mark.slow  # ~9 s of CPU: make test runs it; make check leaves it out
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=rules, arrivals=runs, rng=st.randoms(use_true_random=False))
def test_no_trigger_is_deferred_twice_and_no_hour_holds_more_than_the_budget(rule, arrivals, rng):
    skews = [rng.choice([-MAX_SKEW_S, MAX_SKEW_S, rng.uniform(-MAX_SKEW_S, MAX_SKEW_S)]) for _ in range(64)]
    triggers = [
        Trigger(
            arrives_at=start + k / per_second,
            lambda_skew=rng.choice(skews),  # a few Lambda environments, reused
            sfn_skew=rng.choice(skews),
            latency=rng.uniform(0, MAX_LATENCY_S),
        )
        for start, size, per_second in arrivals
        for k in range(size)
    ]

    play(rule, triggers)

    assert max(t.deferrals for t in triggers) <= 1
    counted = sorted(t.counted_at for t in triggers if t.counted_at is not None)
    assert len(counted) == len(triggers)
    assert most_in_a_window(counted, HOUR_SECONDS) <= rule.per_hour
    # the burst bound: a short window holds the burst plus what refills over it (and the margin)
    per_second = (rule.per_hour - rule.burst) / (HOUR_SECONDS + MARGIN_SECONDS)
    for width in (1.0, 60.0):
        assert most_in_a_window(counted, width) <= rule.burst + math.ceil(
            per_second * (width + MARGIN_SECONDS)
        )


def test_the_margin_absorbs_the_worst_skew_and_latency_a_saturated_hour_can_meet():
    # The burst's Lambda runs 5 s behind and its calls arrive 2 s late (the hour starts late);
    # the deferred children's Step Functions clock runs 5 s ahead (their slots come early).
    rule = BudgetRule(per_hour=2_000, burst=1_000)
    triggers = [
        Trigger(
            arrives_at=0.0,
            lambda_skew=-MAX_SKEW_S,
            sfn_skew=MAX_SKEW_S,
            latency=MAX_LATENCY_S if k < rule.burst else 0.0,
        )
        for k in range(2_400)
    ]

    play(rule, triggers)

    counted = sorted(t.counted_at for t in triggers if t.counted_at is not None)
    assert most_in_a_window(counted, HOUR_SECONDS) <= rule.per_hour
