"""A connection's waits in one run: reschedules and rate-limit waits, read back from its child's state (pure).

The sync child notes every wait in ``$.waits`` before it waits (``statemachine/orchestrator.asl.json``,
``Log*``/``Count*`` states after ``WasRescheduled``): ``{"count", "rescheduled", "rate_limited",
"log", "last"}``, where ``log`` is the first ``LOGGED_WAITS`` answers that sent it to wait, each
``States.JsonToString`` of the answer, concatenated (JSON text after JSON text), and ``last`` the
latest answer. An answer is ``start_sync``'s ``RATE_LIMITED`` one (``rescheduled_for``,
``budget_slot``, ``reason``) or the resolver's ``RESCHEDULED`` one (``rescheduled_for``, ``reason``).

``read_waits(raw)`` turns it into what the run's outcomes keep::

    {"count": int, "rescheduled": int, "rate_limited": int, "until": str | None, "reason": str,
     "items": [{"kind": "rescheduled" | "rate_limited" | "api_budget", "at": str | None,
                "until": str | None, "reason": str}],
     "omitted": int}

``kind``: ``rescheduled`` (Fivetran rescheduled the sync: the source's quota), ``rate_limited``
(Fivetran's API answered 429 with a ``Retry-After``), ``api_budget`` (the account's API budget,
``chalicelib/tokens/api_budget.py``, gave the trigger a later slot); ``rate_limited`` counts both of
the last two. ``at``: when the run was told to wait; ``until``: the time it waited for (whole
seconds, UTC); ``items`` holds the first ``LOGGED_WAITS`` waits and the last one, ``omitted`` how
many between them are only counted. ``compact(waits)`` is the bounded form the run's state keeps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from chalicelib.run.rate_limit import BUDGET_REASON

__all__ = ["LOGGED_WAITS", "compact", "read_waits", "wait_reason"]

LOGGED_WAITS = 10  # the ASL's WasRescheduled logs this many answers in full (NumericLessThan)
REASON_CHARS = 300
STATE_REASON_CHARS = 200

RESCHEDULED_REASON = (
    "Fivetran rescheduled the sync: the source's API quota is spent, it resumes when calls are available"
)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def wait_reason(answer: Mapping[str, Any]) -> str:
    """Why an answer sent the connection to wait: its own ``reason``, else what its status means."""
    reason = answer.get("reason")
    if isinstance(reason, str) and reason.strip():
        return _cut(reason.strip(), REASON_CHARS)
    if answer.get("status") == "RESCHEDULED":
        return RESCHEDULED_REASON
    if answer.get("budget_slot"):
        return BUDGET_REASON
    return "Fivetran's API answered 429 Too Many Requests"


def _kind(answer: Mapping[str, Any]) -> str:
    if answer.get("status") == "RESCHEDULED":
        return "rescheduled"
    return "api_budget" if answer.get("budget_slot") else "rate_limited"


def _item(answer: Mapping[str, Any]) -> dict[str, Any]:
    until = answer.get("rescheduled_for")
    at = answer.get("finished_at")
    return {
        "kind": _kind(answer),
        "at": at if isinstance(at, str) and at else None,
        "until": until if isinstance(until, str) and until else None,
        "reason": wait_reason(answer),
    }


def _logged(log: Any) -> list[dict[str, Any]]:
    """The answers in ``log``: JSON objects written one after another (unreadable text ends the list)."""
    if not isinstance(log, str):
        return []
    decoder, found, at = json.JSONDecoder(), [], 0
    while at < len(log):
        try:
            value, at = decoder.raw_decode(log, at)
        except ValueError:
            break
        if isinstance(value, dict):
            found.append(value)
    return found


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def read_waits(raw: Any) -> dict[str, Any] | None:
    """The connection's waits (shape in the module docstring), or None when it never waited."""
    if not isinstance(raw, Mapping):
        return None
    answers = _logged(raw.get("log"))
    count = max(_count(raw.get("count")), len(answers))
    if not count:
        return None
    last = raw.get("last")
    items = [_item(a) for a in answers]
    if isinstance(last, Mapping) and count > len(answers):
        items.append(_item(last))
    latest = items[-1] if items else {"until": None, "reason": ""}
    return {
        "count": count,
        "rescheduled": _count(raw.get("rescheduled")),
        "rate_limited": _count(raw.get("rate_limited")),
        "until": latest["until"],
        "reason": latest["reason"],
        "items": items,
        "omitted": max(0, count - len(items)),
    }


def compact(waits: Mapping[str, Any]) -> dict[str, Any]:
    """What the run's bounded state keeps of ``read_waits``'s answer: the counts and the last wait."""
    return {
        "count": waits.get("count", 0),
        "rescheduled": waits.get("rescheduled", 0),
        "rate_limited": waits.get("rate_limited", 0),
        "until": waits.get("until"),
        "reason": _cut(str(waits.get("reason") or ""), STATE_REASON_CHARS),
    }
