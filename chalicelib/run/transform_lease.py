"""One transform at a time per stage and target: the dbt lease (issue 28, item 3).

Two runs of one stage (a schedule and a person, or a run started while the previous run's dbt
still builds) may share their syncs, but never their dbt step: dbt does not support two builds
modifying one relation at once (dbt-labs/dbt-core#5824, databricks/dbt-databricks#1011). Before
``RunDbt`` a run takes the **transform lease** of its target; after dbt it gives it back.

The lease is one item of the stage's token table (``chalicelib/tokens/records.py``)::

    connector_id = "__lease__", token_id = "transform#<target>"
    holder       the execution ARN that holds it
    taken_at     when it took it (ISO 8601 UTC, AWS clock)
    expires_at   epoch seconds, the table's TTL: clean-up only, never read as liveness

No heartbeat: a holder is alive exactly as long as its execution is ``RUNNING``
(``states:DescribeExecution``). A run that was stopped, timed out or failed without releasing
never blocks another: the next taker sees it ended and takes the lease over (a conditional write
on the holder it saw, so two takers never both win).

``take`` never sleeps: when the lease is held it answers how long to wait, and the state machine
waits for free (a ``Wait`` state), then asks again. The waiting is bounded: past the run's
deadline (``options.deadline``: the execution's start plus ``sync_timeout_seconds``), or past one
whole ``dbt_timeout_seconds`` from the first ask if that is later (a run whose syncs used most of
its budget can still wait out one dbt build), ``take`` raises ``TransformLeaseTimedOut`` naming
the holder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.platform.errors import InvalidInput, TransformLeaseError, TransformLeaseTimedOut
from chalicelib.platform.log import logger
from chalicelib.platform.timeutil import format_timestamp, parse_timestamp
from chalicelib.tokens.records import LEASE_PARTITION

if TYPE_CHECKING:  # the pinned stubs (requirements-dev.txt); not in the Lambda package
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_stepfunctions import SFNClient

__all__ = [
    "LEASE_PREFIX",
    "LeaseAnswer",
    "LeaseRequest",
    "TransformLeases",
    "answer_lease",
    "lease_key",
    "wait_seconds",
]

LEASE_PREFIX = "transform#"
# The longest Wait between two asks (seconds). Shorter at first: wait a quarter of the time waited so
# far, so a run is at most ~25% (or this many seconds) late to notice the lease is free.
MAX_WAIT_SECONDS = 30
# The lease item outlives its run by this much at most (TTL clean-up; liveness is DescribeExecution).
TTL_SECONDS = 7 * 86_400
CONDITION_FAILED = "ConditionalCheckFailedException"
GONE_EXECUTION = "ExecutionDoesNotExist"


def lease_key(target: str) -> dict[str, dict[str, str]]:
    """The lease item's key in the token table: ``__lease__`` / ``transform#<target>``."""
    return {"connector_id": {"S": LEASE_PARTITION}, "token_id": {"S": LEASE_PREFIX + target}}


def wait_seconds(waited_s: float) -> int:
    """Seconds to wait before asking again, having waited ``waited_s`` already: a quarter of that,
    at least 1, at most ``MAX_WAIT_SECONDS`` (ASL ``SecondsPath`` takes whole seconds)."""
    return int(min(MAX_WAIT_SECONDS, max(1, math.floor(waited_s / 4))))


@dataclass(frozen=True)
class LeaseAnswer:
    """What ``take`` answers, kept by the state machine at ``$.transform_lease`` and handed back on
    the next ask (``previous``).

    ``held``: this run holds the lease (run dbt). ``since``: when the run first asked (ISO 8601).
    ``waited_for``: the execution ARN of the last other run it waited for (None: it never waited).
    ``waited_s``: whole seconds from the first ask to now. ``wait_seconds``: how long to wait before
    asking again (0 once held). ``holder``: who holds the lease now (this run once held).
    """

    held: bool
    since: str
    waited_for: str | None
    waited_s: int
    wait_seconds: int
    holder: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "held": self.held,
            "since": self.since,
            "waited_for": self.waited_for,
            "waited_s": self.waited_s,
            "wait_seconds": self.wait_seconds,
            "holder": self.holder,
        }


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code") or "ClientError")
    return type(exc).__name__


