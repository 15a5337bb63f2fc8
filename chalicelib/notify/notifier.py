"""``notify_run``: when a run ends, read what it left and send its message to the stage's channels.

Driven by Step Functions' "Execution Status Change" events (EventBridge; AWS docs, "Automating Step
Functions event delivery with EventBridge"): the stack's rule on the stage's state machine sends
``SUCCEEDED``, ``FAILED``, ``TIMED_OUT`` and ``ABORTED`` to the function, its input transformer wrapping
the event's ``detail`` with what only the stack knows::

    {"detail": {<the event's detail>}, "artifacts_bucket": "<bucket>", "topic_arn": "<arn or empty>",
     "slack_secret": "<secret id or empty>"}

A bare EventBridge event (``{"detail-type", "source", "detail"}``) works too; the channels then come
from the function's settings. The run is never waited on nor changed: EventBridge invokes the function
asynchronously after the execution has ended, and nothing here raises for a run's sake: a missing file
is a line less in the message, a failed delivery is logged (``notification not delivered``) with the
channel and the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.notify.delivery import Delivery
from chalicelib.notify.message import ENDED_STATUSES, RunMessage, build_message, worth_sending
from chalicelib.platform.errors import InvalidInput, NotificationUndelivered, RunFilesError
from chalicelib.platform.log import logger
from chalicelib.run.run_files import RunFiles, S3Location, read_json

if TYPE_CHECKING:  # the pinned stubs (requirements-dev.txt); not in the Lambda package
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_stepfunctions import SFNClient

__all__ = ["Channel", "RunEnded", "notify_run_end", "send_run_end"]

APP_PREFIX = "fivetran-orchestrator-"


class Channel(Protocol):
    channel: str

    def send(self, message: RunMessage) -> Delivery: ...


@dataclass(frozen=True)
class RunEnded:
    """The event, read: the execution's ``detail``, the artifacts bucket, and the channels the stack names."""

    detail: dict[str, Any]
    artifacts_bucket: str
    topic_arn: str
    slack_secret: str

    @property
    def status(self) -> str:
        return str(self.detail.get("status") or "")

    @property
    def execution_arn(self) -> str:
        return str(self.detail.get("executionArn") or "")

    @property
    def stage(self) -> str:
        """From the state machine's name, ``<app>-<stage>`` (infra/template.yaml names it so)."""
        name = str(self.detail.get("stateMachineArn") or "").rsplit(":", 1)[-1]
        return name.removeprefix(APP_PREFIX) if name.startswith(APP_PREFIX) else name or "unknown"

    @classmethod
    def from_event(cls, event: Any) -> RunEnded:
        if not isinstance(event, dict) or not isinstance(event.get("detail"), dict):
            raise InvalidInput("notify_run expects an EventBridge event with a 'detail' object")
        detail = event["detail"]
        if not detail.get("executionArn"):
            raise InvalidInput("notify_run: the event's detail names no executionArn")
        return cls(
            detail=detail,
            artifacts_bucket=str(event.get("artifacts_bucket") or ""),
            topic_arn=str(event.get("topic_arn") or ""),
            slack_secret=str(event.get("slack_secret") or ""),
        )


def _describe(stepfunctions: SFNClient | None, ended: RunEnded) -> dict[str, Any]:
    """DescribeExecution's answer (full output, error and cause), else the event's own detail."""
    if stepfunctions is None:
        return dict(ended.detail)
    try:
        described = stepfunctions.describe_execution(executionArn=ended.execution_arn)
    except (ClientError, BotoCoreError) as exc:
        logger.warning(
            "notifier: DescribeExecution failed; the event's detail is used", extra={"error": str(exc)}
        )
        return dict(ended.detail)
    return {**ended.detail, **{k: v for k, v in described.items() if k != "ResponseMetadata"}}


def _read(what: str, read: Any) -> Any:
    try:
        return read()
    except RunFilesError as exc:  # never written (the run ended before), or unreadable: a line less
        logger.info("notifier: a run file is not there", extra={"file": what, "error": str(exc)})
        return None


def notify_run_end(
    ended: RunEnded, *, stepfunctions: SFNClient | None, s3: S3Client | None, channels: Sequence[Channel]
) -> dict[str, Any]:
    """Send ``ended``'s message to every channel. Returns ``{"run", "status", "sent": bool, "reason"?,
    "deliveries": [Delivery.to_dict()]}``; never raises for a failed read or delivery."""
    run = ended.execution_arn.rsplit(":", 1)[-1]
    answer: dict[str, Any] = {"run": run, "status": ended.status, "sent": False, "deliveries": []}
    if ended.status not in ENDED_STATUSES:
        return {**answer, "reason": f"status {ended.status or 'unknown'} is not an end"}
    if not channels:
        return {**answer, "reason": "no channel configured (Slack webhook secret or SNS topic)"}
    execution = _describe(stepfunctions, ended)
    outcomes = dbt_summary = None
    if ended.artifacts_bucket and s3 is not None:
        files = RunFiles(s3, ended.artifacts_bucket, run)
        outcomes = _read("outcomes.json", lambda: files.get_json("outcomes.json"))
        summary = S3Location(ended.artifacts_bucket, f"dbt-runs/{run}/summary.json")
        dbt_summary = _read("dbt summary.json", lambda: read_json(s3, summary))
    if not worth_sending(ended.status, outcomes, execution):
        return {**answer, "reason": "the run succeeded and every connection with it"}
    message = build_message(execution, outcomes=outcomes, dbt_summary=dbt_summary, stage=ended.stage)
    deliveries = [channel.send(message) for channel in channels]
    for delivery in deliveries:
        if delivery.sent:
            logger.info("notification delivered", extra={"run": run, **delivery.to_dict()})
        else:
            logger.error("notification not delivered", extra={"run": run, **delivery.to_dict()})
    return {
        **answer,
        "sent": any(d.sent for d in deliveries),
        "deliveries": [d.to_dict() for d in deliveries],
    }


def send_run_end(
    ended: RunEnded, *, stepfunctions: SFNClient | None, s3: S3Client | None, channels: Sequence[Channel]
) -> dict[str, Any]:
    """``notify_run_end``, and raises ``NotificationUndelivered`` when there was a channel to send to
    and none took the message (Lambda then retries the asynchronous invocation)."""
    answer = notify_run_end(ended, stepfunctions=stepfunctions, s3=s3, channels=channels)
    if answer["deliveries"] and not answer["sent"]:
        raise NotificationUndelivered(
            f"run {answer['run']}: no channel took its message: "
            + "; ".join(f"{d['channel']}: {d['detail']}" for d in answer["deliveries"])
        )
    return answer
