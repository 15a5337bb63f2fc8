"""Test doubles at the project's boundaries (the Fivetran client, the dbt ECS task)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.fivetran.client import Connection, TriggerResult
from chalicelib.fivetran.syncs import SyncRecord
from chalicelib.platform.errors import FivetranNotFound, FivetranRateLimited
from chalicelib.platform.timeutil import utcnow

DEFAULT_GROUP = "group"


def connection(
    connection_id: str,
    *,
    service: str = "stripe",
    schema: str | None = None,
    paused: bool = False,
    setup_state: str = "connected",
    sync_state: str = "scheduled",
    schedule_type: str = "auto",
    succeeded_at: datetime | None = None,
    failed_at: datetime | None = None,
    rescheduled_for: datetime | None = None,
) -> Connection:
    return Connection(
        id=connection_id,
        service=service,
        schema=schema or connection_id,
        paused=paused,
        schedule_type=schedule_type,
        setup_state=setup_state,
        sync_state=sync_state,
        succeeded_at=succeeded_at,
        failed_at=failed_at,
        rescheduled_for=rescheduled_for,
        group_id=DEFAULT_GROUP,
    )


STAGE_WEBHOOK_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/api/webhooks/fivetran"
HEALTHY_WEBHOOK: dict[str, Any] = {
    "id": "webhook_stage",
    "type": "group",
    "group_id": "group",
    "url": STAGE_WEBHOOK_URL,
    "events": ["sync_start", "sync_end", "pause_connector", "delete_connector", "connection_failure"],
    "active": True,
}


class FakeFivetran:
    """Stands in for ``FivetranClient``: a dict of connections, and a record of the calls.

    It answers as the real client does (``tests/contract/test_fivetran_contract.py`` runs the same
    cases against both): a trigger of a connection in ``running`` joins its sync (HTTP 409:
    ``TriggerResult.joined``), one in ``rate_limited`` raises ``FivetranRateLimited`` with that
    ``retry_after`` (HTTP 429), an unknown connection raises ``FivetranNotFound`` (HTTP 404).
    """

    def __init__(self, *connections: Connection) -> None:
        self.connections = {c.id: c for c in connections}
        self.triggered: list[str] = []
        self.trigger_errors: dict[str, Exception] = {}
        self.running: set[str] = set()  # connections with a sync running: a trigger joins it (409)
        self.rate_limited: dict[str, float] = {}  # connection -> Retry-After: a trigger is refused (429)
        self.history: dict[str, list[SyncRecord]] = {}
        self.history_reads: list[str] = []
        self.group_reads: list[str] = []
        self.deadline: float | None = None
        # GET /v1/webhooks: the stage's webhook, registered and active (the watchdog's healthy case).
        self.webhooks: list[dict[str, Any]] = [dict(HEALTHY_WEBHOOK)]
        self.webhook_reads = 0
        self._lock = threading.Lock()

    def within(self, seconds: float | None) -> FakeFivetran:
        """The same fake (it never waits): ``deadline`` notes the last time budget asked for."""
        self.deadline = seconds
        return self

    def sync_history(
        self, connection_id: str, start: datetime, end: datetime, *, timeout: float | None = None
    ) -> list[SyncRecord]:
        """What ``history`` holds for the connection (nothing by default: the webhooks then decide)."""
        self.history_reads.append(connection_id)
        return list(self.history.get(connection_id, []))

    def list_group_connections(self, group_id: str, *, timeout: float | None = None) -> list[Connection]:
        """The group's connections (those made by ``connection()``, group ``group``, and those without a
        group are in any group asked for; one moved to another group only in that one), as Fivetran
        lists them: a sync that ``history`` shows ended moves ``succeeded_at`` or ``failed_at`` to its
        end, one that ended ``RESCHEDULED`` leaves the connection ``rescheduled`` (fivetran.md §4)."""
        self.group_reads.append(group_id)
        return [
            self._as_listed(c)
            for c in self.connections.values()
            if c.group_id in (None, DEFAULT_GROUP, group_id)
        ]

    def _as_listed(self, conn: Connection) -> Connection:
        from dataclasses import replace

        ended = [s for s in self.history.get(conn.id, []) if s.ended and s.ended_at is not None]
        for sync in sorted(ended, key=lambda s: s.ended_at or conn.succeeded_at or utcnow()):
            at = sync.ended_at
            if sync.status == "SUCCESSFUL" and (conn.succeeded_at is None or at > conn.succeeded_at):
                conn = replace(conn, succeeded_at=at, sync_state="scheduled")
            elif sync.status == "RESCHEDULED":
                conn = replace(conn, sync_state="rescheduled")
            elif (sync.status or "").startswith("FAILURE") and (
                conn.failed_at is None or at > conn.failed_at
            ):
                conn = replace(conn, failed_at=at, sync_state="scheduled")
        return conn

    def list_webhooks(self) -> list[dict[str, Any]]:
        self.webhook_reads += 1
        return [dict(hook) for hook in self.webhooks]

    def get_connection(self, connection_id: str, *, timeout: float | None = None) -> Connection:
        if connection_id not in self.connections:
            raise FivetranNotFound(f"no connection {connection_id}", status=404)
        return self.connections[connection_id]

    def trigger_sync(self, connection_id: str) -> TriggerResult:
        with self._lock:
            self.triggered.append(connection_id)
        if connection_id in self.trigger_errors:
            raise self.trigger_errors[connection_id]
        if connection_id not in self.connections:
            raise FivetranNotFound(f"no connection {connection_id}", status=404)
        if connection_id in self.rate_limited:
            wait = self.rate_limited[connection_id]
            raise FivetranRateLimited(f"rate limited; retry after {wait} s", retry_after=wait, status=429)
        accepted = utcnow().replace(microsecond=0)  # an HTTP Date header has whole seconds
        if connection_id in self.running:
            return TriggerResult("joined the sync already in progress", True, accepted)
        return TriggerResult("Sync has been successfully triggered", False, accepted)

    def update(self, connection_id: str, **changes: Any) -> None:
        from dataclasses import replace

        self.connections[connection_id] = replace(self.connections[connection_id], **changes)


@dataclass
class FinishedTask:
    """A task handle that says "running" for its first ``running_polls`` polls, then exits.

    Like a real process, it is still running when the state machine first describes it, so the
    answer that first says STOPPED is the one that must carry the exit code.
    """

    exit_code: int
    running_polls: int = 0
    stopped_reason: str | None = None  # set: the container never started (no exit code)

    def poll(self) -> int | None:
        if self.running_polls > 0:
            self.running_polls -= 1
            return None
        return self.exit_code


@dataclass
class FakeDbtRunner:
    """The ECS task runner for functional tests: records each task's environment, exits with ``exit_code``."""

    exit_code: int = 0
    running_polls: int = 2
    summary: dict[str, Any] | None = None  # written to the artifacts bucket as the entrypoint does
    never_start: int = 0  # the first N tasks stop before their container starts
    runs: list[dict[str, str]] = field(default_factory=list)

    def __call__(self, task: Any, environment: dict[str, str]) -> FinishedTask:
        self.runs.append(environment)
        if len(self.runs) <= self.never_start:
            reason = "Timeout waiting for network interface provisioning to complete."
            return FinishedTask(self.exit_code, self.running_polls, stopped_reason=reason)
        if self.summary is not None and environment.get("ARTIFACTS_BUCKET"):
            import json

            import boto3

            key = f"{environment.get('ARTIFACTS_PREFIX', 'dbt-runs')}/{environment['RUN_ID']}/summary.json"
            boto3.client("s3", region_name="us-east-1").put_object(
                Bucket=environment["ARTIFACTS_BUCKET"], Key=key, Body=json.dumps(self.summary).encode()
            )
        return FinishedTask(self.exit_code, self.running_polls)
