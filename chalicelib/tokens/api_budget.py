"""One Fivetran API budget for the sync triggers of every run: at most N triggers per minute.

Fivetran counts every API call of an account against one rolling-hour quota (20,000 calls an
hour on paid plans, 500 on trial accounts; then ``429`` with ``Retry-After``: Fivetran docs,
"REST API rate limiting"). A 10,000-connection run that triggered everything at once would
spend half an hour's quota in seconds and starve every other run and tool of the account.

The budget is a counter per clock minute in the token table (``TokenStore.count_call``: an
atomic ``ADD``, so 10,000 concurrent triggers never collide on one item the way a single
token-bucket item updated optimistically would). A trigger whose position in its minute is
within ``per_minute`` goes ahead; the others are told when to come back: spread over the
following minutes in the order they arrived, so a large run triggers at the budget's pace
and every sync of a run under ``per_minute`` connections starts at once.

Shapes: ``Budget.take(now) -> None`` (go ahead) or a ``datetime`` (come back then, UTC).
``per_minute`` 0 means no budget (every trigger goes ahead).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["DEFAULT_TRIGGERS_PER_MINUTE", "Budget"]

# 120 a minute is 7,200 an hour: about a third of a paid account's 20,000, so other tools and
# the safety net keep most of the quota. Trial accounts (500 an hour) should set about 5.
DEFAULT_TRIGGERS_PER_MINUTE = 120
WINDOW_SECONDS = 60
# Window items expire an hour after their minute (the table's TTL removes them).
WINDOW_TTL_SECONDS = 3_600


class CallCounter(Protocol):
    def count_call(self, window: str, expires_at: int) -> int: ...


@dataclass(frozen=True)
class Budget:
    counter: CallCounter
    per_minute: int = DEFAULT_TRIGGERS_PER_MINUTE

    def take(self, now: datetime) -> datetime | None:
        """Count one trigger; ``None`` if it is within the budget, else when to try again."""
        if self.per_minute <= 0:
            return None
        epoch = now.astimezone(UTC).timestamp()
        minute = int(epoch // WINDOW_SECONDS)
        position = self.counter.count_call(
            f"triggers#{minute}", int((minute + 1) * WINDOW_SECONDS + WINDOW_TTL_SECONDS)
        )
        if position <= self.per_minute:
            return None
        # The k-th trigger over budget comes back in minute ceil(k / per_minute) after this one,
        # at its own offset in that minute, so the returning ones do not all arrive together.
        over = position - self.per_minute
        minutes_ahead = math.ceil(over / self.per_minute)
        offset = ((over - 1) % self.per_minute) * WINDOW_SECONDS / self.per_minute
        start = (minute + minutes_ahead) * WINDOW_SECONDS + offset
        return datetime.fromtimestamp(start, UTC) + timedelta(milliseconds=1)