class TransformLeases:
    """The transform lease of each target in the token table ``table``; the DynamoDB and Step
    Functions clients are injected. Every AWS failure other than a failed condition raises
    ``TransformLeaseError`` (transient: the state machine retries the step).

    AWS calls: ``dynamodb:PutItem``, ``dynamodb:GetItem``, ``dynamodb:DeleteItem`` on the token
    table; ``states:DescribeExecution`` on the holder's execution (one of this stage's runs).
    """

    def __init__(self, table_name: str, dynamodb: DynamoDBClient, stepfunctions: SFNClient) -> None:
        self._table = table_name
        self._dynamodb = dynamodb
        self._sfn = stepfunctions

    # -- take ------------------------------------------------------------------------------

    def take(
        self,
        *,
        target: str,
        execution_id: str,
        now: datetime,
        deadline: datetime | None,
        dbt_timeout_seconds: int,
        previous: dict[str, Any] | None = None,
    ) -> LeaseAnswer:
        """Take the lease of ``target`` for the execution ``execution_id``, or say how long to wait.

        ``previous``: this run's last answer (``$.transform_lease``), or None/``{}`` on the first ask.
        Raises ``TransformLeaseTimedOut`` (cause names the holder) when the next ask would come after
        the bound (module docstring), ``TransformLeaseError`` when DynamoDB or Step Functions fail.
        """
        previous = previous or {}
        since = parse_timestamp(previous.get("since")) or now
        waited_for = previous.get("waited_for")
        waited_s = max(0, int((now - since).total_seconds()))
        holder = self._try_take(target, execution_id, now)
        if holder is None:
            if waited_for:
                logger.info(
                    "transform lease taken after waiting",
                    extra={"target": target, "waited_for": waited_for, "waited_s": waited_s},
                )
            return LeaseAnswer(True, format_timestamp(since), waited_for, waited_s, 0, execution_id)
        wait = wait_seconds(waited_s)
        bound = since + timedelta(seconds=dbt_timeout_seconds)
        if deadline is not None and deadline > bound:
            bound = deadline
        if now + timedelta(seconds=wait) > bound:
            raise TransformLeaseTimedOut(
                f"dbt did not start: the transform lease of target {target} is held by run {holder}, "
                f"which is still RUNNING; this run waited {waited_s} s and may not wait past "
                f"{format_timestamp(bound)} (its deadline, or one dbt_timeout_seconds after it began "
                f"to wait). Check that run (orchestrator show), stop it if it is stuck, then start "
                f"this run again"
            )
        logger.info(
            "transform lease held by another run; waiting",
            extra={"target": target, "holder": holder, "waited_s": waited_s, "wait_s": wait},
        )
        return LeaseAnswer(False, format_timestamp(since), holder, waited_s, wait, holder)

    def _try_take(self, target: str, execution_id: str, now: datetime) -> str | None:
        """None if ``execution_id`` now holds the lease, else the live holder's execution ARN."""
        for _ in range(3):  # a holder may release or end between our reads: look again
            mine = {":me": {"S": execution_id}}
            if self._put(target, execution_id, now, "attribute_not_exists(token_id) OR holder = :me", mine):
                return None
            holder = self._holder(target)
            if holder is None:
                continue  # released meanwhile
            if self._running(holder):
                return holder
            # The holder ended without releasing (stopped, timed out, crashed): take it over, unless
            # someone else did first.
            if self._put(target, execution_id, now, "holder = :old", {":old": {"S": holder}}):
                logger.warning(
                    "transform lease taken over from a run that ended without releasing it",
                    extra={"target": target, "previous_holder": holder},
                )
                return None
        holder = self._holder(target)
        return holder or "an unknown run (the lease changed hands three times while this run asked)"

    def _put(
        self, target: str, execution_id: str, now: datetime, condition: str, values: dict[str, Any]
    ) -> bool:
        item = {
            **lease_key(target),
            "holder": {"S": execution_id},
            "taken_at": {"S": format_timestamp(now)},
            "expires_at": {"N": str(int(now.timestamp()) + TTL_SECONDS)},
        }
        try:
            self._dynamodb.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
            return True
        except ClientError as exc:
            if _code(exc) == CONDITION_FAILED:
                return False
            raise TransformLeaseError(f"cannot write the transform lease: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise TransformLeaseError(f"cannot write the transform lease: {_code(exc)}") from exc

    def _holder(self, target: str) -> str | None:
        try:
            item = self._dynamodb.get_item(TableName=self._table, Key=lease_key(target), ConsistentRead=True)
        except (ClientError, BotoCoreError) as exc:
            raise TransformLeaseError(f"cannot read the transform lease: {_code(exc)}") from exc
        found = item.get("Item") or {}
        return found.get("holder", {}).get("S") or None

    def _running(self, execution_arn: str) -> bool:
        """Whether the holder's execution is still RUNNING (an execution Step Functions no longer
        knows, past its 90-day retention, has ended)."""
        try:
            described = self._sfn.describe_execution(executionArn=execution_arn)
        except ClientError as exc:
            if _code(exc) == GONE_EXECUTION:
                return False
            raise TransformLeaseError(
                f"cannot tell whether run {execution_arn} (the transform lease's holder) still runs: "
                f"states:DescribeExecution answered {_code(exc)}"
            ) from exc
        except BotoCoreError as exc:
            raise TransformLeaseError(
                f"cannot tell whether run {execution_arn} still runs: {_code(exc)}"
            ) from exc
        return bool(described.get("status") == "RUNNING")

    # -- release ---------------------------------------------------------------------------

    def release(self, *, target: str, execution_id: str) -> bool:
        """Give the lease back if ``execution_id`` holds it; True if it did (False: it did not hold
        it, e.g. it was taken over, or the release is a retry). Raises ``TransformLeaseError``."""
        try:
            self._dynamodb.delete_item(
                TableName=self._table,
                Key=lease_key(target),
                ConditionExpression="holder = :me",
                ExpressionAttributeValues={":me": {"S": execution_id}},
            )
        except ClientError as exc:
            if _code(exc) == CONDITION_FAILED:
                return False
            raise TransformLeaseError(f"cannot release the transform lease: {_code(exc)}") from exc
        except BotoCoreError as exc:
            raise TransformLeaseError(f"cannot release the transform lease: {_code(exc)}") from exc
        logger.info("transform lease released", extra={"target": target})
        return True

    def holder(self, target: str) -> str | None:
        """Who holds the lease of ``target`` now (None: nobody)."""
        return self._holder(target)


@dataclass(frozen=True)
class LeaseRequest:
    """The ``transform_lease`` payload: ``{"action": "take" | "release", "target", "execution_id"}``,
    and for ``take`` ``"deadline"`` (the run's, ASL timestamp), ``"dbt_timeout_seconds"`` and
    ``"previous"`` (the last answer, ``$.transform_lease``). Raises ``InvalidInput``."""

    action: str
    target: str
    execution_id: str
    deadline: datetime | None = None
    dbt_timeout_seconds: int = 0
    previous: dict[str, Any] | None = None

    @classmethod
    def from_event(cls, event: Any) -> LeaseRequest:
        if not isinstance(event, dict) or event.get("action") not in ("take", "release"):
            raise InvalidInput(
                "transform_lease expects {'action': 'take' | 'release', 'target', 'execution_id'}"
            )
        target, execution_id = str(event.get("target") or ""), str(event.get("execution_id") or "")
        if not target or not execution_id:
            raise InvalidInput("transform_lease needs a 'target' and an 'execution_id'")
        if event["action"] == "release":
            return cls(action="release", target=target, execution_id=execution_id)
        previous = event.get("previous")
        return cls(
            action="take",
            target=target,
            execution_id=execution_id,
            deadline=parse_timestamp(event.get("deadline")),
            dbt_timeout_seconds=int(event.get("dbt_timeout_seconds") or 0),
            previous=previous if isinstance(previous, dict) else None,
        )


def answer_lease(leases: TransformLeases, request: LeaseRequest, *, now: datetime) -> dict[str, Any]:
    """``take``: ``LeaseAnswer.to_dict()``; ``release``: ``{"released": bool}``."""
    if request.action == "release":
        return {"released": leases.release(target=request.target, execution_id=request.execution_id)}
    return leases.take(
        target=request.target,
        execution_id=request.execution_id,
        now=now,
        deadline=request.deadline,
        dbt_timeout_seconds=request.dbt_timeout_seconds,
        previous=request.previous,
    ).to_dict()
