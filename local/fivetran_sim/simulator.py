"""``FivetranSimulator``: the simulated Fivetran account. It holds the scenario's connections, Fivetran's
clock (``fivetran.clock_offset_s``) and the run's zero, answers each API call (with the scenario's
outage and per-connection faults), counts calls by endpoint, and wires the parts together: the HTTP
server (``server``), the clock thread (``scheduler``), sync playback (``playback``), webhooks
(``webhooks``, ``registrations``) and the warehouse (``writer``, ``seeding``)."""

from __future__ import annotations

import base64
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local.fivetran_sim.errors import ApiError, error_body
from local.fivetran_sim.playback import SyncPlayer
from local.fivetran_sim.records import ConnectionState, parse_time, utc_now
from local.fivetran_sim.registrations import WebhookRegistry
from local.fivetran_sim.scheduler import Scheduler
from local.fivetran_sim.seeding import seed_history
from local.fivetran_sim.server import serve
from local.fivetran_sim.webhooks import WebhookLog, WebhookSender
from local.scenario import ConnectorSpec, Scenario

SYNC_HISTORY_MAX_WINDOW = timedelta(days=7)


def _basic(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


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
        page_size: int = 1000,
    ) -> None:
        self.scenario = scenario
        self.fivetran = scenario.fivetran
        self._auth = _basic(api_key, api_secret)
        # fivetran.api_key_rotation: the pair Fivetran accepts after the rotation, and who is told of it
        # (the local runtime puts it in the orchestrator's API secret).
        self.rotated_credentials = (f"{api_key}-rotated", f"{api_secret}-rotated")
        self.on_api_key_rotated: Callable[[str, str], None] | None = None
        self.duckdb_path = duckdb_path
        self.page_size = page_size
        self.connections = {c.id: ConnectionState(c, seed=i) for i, c in enumerate(scenario.connectors)}
        self.calls: Counter = Counter()
        self.sync_ended_at: dict[str, list[datetime]] = {}  # this machine's clock (benchmarks)
        self.errors: list[str] = []
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._zero: float | None = None
        self._scheduler = Scheduler()
        self._sender = WebhookSender(
            url=webhook_url,
            secret=webhook_secret,
            events=self.fivetran.webhook_events,
            group_id=scenario.group_id,
            connections=self.connections,
            lock=self.lock,
            scheduler=self._scheduler,
        )
        self.registry = WebhookRegistry(self.now_f)
        if self.fivetran.webhook_disabled is not None and webhook_url:
            # The scenario speaks of the account's webhook: it is listed, and its state is followed.
            self.registry.add_account(webhook_url, list(self.fivetran.webhook_events), webhook_secret)
            self.registry.on_change = self._follow_account_webhook
        self._player = SyncPlayer(
            lock=self.lock,
            now_f=self.now_f,
            scheduler=self._scheduler,
            sender=self._sender,
            duckdb_path=duckdb_path,
            errors=self.errors,
            sync_ended_at=self.sync_ended_at,
        )

    @property
    def webhook_url(self) -> str | None:
        """Where ``sync_start``/``sync_end`` webhooks go (None: none are sent); may be changed at any time."""
        return self._sender.url

    @webhook_url.setter
    def webhook_url(self, url: str | None) -> None:
        self._sender.url = url

    @property
    def webhooks(self) -> WebhookLog:
        return self._sender.log

    # -- clocks --------------------------------------------------------------------------

    def now_f(self) -> datetime:
        """Fivetran's clock: this machine's plus the scenario's ``fivetran.clock_offset_s``."""
        return utc_now() + timedelta(seconds=self.fivetran.clock_offset_s)

    def begin_run(self) -> None:
        """The run's zero (idempotent): scenario times (``start_s``, ``at_s``, ``remaining_s``)
        count from here. The local runtime calls it once everything is up; a simulator used alone
        begins at its first API request."""
        with self.lock:
            if self._zero is not None:
                return
            self._zero = time.monotonic()
        self._player.begin_run(self.connections.values())
        rotation = self.fivetran.api_key_rotation
        if rotation is not None:
            self._scheduler.later(rotation.at_s, self._rotate_api_key)
        disabled = self.fivetran.webhook_disabled
        if disabled is not None:
            self._scheduler.later(disabled.at_s, self.registry.deactivate, "webhook_account")

    def _follow_account_webhook(self, record: dict[str, Any]) -> None:
        """The account webhook's record changed (disabled by ``fivetran.webhook_disabled``, activated by
        ``PATCH /v1/webhooks/{id}``): the simulator delivers only while it is active, to its URL."""
        if record.get("id") != "webhook_account":
            return
        with self.lock:
            self._sender.active = record.get("active") is not False
            self._sender.url = str(record.get("url") or self._sender.url)

    def _rotate_api_key(self) -> None:
        """The key is rotated: the new pair goes into the secret first (``on_api_key_rotated``), then
        Fivetran accepts only it (the old pair answers 401)."""
        key, secret = self.rotated_credentials
        if self.on_api_key_rotated is not None:
            self.on_api_key_rotated(key, secret)
        with self.lock:
            self._auth = _basic(key, secret)

    def play_run(self, changes: Mapping[str, ConnectorSpec]) -> None:
        """A run of a multi-run scenario starts: from now on each connection plays as ``changes``
        says (that run's ``connectors``), or else as the scenario's own entry. A connection whose
        entry changes takes its ``paused`` and ``setup_state`` too; the others keep theirs."""
        base = {spec.id: spec for spec in self.scenario.connectors}
        with self.lock:
            for cid, state in self.connections.items():
                spec = changes.get(cid, base[cid])
                if spec is state.spec:
                    continue
                state.spec = spec
                state.paused, state.setup_state = spec.paused, spec.setup_state

    def elapsed_s(self) -> float:
        """Seconds since the run's zero (0 before it)."""
        return 0.0 if self._zero is None else time.monotonic() - self._zero

    # -- lifecycle -----------------------------------------------------------------------

    def seed_history(self) -> None:
        """Fivetran has synced these connections before: each schema starts with a historical load
        (see ``seeding``)."""
        seed_history(self.duckdb_path, list(self.connections.values()), self.now_f() - timedelta(hours=1))

    def start(self, port: int = 0) -> str:
        self._server = serve(self, port)
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._scheduler.stop()
        self._player.writer.stop()
        self._sender.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def count(self, endpoint: str) -> None:
        """One more call to ``endpoint`` (e.g. ``POST /v1/connections/{id}/sync``)."""
        with self.lock:
            self.calls[endpoint] += 1

    def api_calls(self) -> dict[str, Any]:
        with self.lock:
            return {"total": sum(self.calls.values()), "by_endpoint": dict(sorted(self.calls.items()))}

    # -- what each API call answers -------------------------------------------------------

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
        with self.lock:
            state = self.connections[connector_id]
            state.api_calls += 1
            n = state.api_calls
            api = state.spec.api
            if n <= api.rate_limit_first:
                return 429, {"Retry-After": "1"}
            if n <= api.rate_limit_first + api.server_error_first:
                return 500, {}
        return None

    def _live(self, connector_id: str) -> ConnectionState:
        """The connection (KeyError, answered 404, if it does not exist or was deleted)."""
        state = self.connections[connector_id]
        if state.deleted:
            raise KeyError(connector_id)
        return state

    def list_connections(self, group_id: str, cursor: str | None, limit: int) -> dict[str, Any]:
        """``GET /v1/groups/{id}/connections``: ``limit`` 1..1000 (default 100) per page, at most
        ``page_size``; ``next_cursor`` absent on the last page (fivetran.md §2.3)."""
        if not 1 <= limit <= 1000:
            raise ApiError(400, {"code": "InvalidInput", "message": "limit must be between 1 and 1000"})
        if cursor is not None and not cursor.isdigit():
            raise ApiError(400, {"code": "InvalidInput", "message": f"invalid cursor {cursor!r}"})
        if group_id not in self.scenario.group_ids:
            raise KeyError(group_id)
        with self.lock:
            ids = [
                cid
                for cid, state in self.connections.items()
                if not state.deleted and (state.group_id or self.scenario.group_id) == group_id
            ]
            start = int(cursor) if cursor and cursor.isdigit() else 0
            size = min(limit, self.page_size)
            page = ids[start : start + size]
            data: dict[str, Any] = {"items": [self.connections[i].to_api(group_id) for i in page]}
        if start + size < len(ids):
            data["next_cursor"] = str(start + size)
        return data

    def connection(self, connector_id: str) -> dict[str, Any]:
        with self.lock:
            return self._live(connector_id).to_api(self.scenario.group_id)

    def trigger(self, connector_id: str) -> None:
        """``POST /v1/connections/{id}/sync`` (``force: false``): start a new sync now, or refuse."""
        with self.lock:
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
            sync = self._player.begin_sync(state, ours=True)
        self._player.play(state, sync, spec.sync.duration_s, outcome, spec.sync.reason)

    def sync_history(self, connector_id: str, query: dict[str, list[str]]) -> dict[str, Any]:
        """``GET /v1/connections/{id}/sync-history``: the syncs overlapping a window of at most
        7 days, newest first, ``limit`` (1..1000, default 100) per page, cursor pagination."""

        def one(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        now = self.now_f()
        try:
            end_time, start_time = one("end_time"), one("start_time")
            end = parse_time(end_time) if end_time else now
            start = parse_time(start_time) if start_time else end - SYNC_HISTORY_MAX_WINDOW
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
        with self.lock:
            state = self._live(connector_id)
            found = [s for s in state.syncs if s.started <= end and (s.ended or now) >= start]
            found.sort(key=lambda s: s.started, reverse=True)
            items = [s.to_api() for s in found[offset : offset + limit]]
        data: dict[str, Any] = {"items": items}
        if offset + limit < len(found):
            data["next_cursor"] = str(offset + limit)
        return data
