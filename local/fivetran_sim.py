"""A local stand-in for the Fivetran REST API that plays a scenario and sends signed webhooks.

It serves the subset of the API the app calls (group connections with cursor pagination,
connection detail, sync trigger, sync history) plus the webhook endpoints the operator CLI
calls, with HTTP Basic auth. Every sync (triggered, resumed after a reschedule, already running
when the run began, or started by Fivetran's own schedule) gets its own ``sync_id``, a
``sync_start`` webhook when it starts and a ``sync_end`` when it ends, signed with the webhook
secret and redelivered on Fivetran's (compressed) schedule while the receiver fails. A successful
sync writes rows into the connection's schema in the DuckDB file (so dbt has real data). Every
timestamp the simulator writes, and every answer's ``Date`` header, is on Fivetran's clock
(``fivetran.clock_offset_s``). It counts API calls by endpoint and webhook delivery attempts by
HTTP status, for the run report. The scenario keys are documented in ``local/README.md``.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import heapq
import itertools
import json
import logging
import math
import queue
import re
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests

from chalicelib.webhook.signature import SIGNATURE_HEADER, sign
from local import warehouse
from local.json_http import JsonRequestHandler
from local.scenario import ConnectorSpec, Scenario, ScheduledSyncSpec

__all__ = ["ApiError", "FivetranSimulator", "error_body"]

STATUS_BY_OUTCOME = {
    "success": "SUCCESSFUL",
    "failure": "FAILURE",
    "failure_with_task": "FAILURE_WITH_TASK",
    "canceled": "CANCELED",
    "rescheduled": "RESCHEDULED",
}
ERROR_CODES = {
    400: "BadRequest",
    401: "AuthFailed",
    403: "AccessDenied",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}
# Fivetran redelivers a failed webhook after the previous wait + 5 min, for up to 24 h; here one
# minute is 0.1 s, so the retries come 0.5 s, 1.0 s, 1.5 s, ... after the previous attempt.
REDELIVERY_STEP_S = 0.5
MAX_DELIVERY_ATTEMPTS = 15
BAD_SIGNATURE_ATTEMPTS = 2  # a wrongly signed delivery keeps failing: stop early to keep runs short
ALREADY_SYNCING_SINCE_S = 60.0  # an already_syncing sync started this long before the run zero
SYNC_HISTORY_MAX_WINDOW = timedelta(days=7)
# Threads, whatever the number of connections: one scheduler (every timed event: sync ends, scheduled
# syncs, resumes, mid-run changes, redeliveries), one warehouse writer, and this many webhook senders.
DELIVERY_WORKERS = 16
# The listen backlog of the API server: thousands of triggers may arrive at once.
REQUEST_QUEUE_SIZE = 1024

log = logging.getLogger(__name__)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now() -> datetime:
    return datetime.now(UTC)


def _parse_time(value: str) -> datetime:
    """An ISO 8601 instant (``Z`` or an offset; no offset means UTC); ValueError if it is not one."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def error_body(status: int, message: str) -> dict[str, Any]:
    """Fivetran's error envelope: ``{"code": "<ErrorCode>", "message": "..."}``."""
    return {"code": ERROR_CODES.get(status, "Error"), "message": message}


class ApiError(Exception):
    """An answer other than 200 for one API call."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("message"))
        self.status, self.body, self.headers = status, body, headers or {}


@dataclass
class _Sync:
    """One sync as Fivetran records it (its sync history row); times on Fivetran's clock."""

    sync_id: str
    started: datetime
    ours: bool  # started by a trigger (or resuming such a sync): the scenario's webhook faults apply
    ended: datetime | None = None
    status: str = "RUNNING"
    reason: str | None = None
    rescheduled_for: datetime | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "sync_id": self.sync_id,
            "start_time": _stamp(self.started),
            "end_time": _stamp(self.ended) if self.ended else None,
            "status": self.status,
            "reason": self.reason,
            "rescheduled_for": _stamp(self.rescheduled_for) if self.rescheduled_for else None,
        }


