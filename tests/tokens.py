"""Real task tokens for tests: a one-state ``waitForTaskToken`` machine executed by moto.

The token is handed out through an SQS message, so SendTaskSuccess/Failure/Heartbeat are the
real calls and the execution's output and history show what was sent.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from chalicelib.tokens.records import TokenRecord
from chalicelib.tokens.store import TokenStore
from tests.conftest import PATIENCE_S, REGION


class WaitingTask:
    """A one-state machine whose task waits for its token; the token arrives in an SQS message."""

    def __init__(self) -> None:
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        suffix = uuid.uuid4().hex[:8]
        self.queue = self.sqs.create_queue(QueueName=f"tokens-{suffix}")["QueueUrl"]
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName=f"waiting-task-{suffix}", AssumeRolePolicyDocument="{}"
        )["Role"]["Arn"]
        definition = {
            "StartAt": "WaitForSync",
            "States": {
                "WaitForSync": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {"QueueUrl": self.queue, "MessageBody": {"token.$": "$$.Task.Token"}},
                    "TimeoutSeconds": 300,
                    "HeartbeatSeconds": 120,
                    "End": True,
                }
            },
        }
        self.machine = self.sfn.create_state_machine(
            name=f"waiting-task-{suffix}", definition=json.dumps(definition), roleArn=role
        )["stateMachineArn"]

    def start(self) -> tuple[str, str]:
        """Start an execution; return its ARN and the task token it waits on."""
        arn = self.sfn.start_execution(stateMachineArn=self.machine, input="{}")["executionArn"]
        deadline = time.monotonic() + PATIENCE_S
        while time.monotonic() < deadline:
            messages = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=1).get("Messages")
            if messages:
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=messages[0]["ReceiptHandle"])
                return arn, json.loads(messages[0]["Body"])["token"]
            time.sleep(0.02)
        raise AssertionError("the task token never arrived")

    def status(self, arn: str) -> str:
        return self.sfn.describe_execution(executionArn=arn)["status"]

    def wait_for_end(self, arn: str, timeout: float = PATIENCE_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = self.sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.02)
        raise AssertionError(f"execution {arn} still RUNNING after {timeout} s")

    def event_types(self, arn: str) -> list[str]:
        return [e["type"] for e in self.sfn.get_execution_history(executionArn=arn)["events"]]


def park(
    store: TokenStore,
    token: str,
    connector_id: str = "stripe_prod",
    *,
    ago: float = 60,
    at: datetime | None = None,
    armed: bool = True,
    joined: bool = False,
    group_id: str | None = None,
) -> TokenRecord:
    """Park ``token`` for ``connector_id`` as if requested ``ago`` seconds earlier (or ``at``).

    ``armed``: as ``start_sync`` leaves it once Fivetran accepted the trigger, with the
    acceptance (Fivetran's clock) at the request time in whole seconds, as an HTTP ``Date``
    header gives it.
    """
    requested = at or datetime.now(UTC) - timedelta(seconds=ago)
    record = store.new_record(
        connector_id=connector_id,
        task_token=token,
        execution_id="arn:aws:states:us-east-1:123456789012:execution:waiting-task:run",
        requested_at=requested,
        expires_at=int((requested + timedelta(days=1)).timestamp()),
        group_id=group_id,
    )
    stored, _ = store.park(record)
    if armed:
        return store.arm(stored, accepted_at=requested.replace(microsecond=0), joined=joined) or stored
    return stored
