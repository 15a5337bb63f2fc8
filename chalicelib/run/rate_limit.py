"""The rate limit's rules on our side: when Fivetran (a ``429 Too Many Requests`` with ``Retry-After``)
or the account's API budget (``chalicelib/tokens/api_budget.py``) says "not now", a Lambda never waits
out the limit itself: it hands the wait to the state machine, which waits for free.

The transport (``chalicelib/fivetran/transport.py``) already waits out a short ``Retry-After`` within
the caller's time budget and raises ``FivetranRateLimited`` (``retry_after``, seconds) for a longer one;
these rules take it from there:

- **Listing** (``ListConnectors``): ``listing_retry_at`` is when to list again (``Retry-After``, or
  ``DEFAULT_RATE_LIMIT_WAIT_SECONDS`` without one), unless that is past the run's deadline: then the
  error stands and the run fails on it (``Fivetran.RateLimited``).
- **A trigger** (``StartSyncAndWait``): after Fivetran's 429, ``trigger_retry`` says when to trigger
  again and why; over the API budget, the trigger waits for its own slot (``BUDGET_REASON``).
  ``rate_limited_answer`` completes the task token with status
  ``RATE_LIMITED``, ``rescheduled_for`` (when to trigger again, whole seconds rounded up), ``budget_slot``
  (the API budget's slot the next trigger owns, or null after Fivetran's own 429) and ``reason``.

The other half lives in ``statemachine/orchestrator.asl.json``: ``ListingRateLimited`` (a ``retry_at``
answer) and ``WaitToList`` (wait until it, then ``ListConnectors`` again); in each sync child,
``WasRescheduled`` (a ``RATE_LIMITED`` answer), ``LogRateLimit``/``CountRateLimit`` (the wait noted in
``$.waits``), ``RateLimitedBeforeDeadline`` (wait until ``rescheduled_for`` and ``TriggerAgain``, or
``RecordRateLimitedPastDeadline``: ``Orchestrator.RateLimitedPastDeadline``), and the ``Retry`` on
``Fivetran.RateLimited`` when a token cannot be completed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.platform.errors import FivetranRateLimited
from chalicelib.platform.timeutil import format_timestamp
from chalicelib.tokens.outcomes import success_payload

__all__ = [
    "BUDGET_REASON",
    "DEFAULT_RATE_LIMIT_WAIT_SECONDS",
    "RATE_LIMITED",
    "listing_retry_at",
    "rate_limited_answer",
    "trigger_retry",
    "wait_seconds",
]

RATE_LIMITED = "RATE_LIMITED"
# Why a trigger waits when the API budget gave it a later slot (the run's outcomes show it).
BUDGET_REASON = "the account's Fivetran API budget is spent: the trigger waits for its own slot"
# A 429 without a usable Retry-After: wait this long before calling again.
DEFAULT_RATE_LIMIT_WAIT_SECONDS = 60


def wait_seconds(retry_after: float | None) -> float:
    """How long to wait after a 429: its ``Retry-After`` (seconds), or the default without one."""
    return retry_after if retry_after and retry_after > 0 else DEFAULT_RATE_LIMIT_WAIT_SECONDS


def listing_retry_at(
    refused: FivetranRateLimited, *, now: datetime, deadline: datetime | None
) -> datetime | None:
    """When the run lists again after the listing's 429; None when that would outlast the run's
    ``deadline`` (then the error stands)."""
    retry_at = now + timedelta(seconds=wait_seconds(refused.retry_after))
    return None if deadline is not None and retry_at > deadline else retry_at


def trigger_retry(refused: FivetranRateLimited, *, now: datetime) -> tuple[datetime, str]:
    """When a trigger Fivetran refused with 429 tries again, and the reason the run's outcomes show."""
    wait = wait_seconds(refused.retry_after)
    told = refused.retry_after and refused.retry_after > 0
    said = f"Retry-After {refused.retry_after} s" if told else "no Retry-After"
    reason = f"Fivetran's API answered 429 Too Many Requests ({said}): the trigger waits {wait} s"
    return now + timedelta(seconds=wait), reason


def rate_limited_answer(
    connector_id: str, retry_at: datetime, *, now: datetime, reason: str, budget_slot: datetime | None = None
) -> dict[str, Any]:
    """The ``RATE_LIMITED`` answer a trigger's task token is completed with (see the module docstring)."""
    return success_payload(
        connector_id,
        RATE_LIMITED,
        finished_at=now,
        rescheduled_for=retry_at,
        budget_slot=format_timestamp(budget_slot) if budget_slot is not None else None,
        reason=reason,
    )