@dataclass
class _ConnectionState:
    spec: ConnectorSpec
    sync_state: str = "scheduled"
    succeeded_at: datetime | None = None
    failed_at: datetime | None = None
    rescheduled_for: datetime | None = None
    api_calls: int = 0
    attempts: int = 0  # syncs started by a trigger
    seed: int = 0
    paused: bool = False
    setup_state: str = "connected"
    deleted: bool = False
    running: _Sync | None = None
    syncs: list[_Sync] = field(default_factory=list)
    webhook_attempts: int = 0

    def __post_init__(self) -> None:
        self.paused = self.spec.paused
        self.setup_state = self.spec.setup_state

    @property
    def syncable(self) -> bool:
        return not self.paused and not self.deleted and self.setup_state == "connected"

    def to_api(self, group_id: str) -> dict[str, Any]:
        spec = self.spec
        return {
            "id": spec.id,
            "group_id": group_id,
            "service": spec.service,
            "schema": spec.schema,
            "paused": self.paused,
            "schedule_type": spec.schedule_type,
            "sync_frequency": 360,
            "succeeded_at": _stamp(self.succeeded_at) if self.succeeded_at else None,
            "failed_at": _stamp(self.failed_at) if self.failed_at else None,
            "status": {
                "setup_state": self.setup_state,
                "sync_state": "paused" if self.paused else self.sync_state,
                "update_state": "on_schedule",
                "is_historical_sync": False,
                "rescheduled_for": _stamp(self.rescheduled_for) if self.rescheduled_for else None,
                "tasks": [],
                "warnings": [],
            },
        }


@dataclass
class _Delivery:
    body: bytes
    signature: str
    connector_id: str
    event: str
    sync_id: str
    bad_signature: bool
    attempts: int = 0


@dataclass
class WebhookLog:
    sent: int = 0
    by_status: Counter = field(default_factory=Counter)
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        accepted = sum(n for status, n in self.by_status.items() if str(status).startswith("2"))
        return {
            "sent": self.sent,
            "accepted": accepted,
            "rejected": self.sent - accepted,
            "by_status": {str(k): v for k, v in sorted(self.by_status.items(), key=lambda kv: str(kv[0]))},
        }


