"""Helpers for the hardening tests: signed bodies, parked tokens, the route, fault injection.

Faults are injected at the client boundary: ``FaultyClient`` wraps a real (moto) boto3 client and
raises the ``ClientError``/``BotoCoreError`` AWS would raise on the calls a test chooses, and
``RecordingStepFunctions`` stands in for Step Functions where a test only needs to see what the
webhook asked for; it enforces the API's documented size limits like the real service.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError
from chalice.test import Client

from app import app
from chalicelib.tokens.records import TokenRecord
from chalicelib.webhook.signature import SIGNATURE_HEADER, sign
from tests.tokens import (
    WaitingTask,
    park,  # noqa: F401 - re-exported for the hardening tests
)

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
# What a webhook answer may take at most on this machine (moto in-process, 2 cores). API Gateway's own
# limit is 29 s and the api_handler's Lambda timeout is 10 s; Fivetran wants an answer within seconds.
ANSWER_BOUND_S = 5.0  # Fivetran waits about 10 s; 2 s flaked on a loaded 2-core CI run


def stamp(moment: datetime) -> str:
    """Fivetran's ``created`` format: milliseconds and ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def sync_end_payload(
    connector_id: str = "stripe_prod",
    status: str = "SUCCESSFUL",
    *,
    created: datetime | None = None,
    sync_id: str | None = None,
    **data: Any,
) -> dict[str, Any]:
    return {
        "event": "sync_end",
        "created": stamp(created or datetime.now(UTC)),
        "connector_type": "stripe",
        "connector_id": connector_id,
        "connector_name": connector_id,
        "sync_id": sync_id or str(uuid.uuid4()),
        "destination_group_id": "projected_sickle",
        "data": {"status": status, **data},
    }


def encode(payload: Any) -> bytes:
    """Compact JSON in UTF-8; lone surrogates (valid JSON escapes, not UTF-8) are sent escaped."""
    try:
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(payload, separators=(",", ":")).encode("ascii")


def sync_end_body(connector_id: str = "stripe_prod", status: str = "SUCCESSFUL", **kwargs: Any) -> bytes:
    return encode(sync_end_payload(connector_id, status, **kwargs))


def raw_item(table: str, record: TokenRecord) -> dict[str, Any] | None:
    """The token's item as DynamoDB holds it, lease attributes included."""
    return (
        boto3.client("dynamodb", region_name=REGION)
        .get_item(
            TableName=table,
            Key={"connector_id": {"S": record.connector_id}, "token_id": {"S": record.token_id}},
            ConsistentRead=True,
        )
        .get("Item")
    )


# -- the route ---------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: Any
    text: str
    elapsed_s: float


class Route:
    """``POST /webhooks/fivetran`` through the Chalice test client (stage ``dev``: no endpoint override)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.client = Client(app, stage_name="dev", project_dir=str(ROOT))

    def post(self, body: bytes, headers: dict[str, str] | None = None) -> Answer:
        started = time.perf_counter()
        response = self.client.http.post(
            "/webhooks/fivetran",
            headers={"Content-Type": "application/json"} if headers is None else headers,
            body=body,
        )
        elapsed = time.perf_counter() - started
        text = (
            response.body.decode("utf-8", "replace")
            if isinstance(response.body, bytes)
            else str(response.body)
        )
        assert "Traceback" not in text and 'File "' not in text, text  # never a stack trace to the caller
        return Answer(response.status_code, response.json_body, text, elapsed)

    def deliver(self, body: bytes, *, secret: str | None = None) -> Answer:
        return self.post(
            body,
            {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret or self.secret)},
        )


# -- Step Functions ------------------------------------------------------------------------------------

# SendTaskSuccess / SendTaskFailure limits (Step Functions API reference).
MAX_TOKEN = 1024
MAX_OUTPUT = 262_144
MAX_ERROR = 256
MAX_CAUSE = 32_768


def client_error(code: str, operation: str, status: int = 400, message: str = "injected") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
        operation,
    )


@dataclass
class RecordingStepFunctions:
    """Accepts every callback like Step Functions would, and records it; enforces the API's limits."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _record(self, method: str, operation: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls.append((method, kwargs))
        if not 1 <= len(kwargs.get("taskToken", "")) <= MAX_TOKEN:
            raise client_error("ValidationException", operation, message="taskToken length")
        if len(kwargs.get("output", "").encode("utf-8", "surrogatepass")) > MAX_OUTPUT:
            raise client_error("ValidationException", operation, message="output longer than 262144")
        if len(kwargs.get("error", "")) > MAX_ERROR or len(kwargs.get("cause", "")) > MAX_CAUSE:
            raise client_error("ValidationException", operation, message="error or cause too long")
        if "output" in kwargs:
            json.loads(kwargs["output"])  # InvalidOutput otherwise
        return {}

    def send_task_success(self, **kwargs: Any) -> dict[str, Any]:
        return self._record("send_task_success", "SendTaskSuccess", kwargs)

    def send_task_failure(self, **kwargs: Any) -> dict[str, Any]:
        return self._record("send_task_failure", "SendTaskFailure", kwargs)

    def send_task_heartbeat(self, **kwargs: Any) -> dict[str, Any]:
        return self._record("send_task_heartbeat", "SendTaskHeartbeat", kwargs)

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()


