"""Completing parked tokens with an outcome: shared by the webhook and the reconcile job.

For a connection's outcome that ended at ``ended_at``, every token parked for that
connection whose ``requested_at`` precedes ``ended_at`` is claimed, handed its outcome,
then deleted. Tokens parked after the sync ended wait for their own sync. Two runs
syncing one connection each get their outcome; a duplicate or replayed delivery finds
nothing left to complete.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from chalicelib.callbacks import CallbackError, CallbackResult, StepFunctionsCallbacks
from chalicelib.log import logger
from chalicelib.outcomes import SYNC_FAILED_ERROR, SyncOutcome
from chalicelib.token_store import TokenRecord, TokenStore

__all__ = ["Resolution", "Resolver"]


@dataclass
class Resolution:
    """What one outcome did to the tokens of its connection."""

    completed: int = 0
    already_resolved: int = 0
    newer_than_event: int = 0
    busy: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def incomplete(self) -> bool:
        """True when a token could not be completed for a transient reason (retry later)."""
        return bool(self.errors)

    def to_dict(self) -> dict[str, object]:
        return {
            "completed": self.completed,
            "already_resolved": self.already_resolved,
            "newer_than_event": self.newer_than_event,
            "busy": self.busy,
            "errors": len(self.errors),
        }


class Resolver:
    def __init__(self, store: TokenStore, callbacks: StepFunctionsCallbacks) -> None:
        self._store = store
        self._callbacks = callbacks

    def resolve_connection(self, outcome: SyncOutcome) -> Resolution:
        """Complete every token of ``outcome.connector_id`` requested before it ended."""
        result = Resolution()
        for record in self._store.parked_for(outcome.connector_id):
            if record.requested_at >= outcome.finished_at:
                result.newer_than_event += 1
                continue
            self.resolve_token(record, outcome, result)
        return result

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
                sent = self._callbacks.fail(record.task_token, SYNC_FAILED_ERROR, outcome.failure_cause())
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

    def heartbeat(self, record: TokenRecord) -> CallbackResult:
        """Tell Step Functions a sync is still running; a gone token is deleted."""
        sent = self._callbacks.heartbeat(record.task_token)
        if sent is CallbackResult.GONE:
            self._store.remove(record.connector_id, record.token_id)
            logger.info(
                "heartbeat for a token Step Functions no longer knows; deleted",
                extra={"connector_id": record.connector_id, "token_ref": record.ref},
            )
        return sent
