"""The Fivetran API budget: at most N sync triggers a minute across every run, the rest told their turn."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.tokens.api_budget import Budget


class Counter:
    """Counts calls per window as the token table's atomic ADD does."""

    def __init__(self) -> None:
        self.windows: dict[str, int] = {}
        self.expiries: dict[str, int] = {}

    def count_call(self, window: str, expires_at: int) -> int:
        self.windows[window] = self.windows.get(window, 0) + 1
        self.expiries.setdefault(window, expires_at)
        return self.windows[window]


NOW = datetime(2026, 11, 30, 10, 0, 15, tzinfo=UTC)  # 15 s into a minute


def test_triggers_within_the_budget_go_ahead_at_once():
    budget = Budget(Counter(), per_minute=100)

    assert [budget.take(NOW) for _ in range(100)] == [None] * 100


def test_triggers_over_the_budget_come_back_spread_over_the_next_minutes_in_arrival_order():
    budget = Budget(Counter(), per_minute=4)
    for _ in range(4):
        budget.take(NOW)

    turns = [budget.take(NOW) for _ in range(6)]

    seconds = [(t - NOW.replace(second=0)).total_seconds() for t in turns if t is not None]
    # the 5th to 8th take the next minute's four places (0, 15, 30, 45 s in), the 9th and 10th the one after
    assert [round(s, 3) for s in seconds] == [60.001, 75.001, 90.001, 105.001, 120.001, 135.001]


def test_a_new_minute_has_a_new_budget_and_old_windows_expire_an_hour_after_their_minute():
    counter = Counter()
    budget = Budget(counter, per_minute=1)

    assert budget.take(NOW) is None
    assert budget.take(NOW) is not None
    assert budget.take(NOW.replace(minute=1)) is None
    window = f"triggers#{int(NOW.timestamp()) // 60}"
    assert counter.expiries[window] == (int(NOW.timestamp()) // 60 + 1) * 60 + 3600


def test_a_budget_of_zero_never_counts_or_holds_back():
    counter = Counter()

    assert Budget(counter, per_minute=0).take(NOW) is None
    assert counter.windows == {}
