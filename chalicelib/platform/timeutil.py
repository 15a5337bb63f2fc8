"""UTC timestamps: one format for everything the orchestrator stores or sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["format_asl_timestamp", "format_timestamp", "parse_timestamp", "utcnow"]


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


def parse_timestamp(value: Any) -> datetime | None:
    """Parse Fivetran/ISO 8601 timestamps (``Z`` or offsets); ``None`` for empty input.

    Raises ``ValueError`` for text that is not a timestamp.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"not a timestamp: {value!r}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise ValueError(f"timestamp out of range: {text[:40]!r}") from exc
