"""The stack's ``RunEndedRule``, locally: when an execution of the stage's state machine ends, invoke
``notify_run`` once with the event EventBridge would send it (infra/template.yaml: the rule's input
transformer wraps the "Step Functions Execution Status Change" event's ``detail`` with the artifacts
bucket and the channels).

As on AWS the run never waits for it and nothing it does changes the run: the invocation happens after
the execution has ended, through moto's Lambda (so ``notify_run``'s calls are checked against its
role, ``local/iam``), and an error is recorded and logged, never raised.

Two callers: a watcher thread (runs started by anyone, e.g. ``orchestrator start-run --local`` against
``python -m local serve``) and ``LocalRuntime.finish`` (so a test reads the answer as soon as the run is
over); each execution is notified once, whichever comes first.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime
from typing import Any

__all__ = ["RunNotifier", "status_change_event"]

LOG = logging.getLogger(__name__)
ENDED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def _millis(value: Any) -> int | None:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else None


def status_change_event(described: dict[str, Any], artifacts_bucket: str) -> dict[str, Any]:
    """What the rule's target receives for ``described`` (DescribeExecution's answer): the event's
    ``detail`` (AWS docs, "Step Functions events": dates in epoch milliseconds) wrapped as the rule's
    input transformer does. Locally there is no SNS topic nor Slack secret: the Slack URL is a setting."""
    detail = {
        "executionArn": described["executionArn"],
        "stateMachineArn": described["stateMachineArn"],
        "name": described.get("name"),
        "status": described["status"],
        "startDate": _millis(described.get("startDate")),
        "stopDate": _millis(described.get("stopDate")),
        "input": described.get("input"),
        "output": described.get("output"),
        "error": described.get("error"),
        "cause": described.get("cause"),
    }
    return {"detail": detail, "artifacts_bucket": artifacts_bucket, "topic_arn": "", "slack_secret": ""}


class RunNotifier:
    """``stepfunctions`` and ``lambda_client``: the runtime's own (operator) clients, as EventBridge is
    not one of the stage's principals; the function then runs as ``notify_run``."""

    def __init__(
        self,
        stepfunctions: Any,
        lambda_client: Any,
        *,
        function_arn: str,
        state_machine_arn: str,
        bucket: str,
    ) -> None:
        self._sfn = stepfunctions
        self._lambda = lambda_client
        self._function_arn = function_arn
        self._state_machine_arn = state_machine_arn
        self._bucket = bucket
        self._lock = threading.Lock()
        self._claimed: set[str] = set()
        self._done = threading.Condition(self._lock)
        self.answers: dict[str, dict[str, Any]] = {}  # execution ARN -> notify_run's answer or error

    def notify(self, execution_arn: str) -> dict[str, Any] | None:
        """Invoke ``notify_run`` for this ended execution, once; ``None`` while it is still running.
        A second caller waits for the first's answer and gets it."""
        described = self._sfn.describe_execution(executionArn=execution_arn)
        if described["status"] not in ENDED:
            return None
        with self._lock:
            if execution_arn in self._claimed:
                self._done.wait_for(lambda: execution_arn in self.answers, timeout=60)
                return self.answers.get(execution_arn)
            self._claimed.add(execution_arn)
        answer = self._invoke(status_change_event(described, self._bucket))
        with self._lock:
            self.answers[execution_arn] = answer
            self._done.notify_all()
        return answer

    def _invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        try:
            reply = self._lambda.invoke(FunctionName=self._function_arn, Payload=json.dumps(event).encode())
            body = json.loads(reply["Payload"].read() or b"null")
        except Exception as exc:  # as an async invoke: the run is over, nothing to raise to
            LOG.warning("notify_run could not be invoked: %s", exc)
            return {"error": type(exc).__name__, "detail": str(exc)}
        if reply.get("FunctionError"):
            detail = body.get("errorMessage") if isinstance(body, dict) else body
            LOG.warning("notify_run failed: %s", detail)
            return {"error": body.get("errorType") if isinstance(body, dict) else "Error", "detail": detail}
        return body if isinstance(body, dict) else {"answer": body}

    def watch(self, stop: threading.Event, interval: float = 0.5) -> None:
        """Until ``stop``: notify every execution of the state machine that has ended."""
        while not stop.wait(interval):
            try:
                pages = self._sfn.get_paginator("list_executions").paginate(
                    stateMachineArn=self._state_machine_arn
                )
                ended = [e["executionArn"] for p in pages for e in p["executions"] if e["status"] in ENDED]
            except Exception as exc:  # the watcher keeps going, as EventBridge does
                LOG.debug("listing executions failed: %s", exc)
                continue
            for arn in ended:
                with self._lock:
                    seen = arn in self._claimed
                if not seen:
                    self.notify(arn)
