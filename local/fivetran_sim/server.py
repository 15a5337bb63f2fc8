"""The simulator's HTTP side: the routes of the API subset (group connections, connection detail,
sync trigger, sync history, group webhooks), HTTP Basic auth, per-endpoint call counting, the
scenario's outage and faults, Fivetran's error envelopes, and a ``Date`` header on Fivetran's clock.
What each call answers is ``FivetranSimulator``'s (``simulator``)."""

from __future__ import annotations

import email.utils
import re
import threading
from datetime import datetime
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlparse

from local.fivetran_sim.errors import ApiError
from local.json_http import JsonRequestHandler

if TYPE_CHECKING:
    from local.fivetran_sim.simulator import FivetranSimulator

# The listen backlog of the API server: thousands of triggers may arrive at once.
REQUEST_QUEUE_SIZE = 1024

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


class _Server(ThreadingHTTPServer):
    request_queue_size = REQUEST_QUEUE_SIZE
    daemon_threads = True


def serve(simulator: FivetranSimulator, port: int = 0) -> ThreadingHTTPServer:
    """Serve ``simulator``'s API on 127.0.0.1:``port`` (0: a free port) from a daemon thread."""

    class Handler(_Handler):
        sim = simulator

    server = _Server(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="fivetran-sim", daemon=True
    ).start()
    return server


class _Handler(JsonRequestHandler):
    sim: FivetranSimulator

    received: datetime | None = None

    def date_time_string(self, timestamp: float | None = None) -> str:
        """Every answer's ``Date`` header is on Fivetran's clock (RFC 7231): the moment the request
        arrived, so a sync the request starts never starts before its trigger's acceptance second
        (stamped at the answer, a sync started at 12:00:00.999 was dated 12:00:01)."""
        moment = self.received or self.sim.now_f()
        return email.utils.formatdate(moment.timestamp(), usegmt=True)

    def _route(self, method: str) -> None:
        sim = self.sim
        self.received = sim.now_f()
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
                sim.count(endpoint)
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
            status, answer = sim.registry.create(ident, body)
            self.send_json(status, answer)
            return
        if endpoint == "GET /v1/webhooks":
            self.send_json(200, {"code": "Success", "data": {"items": list(sim.registry.hooks.values())}})
            return
        connector_id = None if endpoint.startswith("GET /v1/groups") else ident
        fault = sim.fault_for(connector_id)
        if fault:
            status, headers = fault
            code = "TooManyRequests" if status == 429 else "InternalServerError"
            self.send_json(status, {"code": code, "message": "simulated"}, headers)
            return
        if endpoint.startswith("GET /v1/groups"):
            raw_limit = (query.get("limit") or ["100"])[0]
            limit = int(raw_limit) if raw_limit.isdigit() else 0
            cursor = query.get("cursor")
            data = sim.list_connections(ident, cursor[0] if cursor else None, limit)
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
            with sim.lock:
                sim.count("PATCH /v1/webhooks/{id}")
            status, answer = sim.registry.update(match.group(1), body)
            self.send_json(status, answer)

    def do_POST(self) -> None:
        self._route("POST")