class FivetranSimulator:
    def __init__(
        self,
        scenario: Scenario,
        *,
        api_key: str,
        api_secret: str,
        webhook_secret: str,
        webhook_url: str | None,
        duckdb_path: Path,
        page_size: int = 25,
    ) -> None:
        self.scenario = scenario
        self.fivetran = scenario.fivetran
        self._auth = "Basic " + base64.b64encode(f"{api_key}:{api_secret}".encode()).decode()
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.duckdb_path = duckdb_path
        self.page_size = page_size
        self.connections = {c.id: _ConnectionState(c, seed=i) for i, c in enumerate(scenario.connectors)}
        self.calls: Counter = Counter()
        self.webhooks = WebhookLog()
        self.sync_ended_at: dict[str, list[datetime]] = {}  # this machine's clock (benchmarks)
        self.registered_webhooks: dict[str, dict[str, Any]] = {}
        self.errors: list[str] = []
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._due: list[tuple[float, int, Any, tuple[Any, ...]]] = []  # (monotonic due, seq, fn, args)
        self._due_changed = threading.Condition(threading.Lock())
        self._seq = itertools.count()
        self._scheduler: threading.Thread | None = None
        self._senders = ThreadPoolExecutor(
            max_workers=DELIVERY_WORKERS, thread_name_prefix="fivetran-sim-hook"
        )
        self._writes: queue.Queue[tuple[_ConnectionState, _Sync, str, str] | None] = queue.Queue()
        self._writer: threading.Thread | None = None
        self._stopped = threading.Event()
        self._zero: float | None = None

    # -- clocks --------------------------------------------------------------------------

    def now_f(self) -> datetime:
        """Fivetran's clock: this machine's plus the scenario's ``fivetran.clock_offset_s``."""
        return _now() + timedelta(seconds=self.fivetran.clock_offset_s)

    def begin_run(self) -> None:
        """The run's zero (idempotent): scenario times (``start_s``, ``at_s``, ``remaining_s``)
        count from here. The local runtime calls it once everything is up; a simulator used alone
        begins at its first API request."""
        with self._lock:
            if self._zero is not None:
                return
            self._zero = time.monotonic()
        for state in self.connections.values():
            spec = state.spec
            if spec.already_syncing is not None:
                self._start_already_syncing(state)
            for scheduled in spec.scheduled_syncs:
                self._later(scheduled.start_s, self._scheduled, state, scheduled)
            if spec.mid_run is not None:
                self._later(spec.mid_run.at_s, self._change_mid_run, state)

    def elapsed_s(self) -> float:
        """Seconds since the run's zero (0 before it)."""
        return 0.0 if self._zero is None else time.monotonic() - self._zero

    # -- lifecycle -----------------------------------------------------------------------

    def seed_history(self) -> None:
        """Fivetran has synced these connections before: each schema starts with a historical load.

        The dbt project's own sources (the five demo schemas) are loaded too when the scenario
        does not name them, as a real warehouse holds every source the project reads."""
        named = {state.spec.schema for state in self.connections.values()}
        missing = [svc for svc, schema in warehouse.DEMO_SCHEMAS.items() if schema not in named]
        loads = [warehouse.Load(warehouse.DEMO_SCHEMAS[svc], svc, rows=20, seed=99) for svc in missing]
        loaded = [state for state in self.connections.values() if state.spec.setup_state == "connected"]
        an_hour_ago = self.now_f() - timedelta(hours=1)
        loads += [
            warehouse.Load(
                state.spec.schema, state.spec.service, max(state.spec.sync.rows, 20), state.seed, an_hour_ago
            )
            for state in loaded
        ]
        # One connection and one transaction for them all: opening and checkpointing the file per
        # connection took minutes for a few thousand connections.
        for result in warehouse.write_syncs(self.duckdb_path, loads):
            if isinstance(result, Exception):
                raise result
        for state in loaded:
            state.succeeded_at = an_hour_ago

    def start(self, port: int = 0) -> str:
        simulator = self

        class Handler(_Handler):
            sim = simulator

        self._server = _Server(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="fivetran-sim", daemon=True
        ).start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._stopped.set()
        with self._due_changed:
            self._due.clear()
            self._due_changed.notify_all()
        self._writes.put(None)
        self._senders.shutdown(wait=False, cancel_futures=True)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def api_calls(self) -> dict[str, Any]:
        with self._lock:
            return {"total": sum(self.calls.values()), "by_endpoint": dict(sorted(self.calls.items()))}

    # -- request handling ----------------------------------------------------------------

    def authorized(self, header: str | None) -> bool:
        return header == self._auth

    def outage(self) -> ApiError | None:
        """The scenario's ``fivetran.api_outage``: every call in its window gets its status."""
        spec = self.fivetran.api_outage
        if spec is None:
            return None
        self.begin_run()
        elapsed = self.elapsed_s()
        left = spec.start_s + spec.duration_s - elapsed
        if elapsed < spec.start_s or left <= 0:
            return None
        if spec.status == 429:
            message = "Too many requests: the account's API quota is spent"
            return ApiError(429, error_body(429, message), {"Retry-After": str(max(1, math.ceil(left)))})
        return ApiError(spec.status, error_body(spec.status, f"Fivetran API unavailable ({spec.status})"))

    def fault_for(self, connector_id: str | None) -> tuple[int, dict[str, str]] | None:
        """Scenario API faults: the first N calls for a connection get 429 (Retry-After: 1) or 500."""
        if connector_id is None or connector_id not in self.connections:
            return None
        with self._lock:
            state = self.connections[connector_id]
            state.api_calls += 1
            n = state.api_calls
            api = state.spec.api
            if n <= api.rate_limit_first:
                return 429, {"Retry-After": "1"}
            if n <= api.rate_limit_first + api.server_error_first:
                return 500, {}
        return None

    def _live(self, connector_id: str) -> _ConnectionState:
        """The connection (KeyError, answered 404, if it does not exist or was deleted)."""
        state = self.connections[connector_id]
        if state.deleted:
            raise KeyError(connector_id)
        return state

    def list_connections(self, group_id: str, cursor: str | None, limit: int) -> dict[str, Any]:
        if group_id != self.scenario.group_id:
            raise KeyError(group_id)
        with self._lock:
            ids = [cid for cid, state in self.connections.items() if not state.deleted]
            start = int(cursor) if cursor and cursor.isdigit() else 0
            size = max(1, min(limit, self.page_size))
            page = ids[start : start + size]
            data: dict[str, Any] = {"items": [self.connections[i].to_api(group_id) for i in page]}
        if start + size < len(ids):
            data["next_cursor"] = str(start + size)
        return data

    def connection(self, connector_id: str) -> dict[str, Any]:
        with self._lock:
            return self._live(connector_id).to_api(self.scenario.group_id)

    def trigger(self, connector_id: str) -> None:
        """``POST /v1/connections/{id}/sync`` (``force: false``): start a new sync now, or refuse."""
        with self._lock:
            state = self._live(connector_id)
            spec = state.spec
            refused = spec.api.trigger_status
            if refused:
                headers = {"Retry-After": "1"} if refused == 429 else {}
                raise ApiError(
                    refused, error_body(refused, f"simulated answer {refused} to a sync trigger"), headers
                )
            if state.paused:
                message = f"Cannot start sync: connection '{connector_id}' is paused"
                raise ApiError(400, error_body(400, message))
            if state.setup_state != "connected":
                message = f"Cannot start sync: connection '{connector_id}' setup state is {state.setup_state}"
                raise ApiError(400, error_body(400, message))
            if state.running is not None:
                message = f"Cannot start sync: a sync is already in progress for connection '{connector_id}'"
                raise ApiError(409, {"code": "Conflict", "message": message})
            state.attempts += 1
            outcome = spec.sync.outcome
            if outcome == "rescheduled" and state.attempts > 1:
                outcome = "success"  # the later attempt succeeds
            sync = self._begin_sync(state, ours=True)
        self._play(state, sync, spec.sync.duration_s, outcome, spec.sync.reason)

    def sync_history(self, connector_id: str, query: dict[str, list[str]]) -> dict[str, Any]:
        """``GET /v1/connections/{id}/sync-history``: the syncs overlapping a window of at most
        7 days, newest first, ``limit`` (1..1000, default 100) per page, cursor pagination."""

        def one(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        now = self.now_f()
        try:
            end = _parse_time(one("end_time")) if one("end_time") else now
            start = _parse_time(one("start_time")) if one("start_time") else end - SYNC_HISTORY_MAX_WINDOW
        except ValueError as exc:
            raise ApiError(
                400, {"code": "InvalidInput", "message": f"invalid start_time/end_time: {exc}"}
            ) from exc
        if end <= start or end - start > SYNC_HISTORY_MAX_WINDOW:
            message = "end_time must be after start_time, at most 7 days apart"
            raise ApiError(400, {"code": "InvalidInput", "message": message})
        try:
            limit = int(one("limit") or 100)
        except ValueError:
            limit = 0
        if not 1 <= limit <= 1000:
            raise ApiError(400, {"code": "InvalidInput", "message": "limit must be between 1 and 1000"})
        cursor = one("cursor") or "0"
        if not cursor.isdigit():
            raise ApiError(400, {"code": "InvalidInput", "message": f"invalid cursor {cursor!r}"})
        offset = int(cursor)
        with self._lock:
            state = self._live(connector_id)
            found = [s for s in state.syncs if s.started <= end and (s.ended or now) >= start]
            found.sort(key=lambda s: s.started, reverse=True)
            items = [s.to_api() for s in found[offset : offset + limit]]
        data: dict[str, Any] = {"items": items}
        if offset + limit < len(found):
            data["next_cursor"] = str(offset + limit)
        return data

    # -- sync playback -------------------------------------------------------------------

    def _later(self, delay: float, fn: Any, *args: Any) -> None:
        """Run ``fn(*args)`` on the scheduler thread after ``delay`` seconds (a heap, not a thread per
        event). ``fn`` must not block: webhook deliveries go on to the senders' pool, warehouse
        writes to the writer thread."""
        if self._stopped.is_set():
            return
        with self._due_changed:
            heapq.heappush(self._due, (time.monotonic() + max(0.0, delay), next(self._seq), fn, args))
            self._due_changed.notify()
            if self._scheduler is None:
                self._scheduler = threading.Thread(
                    target=self._schedule, name="fivetran-sim-clock", daemon=True
                )
                self._scheduler.start()

    def _schedule(self) -> None:
        while not self._stopped.is_set():
            with self._due_changed:
                wait = self._due[0][0] - time.monotonic() if self._due else None
                if wait is None or wait > 0:
                    self._due_changed.wait(timeout=wait)
                    continue
                _, _, fn, args = heapq.heappop(self._due)
            try:
                fn(*args)
            except Exception:
                log.exception("simulator event %s failed", getattr(fn, "__name__", fn))

    def _send_later(self, delay: float, delivery: _Delivery) -> None:
        self._later(delay, self._hand_to_sender, delivery)

    def _hand_to_sender(self, delivery: _Delivery) -> None:
        with contextlib.suppress(RuntimeError):  # the pool is shut down: the simulator stopped
            self._senders.submit(self._deliver, delivery)

    def _write_later(self, state: _ConnectionState, sync: _Sync, outcome: str, reason: str) -> None:
        """A successful sync's rows go to the writer thread, which ends the sync once they are written."""
        with self._lock:
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_rows, name="fivetran-sim-warehouse", daemon=True
                )
                self._writer.start()
        self._writes.put((state, sync, outcome, reason))

    def _write_batch(
        self, ends: list[tuple[_ConnectionState, _Sync, str, str]], failures: dict[int, Exception]
    ) -> None:
        """Write the batch's rows through one connection, in one transaction committed at the end."""
        with warehouse.session(self.duckdb_path, one_transaction=True):
            for i, (state, sync, _, _) in enumerate(ends):
                if state.running is not sync:
                    continue  # dropped meanwhile
                try:
                    warehouse.write_sync(
                        self.duckdb_path,
                        schema=state.spec.schema,
                        service=state.spec.service,
                        rows=state.spec.sync.rows,
                        seed=state.seed,
                    )
                except Exception as exc:  # the destination refused the load: Fivetran fails the sync
                    failures[i] = exc

    def _write_rows(self) -> None:
        """The warehouse writer: every sync end waiting is written through one open connection (one
        connect and one checkpoint per batch, not per sync), then the file is closed and the batch's
        syncs end (so a sync_end never comes before its rows, and dbt finds the file free)."""
        while True:
            first = self._writes.get()
            batch = [first]
            with contextlib.suppress(queue.Empty):
                while True:
                    batch.append(self._writes.get_nowait())
            ends = [item for item in batch if item is not None]
            failures: dict[int, Exception] = {}
            try:
                self._write_batch(ends, failures)
            except Exception as exc:  # the batch's commit failed: none of its rows landed
                failures = dict.fromkeys(range(len(ends)), exc)
            for i, (state, sync, outcome, reason) in enumerate(ends):
                exc = failures.get(i)
                if exc is not None:
                    self.errors.append(f"{state.spec.id}: warehouse write failed: {exc}")
                    outcome, reason = "failure", f"destination write failed: {exc}"
                try:
                    self._finish_sync(state, sync, outcome, reason)
                except Exception:
                    log.exception("ending sync %s failed", sync.sync_id)
            if None in batch or self._stopped.is_set():
                return

    def _begin_sync(self, state: _ConnectionState, *, ours: bool, started: datetime | None = None) -> _Sync:
        """A new sync is running (call with the lock held)."""
        sync = _Sync(sync_id=str(uuid.uuid4()), started=started or self.now_f(), ours=ours)
        state.syncs.append(sync)
        state.running = sync
        state.sync_state = "syncing"
        state.rescheduled_for = None
        return sync

    def _play(
        self, state: _ConnectionState, sync: _Sync, duration_s: float, outcome: str, reason: str
    ) -> None:
        """Send the sync's ``sync_start`` now and end it after ``duration_s``."""
        self._send(state, sync, "sync_start", sync.started, {})
        if outcome != "never_ends":
            self._later(duration_s, self._end_sync, state, sync, outcome, reason)

    def _start_already_syncing(self, state: _ConnectionState) -> None:
        spec = state.spec.already_syncing
        assert spec is not None
        with self._lock:
            sync = self._begin_sync(
                state, ours=False, started=self.now_f() - timedelta(seconds=ALREADY_SYNCING_SINCE_S)
            )
        self._send(state, sync, "sync_start", sync.started, {})
        if spec.outcome != "never_ends":
            self._later(spec.remaining_s, self._end_sync, state, sync, spec.outcome, spec.reason)

    def _scheduled(self, state: _ConnectionState, spec: ScheduledSyncSpec) -> None:
        """A sync Fivetran starts on its own schedule (skipped if one is running)."""
        with self._lock:
            if state.running is not None or not state.syncable:
                return
            sync = self._begin_sync(state, ours=False)
        self._play(state, sync, spec.duration_s, spec.outcome, spec.reason)

    def _resume(self, state: _ConnectionState, rescheduled: _Sync) -> None:
        """An auto-schedule connection resumes a rescheduled sync by itself: a new sync that succeeds."""
        with self._lock:
            if state.sync_state != "rescheduled" or state.running is not None or not state.syncable:
                return
            sync = self._begin_sync(state, ours=rescheduled.ours)
        self._play(state, sync, state.spec.sync.resume_s, "success", "")

    def _change_mid_run(self, state: _ConnectionState) -> None:
        """The connection is paused, broken or deleted: its running sync is dropped without a sync_end
        (its sync history row stays RUNNING with no end_time)."""
        change = state.spec.mid_run
        assert change is not None
        with self._lock:
            if change.paused:
                state.paused = True
            elif change.setup_state:
                state.setup_state = change.setup_state
            else:
                state.deleted = True
            state.running = None
            if state.sync_state == "syncing":
                state.sync_state = "scheduled"

    def _end_sync(self, state: _ConnectionState, sync: _Sync, outcome: str, reason: str) -> None:
        if state.running is not sync:
            return  # dropped
        if outcome == "success":
            self._write_later(state, sync, outcome, reason)
        else:
            self._finish_sync(state, sync, outcome, reason)

    def _finish_sync(self, state: _ConnectionState, sync: _Sync, outcome: str, reason: str) -> None:
        """The sync ends now (its rows, if any, are written): history, connection state, ``sync_end``."""
        spec = state.spec.sync
        ended = self.now_f()
        data: dict[str, Any] = {"status": STATUS_BY_OUTCOME[outcome]}
        with self._lock:
            if state.running is not sync:
                return
            state.running = None
            sync.ended, sync.status = ended, data["status"]
            if outcome == "success":
                state.succeeded_at, state.sync_state = ended, "scheduled"
            elif outcome == "rescheduled":
                state.sync_state = "rescheduled"
                state.rescheduled_for = ended + timedelta(seconds=spec.rescheduled_for_s)
                sync.rescheduled_for = state.rescheduled_for
                data["rescheduledAt"] = _stamp(state.rescheduled_for)
                data["reason"] = f"Rescheduled for {data['rescheduledAt']}, reason: source API quota"
            else:
                state.failed_at, state.sync_state = ended, "scheduled"
                data["reason"] = reason or f"simulated {outcome}"
                if outcome == "failure_with_task":
                    data["taskType"] = "reconnect"
            sync.reason = data.get("reason")
            self.sync_ended_at.setdefault(state.spec.id, []).append(_now())
        if outcome == "rescheduled" and state.spec.schedule_type == "auto":
            # An auto-schedule connection resumes by itself at rescheduled_for.
            self._later(spec.rescheduled_for_s, self._resume, state, sync)
        self._send(state, sync, "sync_end", ended, data)

    # -- webhooks ------------------------------------------------------------------------

    def _send(self, state: _ConnectionState, sync: _Sync, event: str, created: datetime, data: dict) -> None:
        """Post a ``sync_start``/``sync_end`` webhook (if the account's webhook sends that event)."""
        hook = state.spec.webhook
        if not self.webhook_url or event not in self.fivetran.webhook_events:
            return
        if sync.ours and hook.drop:
            return
        body = json.dumps(
            {
                "event": event,
                "created": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "connector_type": state.spec.service,
                "connector_id": state.spec.id,
                "connector_name": state.spec.schema,
                "sync_id": sync.sync_id,
                "destination_group_id": self.scenario.group_id,
                "data": data,
            },
            separators=(",", ":"),
        ).encode()
        bad = sync.ours and hook.bad_signature
        signature = sign(body, "not-the-webhook-secret" if bad else self.webhook_secret)
        copies = 1 + (hook.duplicate if sync.ours else 0)
        delay = hook.delay_s if sync.ours else 0.0
        for copy in range(copies):
            delivery = _Delivery(body, signature, state.spec.id, event, sync.sync_id, bad)
            self._send_later(delay + 0.05 * copy, delivery)

    def _deliver(self, delivery: _Delivery) -> None:
        """One delivery attempt; a non-2xx answer or none is redelivered on Fivetran's compressed
        schedule (a wrongly signed one at most ``BAD_SIGNATURE_ATTEMPTS`` times)."""
        if self.webhook_url is None or self._stopped.is_set():
            return
        state = self.connections[delivery.connector_id]
        with self._lock:
            state.webhook_attempts += 1
            failing = state.webhook_attempts <= state.spec.webhook.fail_first
            delivery.attempts += 1
        status: int | str
        if failing:
            status = 503  # the receiver's answer, as webhook.fail_first says
        else:
            try:
                response = requests.post(
                    self.webhook_url,
                    data=delivery.body,
                    headers={"Content-Type": "application/json", SIGNATURE_HEADER: delivery.signature},
                    timeout=10,
                )
                status = response.status_code
            except requests.RequestException as exc:
                status = f"error:{type(exc).__name__}"
        with self._lock:
            self.webhooks.sent += 1
            self.webhooks.by_status[status] += 1
            self.webhooks.deliveries.append(
                {
                    "connector_id": delivery.connector_id,
                    "event": delivery.event,
                    "sync_id": delivery.sync_id,
                    "attempt": delivery.attempts,
                    "status": status,
                    "at": time.time(),
                }
            )
        if isinstance(status, int) and 200 <= status < 300:
            return
        limit = BAD_SIGNATURE_ATTEMPTS if delivery.bad_signature else MAX_DELIVERY_ATTEMPTS
        if delivery.attempts < limit:
            self._send_later(REDELIVERY_STEP_S * delivery.attempts, delivery)

    # -- webhook management (the operator CLI's register-webhook) --------------------------

    def create_webhook(self, group_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        url = body.get("url")
        if not isinstance(url, str) or not isinstance(body.get("events"), list):
            return 400, {"code": "InvalidInput", "message": "url and events are required"}
        if body.get("active", True):
            probe = json.dumps(
                {
                    "event": "test_event",
                    "created": _stamp(self.now_f()),
                    "connector_type": "_connector_type",
                    "connector_id": "_connector_1",
                    "group_id": "_destination_1",
                },
                separators=(",", ":"),
            ).encode()
            secret = str(body.get("secret") or "")
            try:
                answer = requests.post(
                    url,
                    data=probe,
                    headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(probe, secret)},
                    timeout=10,
                )
                ok = 200 <= answer.status_code < 300
            except requests.RequestException:
                ok = False
            if not ok:
                return 400, {
                    "code": "BadRequest",
                    "message": f"test delivery to {url} did not get a 2xx answer",
                }
        hook_id = f"webhook_{len(self.registered_webhooks) + 1}"
        record = {
            "id": hook_id,
            "type": "group",
            "group_id": group_id,
            "url": url,
            "events": body["events"],
            "active": body.get("active", True),
            "secret": "******",
            "created_at": _stamp(self.now_f()),
            "created_by": "local",
        }
        self.registered_webhooks[hook_id] = record
        return 201, {"code": "Success", "message": "Webhook has been created", "data": record}


