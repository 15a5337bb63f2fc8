"""``start_sync``: park the task token first, then ask Fivetran to sync, then arm the token.

Parking first means a webhook can never arrive for a token we have not stored. Once
Fivetran accepted the trigger the token is **armed** with the moment it did, on Fivetran's
clock (the answer's ``Date`` header), and whether it joined a running sync (409): from
then on the identity rule (``chalicelib/tokens/identity.py``) names its sync, and events that
arrived in between (a one-second sync can end before the trigger's answer) are settled
at once. A resume after ``RESCHEDULED`` on an auto-schedule connection triggers nothing:
Fivetran resumes by itself, and the token waits for the first sync after the
rescheduled one.

Every trigger first takes its place in the account's API budget (``chalicelib/tokens/api_budget.py``);
one over budget completes its token with ``RATE_LIMITED``, ``rescheduled_for``, ``budget_slot``
(its own slot) and ``reason`` (why it waits: the state machine notes it in the connection's
waits), so the state machine waits for free and triggers again, as for Fivetran's own 429.
The trigger that comes back with its slot (``after.budget_slot``) owns it and does not ask the
budget again: a trigger is deferred by the budget at most once. A trigger sent back by Fivetran's
429 (``budget_slot`` null) is another API call and takes a new place in the budget.

Failures: a refused trigger removes the token and raises the typed Fivetran error for
the state machine's Retry/Catch. A rate limit whose ``Retry-After`` the Lambda cannot
wait out completes the token with status ``RATE_LIMITED`` and ``rescheduled_for`` (the
time Fivetran named), so the state machine waits for free and triggers again: a run
never records a connection as failed only because Fivetran asked it to wait. A Lambda
retry with the same token finds it already parked and triggers again, which is harmless:
``force: false`` joins a running sync instead of restarting it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.fivetran.client import TriggerResult
from chalicelib.platform import metrics
from chalicelib.platform.errors import CallbackError, FivetranError, FivetranRateLimited, InvalidInput
from chalicelib.platform.log import logger
from chalicelib.platform.timeutil import format_asl_timestamp, format_timestamp, parse_timestamp
from chalicelib.run.rate_limit import (
    BUDGET_REASON,
    RATE_LIMITED,
    rate_limited_answer,
    trigger_retry,
    wait_seconds,
)
from chalicelib.tokens.api_budget import Budget
from chalicelib.tokens.resolver import HistoryReader, Resolver
from chalicelib.tokens.store import TokenStore

__all__ = ["SyncRequest", "SyncTrigger", "start_sync"]


class SyncTrigger(Protocol):
    """What triggers a sync: the stage's Fivetran client, built on the first call (so the path that
    triggers nothing never reads the API secret), within the Lambda's time budget."""

    def trigger_sync(self, connection_id: str) -> TriggerResult: ...