class FaultyClient:
    """A boto3 client whose chosen operations fail; every other call goes to the real (moto) client.

    ``fail(method, code, times=n, after=k)``: the next ``k`` calls of ``method`` pass, the ``n`` after
    them raise the error AWS would raise once boto3's own retries are spent.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._faults: dict[str, list[Callable[[], Exception] | None]] = {}
        self.failed: list[str] = []

    def fail(
        self, method: str, code: str, *, times: int = 1, after: int = 0, status: int = 400
    ) -> FaultyClient:
        operation = "".join(part.title() for part in method.split("_"))
        return self._schedule(method, lambda: client_error(code, operation, status), times, after)

    def fail_with(self, method: str, error: Exception, *, times: int = 1, after: int = 0) -> FaultyClient:
        return self._schedule(method, lambda: error, times, after)

    def _schedule(self, method: str, error: Callable[[], Exception], times: int, after: int) -> FaultyClient:
        self._faults.setdefault(method, []).extend([None] * after + [error] * times)
        return self

    def heal(self) -> None:
        self._faults.clear()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        if not callable(target) or name.startswith("_"):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            pending = self._faults.get(name)
            fault = pending.pop(0) if pending else None
            if fault is not None:
                self.failed.append(name)
                raise fault()
            return target(*args, **kwargs)

        return call


class KeyLimitedDynamoDB:
    """moto's DynamoDB client with DynamoDB's key size limits, which moto does not check on reads.

    DynamoDB refuses a partition key over 2048 bytes (UTF-8) and a sort key over 1024 bytes with a
    ``ValidationException`` ("Size of hashkey has exceeded the maximum size limit of2048 bytes"), on
    Query and the key-based calls alike.
    """

    MAX_PARTITION_KEY = 2048
    MAX_SORT_KEY = 1024

    def __init__(self, client: Any) -> None:
        self._client = client

    @staticmethod
    def _size(value: dict[str, str] | None) -> int:
        return len(value.get("S", "").encode("utf-8", "surrogatepass")) if value else 0

    def _check(self, operation: str, kwargs: dict[str, Any]) -> None:
        key = kwargs.get("Key") or kwargs.get("Item") or {}
        partition = key.get("connector_id") or kwargs.get("ExpressionAttributeValues", {}).get(":c")
        if self._size(partition) > self.MAX_PARTITION_KEY:
            raise client_error(
                "ValidationException",
                operation,
                message="One or more parameter values were invalid: Size of hashkey has exceeded "
                "the maximum size limit of2048 bytes",
            )
        if self._size(key.get("token_id")) > self.MAX_SORT_KEY:
            raise client_error("ValidationException", operation, message="range key too large")

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._client, name)
        operations = {
            "query": "Query",
            "get_item": "GetItem",
            "put_item": "PutItem",
            "update_item": "UpdateItem",
            "delete_item": "DeleteItem",
        }
        if name not in operations:
            return target

        def call(**kwargs: Any) -> Any:
            self._check(operations[name], kwargs)
            return target(**kwargs)

        return call


def outcomes(waiting: WaitingTask, arn: str) -> list[str]:
    """Every outcome a waiting task was handed (its TaskSucceeded / TaskFailed events)."""
    return [t for t in waiting.event_types(arn) if t in ("TaskSucceeded", "TaskFailed")]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]