class _Server(ThreadingHTTPServer):
    request_queue_size = REQUEST_QUEUE_SIZE
    daemon_threads = True


_GROUP_CONNECTIONS = re.compile(r"^/v1/groups/([^/]+)/connections/?$")
_CONNECTION = re.compile(r"^/v1/connections/([^/]+)/?$")
_SYNC = re.compile(r"^/v1/connections/([^/]+)/sync/?$")
_SYNC_HISTORY = re.compile(r"^/v1/connections/([^/]+)/sync-history/?$")
_GROUP_WEBHOOK = re.compile(r"^/v1/webhooks/group/([^/]+)/?$")
_WEBHOOKS = re.compile(r"^/v1/webhooks/?()$")
_ROUTES = (
    (_GROUP_CONNECTIONS, "GET", "GET /v1/groups/{id}/connections"),
    (_SYNC, "POST", "POST /v1/connections/{id}/sync"),
    (_SYNC_HISTORY, "GET", "GET /v1/connections/{id}/sync-history"),
    (_CONNECTION, "GET", "GET /v1/connections/{id}"),
    (_GROUP_WEBHOOK, "POST", "POST /v1/webhooks/group/{id}"),
    (_WEBHOOKS, "GET", "GET /v1/webhooks"),
)
_WEBHOOK = re.compile(r"^/v1/webhooks/([^/]+)/?$")


