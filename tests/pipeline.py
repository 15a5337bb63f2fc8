"""A pipeline under test: the real state machine in moto, the real handlers, a fake Fivetran.

Webhooks go through the real route (Chalice test client), so a test reads like the run:
start it, wait for the tokens, deliver ``sync_end`` events, read the history.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from chalice.test import Client

from app import app
from chalicelib.platform.config import Settings
from chalicelib.tokens.store import TokenStore
from chalicelib.webhook.signature import SIGNATURE_HEADER, sign
from chalicelib.wiring import Dependencies, set_dependencies
from local import moto_patches
from local.provision import Stack, provision
from tests.conftest import PATIENCE_S
from tests.fakes import FakeDbtRunner, FakeFivetran

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"

SECRET = "pipeline-webhook-secret"


def sync_end_body(
    connector_id: str,
    status: str = "SUCCESSFUL",
    *,
    created: datetime | None = None,
    sync_id: str | None = None,
    event: str = "sync_end",
    **data: Any,
) -> bytes:
    created = created or datetime.now(UTC)
    payload = {
        "event": event,
        "created": created.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "connector_type": "stripe",
        "connector_id": connector_id,
        "connector_name": connector_id,
        "sync_id": sync_id or f"sync-{connector_id}-{time.monotonic_ns()}",
        "destination_group_id": "group",
        "data": {"status": status, **data} if event == "sync_end" else {},
    }
    return json.dumps(payload, separators=(",", ":")).encode()


class Pipeline:
    def __init__(
        self,
        fivetran: FakeFivetran,
        *,
        tunables: dict[str, Any] | None = None,
        dbt_exit_code: int = 0,
        dbt: FakeDbtRunner | None = None,
        triggers_per_minute: int | None = None,
    ):
        """``triggers_per_minute``: the trigger budget (default the product's; 0: none, for a test of
        hundreds of triggers whose subject is not the budget's pace)."""
        clients = {
            s: boto3.client(s, region_name=REGION)
            for s in ("dynamodb", "lambda", "iam", "ecs", "ec2", "stepfunctions", "s3")
        }
        self.sfn = clients["stepfunctions"]
        self.s3 = clients["s3"]
        self.stack: Stack = provision(clients, stage="test", tunables=tunables)
        self.settings = Settings(
            token_table=self.stack.table_name,
            fivetran_api_key="key",
            fivetran_api_secret="secret",
            webhook_secret=SECRET,
            reconcile_after_seconds=0,
            **({} if triggers_per_minute is None else {"triggers_per_minute": triggers_per_minute}),
        )
        self.deps = Dependencies.from_clients(
            self.settings,
            dynamodb=clients["dynamodb"],
            stepfunctions=self.sfn,
            fivetran_factory=lambda c: fivetran,
            s3=clients["s3"],
        )
        set_dependencies(self.deps)
        self.store: TokenStore = self.deps.store
        self.fivetran = fivetran
        self.dbt = dbt or FakeDbtRunner(exit_code=dbt_exit_code)
        moto_patches.set_ecs_task_runner(self.dbt)
        # "dev": its config sets no AWS_ENDPOINT_URL (the test client overlays stage env vars process-wide).
        self.client = Client(app, stage_name="dev", project_dir=str(ROOT))

    def start(self, run_input: dict[str, Any]) -> str:
        self.last_arn = self.sfn.start_execution(
            stateMachineArn=self.stack.state_machine_arn, input=json.dumps(run_input)
        )["executionArn"]
        return self.last_arn

    def wait_for_tokens(self, count: int, timeout: float = PATIENCE_S, *, armed: bool = True) -> None:
        """Wait until ``count`` tokens are parked and armed: their triggers answered (``start_sync``
        parks first, waits for the connection's trigger slot, triggers, then arms; an event that
        arrives in between is kept and settled at arming, so what its webhook answer counts depends
        on timing). ``armed=False``: parked is enough."""
        deadline = time.monotonic() + timeout
        while (found := self._parked(armed)) < count:
            described = self.sfn.describe_execution(executionArn=self.last_arn)
            if described["status"] != "RUNNING":
                raise AssertionError(f"run ended while waiting for tokens: {described.get('cause')}")
            if time.monotonic() > deadline:
                kind = "armed" if armed else "parked"
                raise AssertionError(f"expected {count} {kind} tokens, found {found}")
            time.sleep(0.05)

    def _parked(self, armed: bool) -> int:
        return sum(1 for record in self.store.all_parked() if not armed or record.anchor is not None)

    def deliver(self, body: bytes, *, signature: str | None = None) -> Any:
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature or sign(body, SECRET)}
        return self.client.http.post("/webhooks/fivetran", headers=headers, body=body)

    def finish(self, connector_id: str, status: str = "SUCCESSFUL", **data: Any) -> Any:
        """Fivetran's two events for the sync the trigger started: ``sync_start``, then ``sync_end``."""
        sync_id = f"sync-{connector_id}-{time.monotonic_ns()}"
        started = self.deliver(sync_end_body(connector_id, event="sync_start", sync_id=sync_id))
        assert started.status_code == 200, started.body
        response = self.deliver(sync_end_body(connector_id, status, sync_id=sync_id, **data))
        assert response.status_code == 200, response.body
        return response

    def wait_for_end(self, arn: str, timeout: float = PATIENCE_S) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            described = self.sfn.describe_execution(executionArn=arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                raise AssertionError(f"execution still RUNNING after {timeout} s: {self.states_entered(arn)}")
            time.sleep(0.05)

    def history(self, arn: str) -> list[dict[str, Any]]:
        events, kwargs = [], {"executionArn": arn}
        while True:
            page = self.sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def read_s3(self, uri: str) -> Any:
        """The JSON object at ``s3://bucket/key`` (the run files the state machine passes around)."""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return json.loads(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    def excluded_sources(self, run: dict[str, str]) -> list[str]:
        """The sources a dbt task was told to exclude: the file its DBT_EXCLUDE_SOURCES_URI names."""
        uri = run.get("DBT_EXCLUDE_SOURCES_URI", "")
        return list(self.read_s3(uri)) if uri else []

    def run_outcomes(self, described: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Every connection's outcome from the run's ``outcomes.json`` (the output names it)."""
        where = json.loads(described["output"])["outcomes"]
        collected = self.read_s3(f"s3://{where['bucket']}/{where['key']}")
        return {c["connector_id"]: c for c in collected["connections"]}

    def outcomes_of(self, arn: str) -> dict[str, dict[str, Any]]:
        """Every connection's outcome of a run, failed runs included: the ``outcomes.json`` that
        ``CollectOutcomes`` names in the history (each sync's task runs in a child execution)."""
        for event in self.history(arn):
            details = event.get("stateExitedEventDetails") or {}
            if details.get("name") == "CollectOutcomes":
                where = json.loads(details["output"])["result"]["collected"]["outcomes"]
                collected = self.read_s3(f"s3://{where['bucket']}/{where['key']}")
                return {c["connector_id"]: c for c in collected["connections"]}
        raise AssertionError(f"{arn} never reached CollectOutcomes")

    def states_entered(self, arn: str) -> list[str]:
        return [
            e["stateEnteredEventDetails"]["name"]
            for e in self.history(arn)
            if "stateEnteredEventDetails" in e
        ]
