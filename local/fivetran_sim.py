"""A local stand-in for the Fivetran REST API that plays a scenario and sends signed webhooks.

It serves the subset of the API the app calls (group connections with cursor pagination,
connection detail, sync trigger) plus the webhook endpoints the operator CLI calls, with
HTTP Basic auth. When a sync is triggered it plays the scenario for that connection: after
``duration_s`` it writes rows into the connection's schema in the DuckDB file (so dbt has
real data), updates ``succeeded_at``/``failed_at``/``sync_state``, and posts a ``sync_end``
webhook shaped like Fivetran's, signed with the webhook secret. It counts API calls by
endpoint and webhook deliveries by HTTP status, for the run report.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests

from chalicelib.signature import SIGNATURE_HEADER, sign
from local import warehouse
from local.json_http import JsonRequestHandler
from local.scenario import ConnectorSpec, Scenario

__all__ = ["FivetranSimulator"]

STATUS_BY_OUTCOME = {
    "success": "SUCCESSFUL",
    "failure": "FAILURE",
    "failure_with_task": "FAILURE_WITH_TASK",
    "canceled": "CANCELED",
    "rescheduled": "RESCHEDULED",
}


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _ConnectionState:
    spec: ConnectorSpec
    sync_state: str = "scheduled"
    succeeded_at: datetime | None = None
    failed_at: datetime | None = None
    rescheduled_for: datetime | None = None
    api_calls: int = 0
    attempts: int = 0
    seed: int = 0

    def to_api(self, group_id: str) -> dict[str, Any]:
        spec = self.spec
        return {
            "id": spec.id,
            "group_id": group_id,
            "service": spec.service,
            "schema": spec.schema,
            "paused": spec.paused,
            "schedule_type": spec.schedule_type,
            "sync_frequency": 360,
            "succeeded_at": _stamp(self.succeeded_at) if self.succeeded_at else None,
            "failed_at": _stamp(self.failed_at) if self.failed_at else None,
            "status": {
                "setup_state": spec.setup_state,
                "sync_state": "paused" if spec.paused else self.sync_state,
                "update_state": "on_schedule",
                "is_historical_sync": False,
                "rescheduled_for": _stamp(self.rescheduled_for) if self.rescheduled_for else None,
                "tasks": [],
                "warnings": [],
            },
        }


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
        self._auth = "Basic " + base64.b64encode(f"{api_key}:{api_secret}".encode()).decode()
        self.webhook_secret = webhook_secret
        self.webhook_url = webhook_url
        self.duckdb_path = duckdb_path
        self.page_size = page_size
        self.connections = {c.id: _ConnectionState(c, seed=i) for i, c in enumerate(scenario.connectors)}
        self.calls: Counter = Counter()
        self.webhooks = WebhookLog()
        self.sync_ended_at: dict[str, list[datetime]] = {}
        self.registered_webhooks: dict[str, dict[str, Any]] = {}
        self._lock = threading.RLock()
        self._timers: list[threading.Timer] = []
        self._server: ThreadingHTTPServer | None = None
        self._stopped = threading.Event()

    # -- lifecycle -----------------------------------------------------------------------

    def seed_history(self) -> None:
        """Fivetran has synced these connections before: each schema starts with a historical load.

        The dbt project's own sources (the five demo schemas) are loaded too when the scenario
        does not name them, as a real warehouse holds every source the project reads."""
        named = {state.spec.schema for state in self.connections.values()}
        missing = [svc for svc, schema in warehouse.DEMO_SCHEMAS.items() if schema not in named]
        if missing:
            warehouse.seed_demo(self.duckdb_path, rows=20, seed=99, services=missing)
        for state in self.connections.values():
            if state.spec.setup_state == "connected":
                warehouse.write_sync(
                    self.duckdb_path,
                    schema=state.spec.schema,
                    service=state.spec.service,
                    rows=max(state.spec.sync.rows, 20),
                    seed=state.seed,
                    synced_at=_now() - timedelta(hours=1),
                )
                state.succeeded_at = _now() - timedelta(hours=1)

    def start(self, port: int = 0) -> str:
        simulator = self

        class Handler(_Handler):
            sim = simulator

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fivetran-sim", daemon=True).start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._stopped.set()
        for timer in self._timers:
            timer.cancel()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def api_calls(self) -> dict[str, Any]:
        with self._lock:
            return {"total": sum(self.calls.values()), "by_endpoint": dict(sorted(self.calls.items()))}

    # -- request handling ----------------------------------------------------------------

    def authorized(self, header: str | None) -> bool:
        return header == self._auth

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

    def list_connections(self, group_id: str, cursor: str | None, limit: int) -> dict[str, Any]:
        if group_id != self.scenario.group_id:
            raise KeyError(group_id)
        ids = list(self.connections)
        start = int(cursor) if cursor and cursor.isdigit() else 0
        size = max(1, min(limit, self.page_size))
        page = ids[start : start + size]
        data: dict[str, Any] = {"items": [self.connections[i].to_api(group_id) for i in page]}
        if start + size < len(ids):
            data["next_cursor"] = str(start + size)
        return data

    def connection(self, connector_id: str) -> dict[str, Any]:
        with self._lock:
            return self.connections[connector_id].to_api(self.scenario.group_id)

    def trigger(self, connector_id: str) -> None:
        with self._lock:
            state = self.connections[connector_id]
            if state.sync_state == "syncing":
                return  # force=false: the running sync is joined
            state.sync_state = "syncing"
            state.rescheduled_for = None
            state.attempts += 1
            attempt = state.attempts
        self._later(state.spec.sync.duration_s, self._end_sync, connector_id, attempt)

    # -- sync playback -------------------------------------------------------------------

    def _later(self, delay: float, fn: Any, *args: Any) -> None:
        if self._stopped.is_set():
            return
        timer = threading.Timer(max(0.0, delay), fn, args)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _end_sync(self, connector_id: str, attempt: int) -> None:
        state = self.connections[connector_id]
        spec = state.spec.sync
        outcome = spec.outcome
        if outcome == "rescheduled" and attempt > 1:
            outcome = "success"  # the later attempt succeeds
        if outcome == "never_ends":
            return
        if outcome == "success":
            warehouse.write_sync(
                self.duckdb_path,
                schema=state.spec.schema,
                service=state.spec.service,
                rows=spec.rows,
                seed=state.seed,
            )
        ended = _now()
        data: dict[str, Any] = {"status": STATUS_BY_OUTCOME[outcome]}
        with self._lock:
            if outcome == "success":
                state.succeeded_at, state.sync_state = ended, "scheduled"
            elif outcome == "rescheduled":
                state.sync_state = "rescheduled"
                state.rescheduled_for = ended + timedelta(seconds=spec.rescheduled_for_s)
                data["rescheduledAt"] = _stamp(state.rescheduled_for)
                data["reason"] = f"Rescheduled for {data['rescheduledAt']}, reason: source API quota"
            else:
                state.failed_at, state.sync_state = ended, "scheduled"
                data["reason"] = spec.reason or f"simulated {outcome}"
                if outcome == "failure_with_task":
                    data["taskType"] = "reconnect"
            self.sync_ended_at.setdefault(connector_id, []).append(ended)
        if outcome == "rescheduled" and state.spec.schedule_type == "auto":
            # An auto-schedule connection resumes by itself at rescheduled_for.
            self._later(spec.rescheduled_for_s, self._resume, connector_id)
        self._send_sync_end(state, ended, data)

    def _resume(self, connector_id: str) -> None:
        with self._lock:
            state = self.connections[connector_id]
            if state.sync_state != "rescheduled":
                return
        self.trigger(connector_id)

    def _send_sync_end(self, state: _ConnectionState, ended: datetime, data: dict[str, Any]) -> None:
        hook = state.spec.webhook
        if hook.drop or not self.webhook_url:
            return
        body = json.dumps(
            {
                "event": "sync_end",
                "created": ended.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "connector_type": state.spec.service,
                "connector_id": state.spec.id,
                "connector_name": state.spec.schema,
                "sync_id": str(uuid.uuid4()),
                "destination_group_id": self.scenario.group_id,
                "data": data,
            },
            separators=(",", ":"),
        ).encode()
        secret = "not-the-webhook-secret" if hook.bad_signature else self.webhook_secret
        for copy in range(1 + hook.duplicate):
            self._later(hook.delay_s + 0.05 * copy, self._deliver, body, sign(body, secret), state.spec.id)

    def _deliver(self, body: bytes, signature: str, connector_id: str) -> None:
        if self.webhook_url is None or self._stopped.is_set():
            return
        try:
            response = requests.post(
                self.webhook_url,
                data=body,
                headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature},
                timeout=10,
            )
            status: int | str = response.status_code
        except requests.RequestException as exc:
            status = f"error:{type(exc).__name__}"
        with self._lock:
            self.webhooks.sent += 1
            self.webhooks.by_status[status] += 1
            self.webhooks.deliveries.append(
                {"connector_id": connector_id, "status": status, "at": time.time()}
            )

    # -- webhook management (the operator CLI's register-webhook) --------------------------

    def create_webhook(self, group_id: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        url = body.get("url")
        if not isinstance(url, str) or not isinstance(body.get("events"), list):
            return 400, {"code": "InvalidInput", "message": "url and events are required"}
        if body.get("active", True):
            probe = json.dumps(
                {
                    "event": "test_event",
                    "created": _stamp(_now()),
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
            "created_at": _stamp(_now()),
            "created_by": "local",
        }
        self.registered_webhooks[hook_id] = record
        return 201, {"code": "Success", "message": "Webhook has been created", "data": record}


_GROUP_CONNECTIONS = re.compile(r"^/v1/groups/([^/]+)/connections/?$")
_CONNECTION = re.compile(r"^/v1/connections/([^/]+)/?$")
_SYNC = re.compile(r"^/v1/connections/([^/]+)/sync/?$")
_GROUP_WEBHOOK = re.compile(r"^/v1/webhooks/group/([^/]+)/?$")
_WEBHOOK = re.compile(r"^/v1/webhooks/([^/]+)/?$")


class _Handler(JsonRequestHandler):
    sim: FivetranSimulator

    def _route(self, method: str) -> None:
        sim = self.sim
        url = urlparse(self.path)
        path = url.path
        body = self.read_json() if method == "POST" else {}
        if not sim.authorized(self.headers.get("Authorization")):
            self.send_json(401, {"code": "AuthFailed", "message": "Invalid API key or secret"})
            return
        for pattern, verb, endpoint in (
            (_GROUP_CONNECTIONS, "GET", "GET /v1/groups/{id}/connections"),
            (_SYNC, "POST", "POST /v1/connections/{id}/sync"),
            (_CONNECTION, "GET", "GET /v1/connections/{id}"),
            (_GROUP_WEBHOOK, "POST", "POST /v1/webhooks/group/{id}"),
        ):
            match = pattern.match(path)
            if match and method == verb:
                with sim._lock:
                    sim.calls[endpoint] += 1
                self._dispatch(endpoint, match.group(1), parse_qs(url.query), body)
                return
        if method == "GET" and path.rstrip("/") == "/v1/webhooks":
            with sim._lock:
                sim.calls["GET /v1/webhooks"] += 1
            items = list(sim.registered_webhooks.values())
            self.send_json(200, {"code": "Success", "data": {"items": items}})
            return
        self.send_json(404, {"code": "NotFound", "message": f"no route {method} {path}"})

    def _dispatch(self, endpoint: str, ident: str, query: dict[str, list[str]], body: dict[str, Any]) -> None:
        sim = self.sim
        if endpoint.startswith("POST /v1/webhooks"):
            status, answer = sim.create_webhook(ident, body)
            self.send_json(status, answer)
            return
        connector_id = None if endpoint.startswith("GET /v1/groups") else ident
        fault = sim.fault_for(connector_id)
        if fault:
            status, headers = fault
            code = "TooManyRequests" if status == 429 else "InternalServerError"
            self.send_json(status, {"code": code, "message": "simulated"}, headers)
            return
        try:
            if endpoint.startswith("GET /v1/groups"):
                limit = int((query.get("limit") or ["100"])[0])
                data = sim.list_connections(ident, (query.get("cursor") or [None])[0], limit)
                self.send_json(200, {"code": "Success", "data": data})
            elif endpoint.startswith("POST"):
                sim.trigger(ident)
                message = f"Sync has been successfully triggered for connection with id '{ident}'"
                self.send_json(200, {"code": "Success", "message": message})
            else:
                self.send_json(200, {"code": "Success", "data": sim.connection(ident)})
        except KeyError:
            self.send_json(
                404, {"code": "NotFound_Connection", "message": f"Connection with id '{ident}' doesn't exist"}
            )

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
