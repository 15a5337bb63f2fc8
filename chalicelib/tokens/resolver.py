"""Completing parked tokens from what is known of their connection's syncs.

Shared by the webhook (after it records a ``sync_start``/``sync_end``), ``start_sync``
(after Fivetran accepted the trigger: an end may have arrived first) and the safety net
(with the sync history). For each armed token of the connection, the identity rule
(``chalicelib/tokens/identity.py``) names the one sync it waits for; a token is completed only
from that sync's end. When the webhooks alone cannot prove which sync is the token's,
the sync history is read once (``history_reader``) to confirm it; if Fivetran cannot be
read, the token waits for the safety net. Two runs syncing one connection each get their
own sync's outcome; a duplicate or replayed delivery finds nothing left to complete.

Two ends for one sync: Fivetran has been seen sending a ``FAILURE`` then a ``SUCCESSFUL``
``sync_end`` with one ``sync_id`` (a type promotion), its sync history ending SUCCESSFUL. So
an end that would fail a token, known from webhooks alone, is checked against the sync
history once before the token fails: the history's final status wins (unreadable: the token
waits for the safety net, whose reads put the history first too). A second end whose status
contradicts the one recorded is logged as a warning with both statuses and counted
(``ConflictingSyncEnds``); the first recorded end stays in the token table.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta

from chalicelib.fivetran.syncs import SyncRecord
from chalicelib.platform import metrics
from chalicelib.platform.errors import CallbackError, FivetranError
from chalicelib.platform.log import logger
from chalicelib.tokens.callbacks import CallbackResult, StepFunctionsCallbacks
from chalicelib.tokens.identity import Binding, Decision, bind
from chalicelib.tokens.outcomes import SUCCESS_STATUSES, SyncOutcome
from chalicelib.tokens.records import TokenRecord
from chalicelib.tokens.store import TokenStore

__all__ = ["HISTORY_WINDOW", "HistoryReader", "Resolution", "Resolver"]

# Fivetran's sync history answers at most 7 days per call.
HISTORY_WINDOW = timedelta(days=7) - timedelta(minutes=1)
# How long a seen sync is remembered (longer than any wait for its token).
SYNC_MEMORY_SECONDS = 8 * 86_400

HistoryReader = Callable[[str, datetime, datetime], list[SyncRecord]]


@dataclass
class Resolution:
    """What one pass over a connection's tokens did.

    ``newer_than_event``: tokens still waiting for their own sync (not started, still
    running, or not yet confirmed). The name is the webhook answer's contract.
    """

    completed: int = 0
    already_resolved: int = 0
    newer_than_event: int = 0
    busy: int = 0
    errors: list[str] = field(default_factory=list)
    pending: list[tuple[TokenRecord, Binding]] = field(default_factory=list, repr=False)

    @property
    def incomplete(self) -> bool:
        """True when a token could not be completed for a transient reason (retry later)."""
        return bool(self.errors)

    def add(self, other: Resolution) -> None:
        self.completed += other.completed
        self.already_resolved += other.already_resolved
        self.newer_than_event += other.newer_than_event
        self.busy += other.busy
        self.errors.extend(other.errors)

    def to_dict(self) -> dict[str, object]:
        """The counts, and ``errors`` as a count (the webhook answer's and the log's shape)."""
        counts = {f.name: getattr(self, f.name) for f in fields(self) if f.type == "int"}
        return {**counts, "errors": len(self.errors)}


def _would_fail(binding: Binding) -> bool:
    """The token's sync ended, as webhooks alone say, with a status that fails the token."""
    sync = binding.sync
    return (
        binding.decision is Decision.BOUND
        and sync is not None
        and sync.ended
        and sync.source != "history"
        and sync.status not in SUCCESS_STATUSES
    )


def history_window(tokens: Iterable[TokenRecord], syncs: Iterable[SyncRecord]) -> tuple[datetime, datetime]:
    """The sync-history window that covers these tokens' anchors and the syncs seen after them."""
    anchors = [t.anchor.at for t in tokens if t.anchor is not None]
    start = min(anchors) - timedelta(seconds=1)
    times = [t for s in syncs for t in (s.started_at, s.ended_at) if t is not None]
    end = max([start + timedelta(seconds=2), *times]) + timedelta(seconds=1)
    return max(start, end - HISTORY_WINDOW), end