class _Handler(JsonRequestHandler):
    sim: FivetranSimulator

    def date_time_string(self, timestamp: float | None = None) -> str:
        """Every answer's ``Date`` header is on Fivetran's clock (RFC 7231)."""
        return email.utils.formatdate(self.sim.now_f().timestamp(), usegmt=True)

    def _route(self, method: str) -> None:
        sim = self.sim
        sim.begin_run()
        url = urlparse(self.path)
        path = url.path
        body = self.read_json() if method == "POST" else {}
        if not sim.authorized(self.headers.get("Authorization")):
            self.send_json(401, {"code": "AuthFailed", "message": "Invalid API key or secret"})
            return
        for pattern, verb, endpoint in _ROUTES:
            match = pattern.match(path)
            if match and method == verb:
                with sim._lock:
                    sim.calls[endpoint] += 1
                try:
                    outage = sim.outage()
                    if outage is not None:
                        raise outage
                    self._dispatch(endpoint, match.group(1), parse_qs(url.query), body)
                except ApiError as exc:
                    self.send_json(exc.status, exc.body, exc.headers)
                except KeyError:
                    message = f"Connection with id '{match.group(1)}' doesn't exist"
                    self.send_json(404, {"code": "NotFound_Connection", "message": message})
                return
        self.send_json(404, {"code": "NotFound", "message": f"no route {method} {path}"})

    def _dispatch(self, endpoint: str, ident: str, query: dict[str, list[str]], body: dict[str, Any]) -> None:
        sim = self.sim
        if endpoint.startswith("POST /v1/webhooks"):
            status, answer = sim.create_webhook(ident, body)
            self.send_json(status, answer)
            return
        if endpoint == "GET /v1/webhooks":
            self.send_json(
                200, {"code": "Success", "data": {"items": list(sim.registered_webhooks.values())}}
            )
            return
        connector_id = None if endpoint.startswith("GET /v1/groups") else ident
        fault = sim.fault_for(connector_id)
        if fault:
            status, headers = fault
            code = "TooManyRequests" if status == 429 else "InternalServerError"
            self.send_json(status, {"code": code, "message": "simulated"}, headers)
            return
        if endpoint.startswith("GET /v1/groups"):
            limit = int((query.get("limit") or ["100"])[0])
            data = sim.list_connections(ident, (query.get("cursor") or [None])[0], limit)
            self.send_json(200, {"code": "Success", "data": data})
        elif endpoint.startswith("POST"):
            sim.trigger(ident)
            message = f"Sync has been successfully triggered for connection with id '{ident}'"
            self.send_json(200, {"code": "Success", "message": message})
        elif endpoint.endswith("/sync-history"):
            self.send_json(200, {"code": "Success", "data": sim.sync_history(ident, query)})
        else:
            self.send_json(200, {"code": "Success", "data": sim.connection(ident)})

    def do_GET(self) -> None:
        self._route("GET")

    def do_PATCH(self) -> None:
        """``PATCH /v1/webhooks/{id}`` (``rotate-webhook-secret``): updates the registered webhook. The
        simulator's own deliveries keep the runtime's secret: the local route reads its secret from its
        environment (``FIVETRAN_WEBHOOK_SECRET``), which a rotation does not change."""
        sim = self.sim
        match = _WEBHOOK.match(urlparse(self.path).path)
        body = self.read_json()
        if not sim.authorized(self.headers.get("Authorization")):
            self.send_json(401, {"code": "AuthFailed", "message": "Invalid API key or secret"})
        elif match is None:
            self.send_json(404, {"code": "NotFound", "message": f"no route PATCH {self.path}"})
        else:
            with sim._lock:
                sim.calls["PATCH /v1/webhooks/{id}"] += 1
                record = sim.registered_webhooks.get(match.group(1))
                if record is not None:
                    record.update({k: body[k] for k in ("url", "events", "active") if k in body})
            if record is None:
                self.send_json(404, {"code": "NotFound", "message": f"no webhook {match.group(1)}"})
            else:
                answer = {"code": "Success", "message": "Webhook has been updated", "data": record}
                self.send_json(200, answer)

    def do_POST(self) -> None:
        self._route("POST")
