"""Time, in one place: UTC timestamps (one format for everything the orchestrator stores or sends,
one parser for everything it reads) and a Lambda's time budget."""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "LAMBDA_MARGIN_SECONDS",
    "format_asl_timestamp",
    "format_millis_timestamp",
    "format_timestamp",
    "from_epoch",
    "lambda_remaining_ms",
    "lambda_time_budget",
    "parse_http_date",
    "parse_iso",
    "parse_timestamp",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


def format_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with microseconds and ``Z``: sorts as text, parses back exactly (a
    four-digit year, even before 1000)."""
    value = value.astimezone(UTC)
    return f"{value.year:04d}-" + value.strftime("%m-%dT%H:%M:%S.%fZ")


def format_asl_timestamp(value: datetime, *, round_up: bool = False) -> str:
    """Whole-second RFC 3339 (``2026-01-15T11:34:54Z``): what ASL Wait/Choice timestamps accept.

    ``round_up`` rounds a fractional second up, so a Wait never ends before ``value``.
    """
    value = value.astimezone(UTC)
    if round_up and value.microsecond:
        value = value.replace(microsecond=0) + timedelta(seconds=1)
    return f"{value.year:04d}-" + value.strftime("%m-%dT%H:%M:%SZ")


def format_millis_timestamp(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z`` (``2026-01-15T11:34:54.123Z``): the form Step
    Functions gives its own timestamps in."""
    value = value.astimezone(UTC)
    return f"{value.year:04d}-" + value.strftime("%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def from_epoch(seconds: float) -> datetime:
    """Epoch seconds as a UTC datetime (epoch milliseconds: pass ``ms / 1000``)."""
    return datetime.fromtimestamp(seconds, UTC)


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP ``Date`` header (RFC 9110 IMF-fixdate) as a UTC datetime; None if absent or bad."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_iso(text: str) -> datetime:
    """ISO 8601 text as written (``Z`` or an offset; naive when it has neither). Raises ``ValueError``."""
    text = text.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


def parse_timestamp(value: Any) -> datetime | None:
    """Parse Fivetran/ISO 8601 timestamps (``Z`` or offsets); ``None`` for empty input.

    Raises ``ValueError`` for text that is not a timestamp.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    try:
        parsed = parse_iso(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise ValueError(f"timestamp out of range: {value.strip()[:40]!r}") from exc


# Time kept back from a Lambda's remaining time: no Fivetran wait may eat into it.
LAMBDA_MARGIN_SECONDS = 5.0
# Without a Lambda context (a manual call, a test): time enough for anything a pass does.
UNBOUNDED_MS = 10**9


def lambda_time_budget(context: Any) -> float | None:
    """Seconds a handler may spend waiting on Fivetran: the Lambda's remaining time
    (``context.get_remaining_time_in_millis()``) less ``LAMBDA_MARGIN_SECONDS``, at least 0;
    None (no bound) without a Lambda context."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return None if remaining is None else max(0.0, remaining() / 1000 - LAMBDA_MARGIN_SECONDS)


def lambda_remaining_ms(context: Any) -> Callable[[], int]:
    """The Lambda context's ``get_remaining_time_in_millis`` (milliseconds left, read at each call);
    without a context, one that always answers ``UNBOUNDED_MS``."""
    remaining: Callable[[], int] | None = getattr(context, "get_remaining_time_in_millis", None)
    return remaining if remaining is not None else _unbounded_ms


def _unbounded_ms() -> int:
    return UNBOUNDED_MS