class Resolver:
    def __init__(self, store: TokenStore, callbacks: StepFunctionsCallbacks) -> None:
        self._store = store
        self._callbacks = callbacks

    def record(self, connector_id: str, sync: SyncRecord) -> None:
        """Remember what an event said of a sync (kept for ``SYNC_MEMORY_SECONDS``); a second end
        with another status than the recorded one is logged (warning) and counted."""
        before = self._store.syncs.record(
            connector_id, sync, expires_at=int(time.time()) + SYNC_MEMORY_SECONDS
        )
        if before is not None and before.status and sync.status and before.status != sync.status:
            logger.warning(
                "a second, conflicting end for one sync; the first recorded end is kept",
                extra={
                    "connector_id": connector_id,
                    "sync_id": sync.sync_id,
                    "first_status": before.status,
                    "second_status": sync.status,
                },
            )
            metrics.record_conflicting_sync_end()

    def settle(
        self,
        connector_id: str,
        *,
        history: list[SyncRecord] | None = None,
        history_reader: HistoryReader | None = None,
        source: str = "webhook",
    ) -> Resolution:
        """Complete every armed token of the connection whose own sync has ended.

        Args:
            history: the connection's sync history over the tokens' window, when the
                caller already read it (the safety net): decisions are then final.
            history_reader: reads it when the webhooks alone are not enough (None: never).
        """
        result = Resolution()
        tokens, seen = self._store.connection_state(connector_id)
        complete = history is not None
        known = (history or []) + seen  # the history first: where it has a field, its value wins
        unsure: list[TokenRecord] = []
        failing: list[tuple[TokenRecord, Binding]] = []
        for record in tokens:
            anchor = record.anchor
            if anchor is None:  # the trigger is still in flight
                result.newer_than_event += 1
                result.pending.append((record, Binding(Decision.WAITING)))
                continue
            binding = bind(anchor, known, complete=complete)
            if binding.decision is Decision.UNSURE and history_reader is not None:
                unsure.append(record)
                continue
            if not complete and history_reader is not None and _would_fail(binding):
                failing.append((record, binding))
                continue
            self._act(record, binding, result, source)
        if unsure and history_reader is not None:
            self._confirm(connector_id, unsure, seen, history_reader, result, source)
        if failing and history_reader is not None:
            self._check_failures(connector_id, failing, seen, history_reader, result, source)
        return result

    def end_connection(
        self,
        connector_id: str,
        *,
        status: str,
        at: datetime,
        reason: str,
        history_reader: HistoryReader | None = None,
    ) -> Resolution:
        """A connection event (paused, deleted, connection test failed at ``at``, Fivetran's clock):
        tokens whose sync already ended complete from it as ``settle`` does; every other armed token
        triggered before ``at`` ends at once with ``status`` and ``reason`` (a failure: its sync will
        not end). Tokens triggered after ``at``, or whose trigger is in flight, keep waiting.

        Before ending a token, the sync history is read once (``history_reader``): a sync that ended
        before the event, whose ``sync_end`` has not arrived, gets its own outcome. Unreadable: the
        event decides (the connection cannot end the sync now)."""
        settled = self.settle(connector_id, history_reader=history_reader)
        before = [r for r, _ in settled.pending if r.anchor is not None and r.anchor.at <= at]
        if before and history_reader is not None:
            start, end = history_window(before, [])
            try:
                history = history_reader(connector_id, start, max(end, at + timedelta(seconds=1)))
            except FivetranError as exc:
                logger.warning(
                    "sync history unavailable; the connection event decides",
                    extra={"connector_id": connector_id, "tokens": len(before), "error": str(exc)[:300]},
                )
            else:
                again = self.settle(connector_id, history=history)
                settled.add(again)  # its waiting count is recounted below from its pending tokens
                settled.pending = again.pending
        result = Resolution(
            completed=settled.completed,
            already_resolved=settled.already_resolved,
            busy=settled.busy,
            errors=list(settled.errors),
        )
        for record, binding in settled.pending:
            if record.anchor is None or record.anchor.at > at:
                result.newer_than_event += 1
                result.pending.append((record, binding))
                continue
            sync_id = binding.sync.sync_id if binding.sync is not None else None
            outcome = SyncOutcome(
                connector_id, status=status, finished_at=at, sync_id=sync_id, reason=reason, source="webhook"
            )
            self.resolve_token(record, outcome, result)
        return result

    def _check_failures(
        self,
        connector_id: str,
        failing: list[tuple[TokenRecord, Binding]],
        seen: list[SyncRecord],
        history_reader: HistoryReader,
        result: Resolution,
        source: str,
    ) -> None:
        """Read the sync history once before failing tokens on ends known from webhooks alone; the
        history's final status of the same sync wins."""
        start, end = history_window([record for record, _ in failing], seen)
        try:
            history = {s.sync_id: s for s in history_reader(connector_id, start, end) if s.ended}
        except FivetranError as exc:
            logger.warning(
                "sync history unavailable to confirm a failed sync; tokens wait for the safety net",
                extra={"connector_id": connector_id, "tokens": len(failing), "error": str(exc)[:300]},
            )
            for record, binding in failing:
                result.newer_than_event += 1
                result.pending.append((record, binding))
            return
        for record, binding in failing:
            assert binding.sync is not None
            final = history.get(binding.sync.sync_id)
            if final is not None and final.status != binding.sync.status:
                logger.warning(
                    "the sync history's final status differs from the sync_end; the history's wins",
                    extra={
                        "connector_id": connector_id,
                        "sync_id": final.sync_id,
                        "webhook_status": binding.sync.status,
                        "history_status": final.status,
                    },
                )
                binding = Binding(binding.decision, final)
            self._act(record, binding, result, source)

    def _confirm(
        self,
        connector_id: str,
        unsure: list[TokenRecord],
        seen: list[SyncRecord],
        history_reader: HistoryReader,
        result: Resolution,
        source: str,
    ) -> None:
        start, end = history_window(unsure, seen)
        try:
            history = history_reader(connector_id, start, end)
        except FivetranError as exc:
            logger.warning(
                "sync history unavailable; tokens wait for the safety net",
                extra={"connector_id": connector_id, "tokens": len(unsure), "error": str(exc)[:300]},
            )
            for record in unsure:
                result.newer_than_event += 1
                result.pending.append((record, Binding(Decision.UNSURE)))
            return
        for record in unsure:
            assert record.anchor is not None
            self._act(record, bind(record.anchor, history + seen, complete=True), result, source)

    def _act(self, record: TokenRecord, binding: Binding, result: Resolution, source: str) -> None:
        sync = binding.sync
        if binding.decision is Decision.BOUND and sync is not None and sync.ended:
            outcome = SyncOutcome.from_sync(record.connector_id, sync, source=source)
            self.resolve_token(record, outcome, result)
            return
        result.newer_than_event += 1
        result.pending.append((record, binding))

    def resolve_token(self, record: TokenRecord, outcome: SyncOutcome, result: Resolution) -> None:
        claim_id = uuid.uuid4().hex
        if not self._store.claim(record, claim_id, time.time()):
            result.busy += 1
            return
        ctx = {
            "connector_id": record.connector_id,
            "execution_id": record.execution_id,
            "token_ref": record.ref,
            "status": outcome.status,
            "sync_id": outcome.sync_id,
            "source": outcome.source,
        }
        try:
            if outcome.is_success:
                sent = self._callbacks.succeed(record.task_token, outcome.success_output())
            else:
                sent = self._callbacks.fail(record.task_token, outcome.failure_error, outcome.failure_cause())
        except CallbackError as exc:
            self._store.release(record, claim_id)
            result.errors.append(str(exc))
            logger.warning("callback failed; token kept for a retry", extra={**ctx, "error": str(exc)})
            return
        except Exception:
            self._store.release(record, claim_id)  # never leave a token claimed by a bug
            raise
        self._store.remove(record.connector_id, record.token_id)
        if sent is CallbackResult.GONE:
            result.already_resolved += 1
            logger.info("token already resolved in Step Functions; deleted", extra=ctx)
        else:
            result.completed += 1
            logger.info("task token completed", extra=ctx)
            kind = (
                "rescheduled"
                if outcome.status == "RESCHEDULED"
                else "succeeded"
                if outcome.is_success
                else "failed"
            )
            metrics.record_sync_outcome(kind, (time.time() - record.requested_at.timestamp()))

    def send_success(self, record: TokenRecord, output: dict[str, object]) -> None:
        """Complete a token with ``output`` outside the identity rule (``start_sync``'s own
        ``RATE_LIMITED`` answer), then delete it. Raises ``CallbackError`` if not sent."""
        self._callbacks.succeed(record.task_token, output)
        self._store.remove(record.connector_id, record.token_id)

    def heartbeat(self, record: TokenRecord) -> CallbackResult:
        """Tell Step Functions the run is still waiting; a gone token is deleted."""
        sent = self._callbacks.heartbeat(record.task_token)
        if sent is CallbackResult.GONE:
            self._store.remove(record.connector_id, record.token_id)
            logger.info(
                "heartbeat for a token Step Functions no longer knows; deleted",
                extra={"connector_id": record.connector_id, "token_ref": record.ref},
            )
        return sent