class SyncRequest:
    """The ``start_sync`` payload the state machine sends.

    ``{"connector": {"connector_id", "schedule_type", ...}, "task_token", "execution_id", "group_id",
    "sync_timeout_seconds", "resume": bool, "after": null | {"sync_id", "finished_at", ...}}``;
    ``after`` is the answer this trigger follows: the rescheduled sync a resume follows (its end
    on Fivetran's clock), or the ``RATE_LIMITED`` answer of an earlier attempt, whose
    ``budget_slot`` (when set) is the budget slot this trigger owns. ``group_id`` is the run's group, or
    for a run by connector_ids the connector's own ``group_id`` (the group the listing found it in).
    """

    def __init__(self, payload: Mapping[str, Any]) -> None:
        if not isinstance(payload, Mapping):
            raise InvalidInput("start_sync expects a JSON object")
        connector = payload.get("connector")
        connector = connector if isinstance(connector, Mapping) else {}
        self.connector_id = str(connector.get("connector_id") or "").strip()
        self.schedule_type = str(connector.get("schedule_type") or "auto")
        # The run's group; for a run by connector_ids or of several groups, the group the listing
        # found the connection in (chalicelib/run/listing.py).
        group = payload.get("group_id") or connector.get("group_id")
        self.group_id = group if isinstance(group, str) and group else None
        self.task_token = str(payload.get("task_token") or "")
        self.execution_id = str(payload.get("execution_id") or "")
        self.resume = payload.get("resume") is True
        timeout = payload.get("sync_timeout_seconds", 21_600)
        if not self.connector_id:
            raise InvalidInput("start_sync: 'connector.connector_id' is missing")
        if not self.task_token:
            raise InvalidInput("start_sync: 'task_token' is missing")
        try:
            self.sync_timeout_seconds = int(timeout)
        except (TypeError, ValueError):
            raise InvalidInput(f"start_sync: 'sync_timeout_seconds' is not an integer: {timeout!r}") from None
        after = payload.get("after")
        after = after if isinstance(after, Mapping) else {}
        try:
            self.resume_after = parse_timestamp(after.get("finished_at"))
        except ValueError:
            raise InvalidInput(f"start_sync: 'after.finished_at' is not a timestamp: {after!r}") from None
        sync_id = after.get("sync_id")
        self.exclude_sync_id = sync_id if isinstance(sync_id, str) and sync_id else None
        slot = after.get("budget_slot") if after.get("status") == RATE_LIMITED else None
        self.budget_slot = slot if isinstance(slot, str) and slot else None

    @property
    def waits_for_fivetran_to_resume(self) -> bool:
        """Fivetran resumes a rescheduled sync of an auto-schedule connection by itself."""
        return self.resume and self.schedule_type != "manual" and self.resume_after is not None


def start_sync(
    request: SyncRequest,
    store: TokenStore,
    fivetran: SyncTrigger,
    resolver: Resolver,
    *,
    now: datetime,
    ttl_margin_seconds: int,
    history_reader: HistoryReader | None = None,
    budget: Budget | None = None,
) -> dict[str, Any]:
    """Park, take a place in the API budget, trigger, arm, settle.

    Returns ``{"connector_id", "token_ref", "requested_at", "triggered", "joined"}``
    (Step Functions ignores it: the task ends by its token). Raises ``FivetranError``
    subclasses when Fivetran refuses the trigger (the token is removed first).
    """
    expires = now + timedelta(seconds=request.sync_timeout_seconds + ttl_margin_seconds)
    waits = request.waits_for_fivetran_to_resume
    record = store.new_record(
        connector_id=request.connector_id,
        task_token=request.task_token,
        execution_id=request.execution_id,
        requested_at=now,
        expires_at=int(expires.timestamp()),
        schedule_type=request.schedule_type,
        resume_after=request.resume_after if waits else None,
        exclude_sync_id=request.exclude_sync_id if waits else None,
        group_id=request.group_id,
    )
    record, created = store.park(record)
    if created:
        metrics.record_token_parked()
    ctx = {
        "connector_id": record.connector_id,
        "execution_id": record.execution_id,
        "token_ref": record.ref,
        "resume": request.resume,
        "first_delivery": created,
    }
    result: dict[str, Any] = {
        "connector_id": record.connector_id,
        "token_ref": record.ref,
        "requested_at": format_timestamp(record.requested_at),
        "triggered": False,
        "joined": False,
    }
    if waits:
        logger.info("token parked; auto-schedule connection resumes by itself", extra=ctx)
        resolver.settle(record.connector_id, history_reader=history_reader)
        return result
    if request.budget_slot is not None:
        ctx["budget_slot"] = request.budget_slot  # its slot has come: no second place in the budget
        turn = None
    else:
        turn = budget.take(now) if budget is not None else None
    if turn is not None:
        _wait_for_turn(record, turn, store, resolver, now=now, ctx=ctx)
        return {**result, "rate_limited": True, "budget": True}
    answer = _trigger_in_own_second(record, fivetran, store, ctx)
    if isinstance(answer, FivetranRateLimited):
        _wait_for_rate_limit(record, answer, store, resolver, now=now, ctx=ctx)
        return {**result, "rate_limited": True}
    accepted_at = answer.accepted_at
    if accepted_at is None:
        accepted_at = now
        logger.warning(
            "Fivetran's answer had no Date header; the token is anchored on our clock instead", extra=ctx
        )
    armed = store.arm(record, accepted_at=accepted_at, joined=answer.joined)
    logger.info(
        "token parked and sync triggered",
        extra={
            **ctx,
            "joined": answer.joined,
            "accepted_at": format_timestamp(accepted_at),
            "armed": bool(armed),
        },
    )
    if armed is not None:
        resolver.settle(record.connector_id, history_reader=history_reader)
    return {**result, "triggered": True, "joined": answer.joined}


def _trigger_in_own_second(
    record: Any, fivetran: SyncTrigger, store: TokenStore, ctx: dict[str, Any]
) -> TriggerResult | FivetranRateLimited:
    """Trigger once the connection's trigger slot is ours (``chalicelib/tokens/trigger_spacing.py``):
    no two of our triggers of one connection are accepted in one second of Fivetran's clock. A 429
    comes back as the error (the caller hands the wait to the state machine); any other refusal
    removes the token and raises the typed Fivetran error."""
    spacing = store.triggers
    if not spacing.wait_for_slot(record.connector_id, record.token_id):
        logger.warning(
            "another trigger of this connection still holds its slot; triggering all the same", extra=ctx
        )
    try:
        return fivetran.trigger_sync(record.connector_id)
    except FivetranRateLimited as exc:
        return exc
    except FivetranError as exc:
        store.remove(record.connector_id, record.token_id)
        logger.warning(
            "sync trigger failed; token removed",
            extra={**ctx, "error": type(exc).__name__, "detail": str(exc)[:500]},
        )
        raise
    finally:
        spacing.release_after(record.connector_id, record.token_id, time.time())


def _wait_for_rate_limit(
    record: Any,
    exc: FivetranRateLimited,
    store: TokenStore,
    resolver: Resolver,
    *,
    now: datetime,
    ctx: dict[str, Any],
) -> None:
    """Hand the wait to the state machine: complete the token with ``RATE_LIMITED``."""
    retry_at, reason = trigger_retry(exc, now=now)
    try:
        _complete_rate_limited(record, retry_at, resolver, now=now, reason=reason)
    except CallbackError:
        store.remove(record.connector_id, record.token_id)
        raise exc from None  # the state machine's Retry on Fivetran.RateLimited takes over
    logger.warning(
        "Fivetran rate limit longer than this Lambda can wait; the run waits instead",
        extra={
            **ctx,
            "retry_after_s": wait_seconds(exc.retry_after),
            "retry_at": format_asl_timestamp(retry_at, round_up=True),
        },
    )


def _wait_for_turn(
    record: Any, turn: datetime, store: TokenStore, resolver: Resolver, *, now: datetime, ctx: dict[str, Any]
) -> None:
    """Over the API budget: the run waits (for free) until this trigger's turn."""
    try:
        _complete_rate_limited(record, turn, resolver, now=now, budget_slot=turn, reason=BUDGET_REASON)
    except CallbackError:
        store.remove(record.connector_id, record.token_id)
        raise
    logger.info(
        "API budget spent; the trigger waits for its own slot",
        extra={**ctx, "retry_at": format_asl_timestamp(turn, round_up=True)},
    )


def _complete_rate_limited(
    record: Any,
    retry_at: datetime,
    resolver: Resolver,
    *,
    now: datetime,
    reason: str,
    budget_slot: datetime | None = None,
) -> None:
    answer = rate_limited_answer(
        record.connector_id, retry_at, now=now, reason=reason, budget_slot=budget_slot
    )
    resolver.send_success(record, answer)
