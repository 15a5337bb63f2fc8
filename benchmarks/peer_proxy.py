"""A small HTTP proxy that lets the polling peer talk to the Fivetran simulator.

``dagster-fivetran`` calls Fivetran's legacy ``/v1/connectors/...`` paths; the simulator
(``local/fivetran_sim/``, not ours to change) serves the current ``/v1/connections/...`` ones.
This proxy, started by the benchmark on 127.0.0.1, maps one to the other and counts every call the
peer makes, by legacy endpoint: those counts are the peer's Fivetran API calls.

==========================================  ====================================================
peer calls                                  proxy does
==========================================  ====================================================
``GET /v1/connectors/{id}``                 forwards ``GET /v1/connections/{id}``
``POST /v1/connectors/{id}/force``          forwards ``POST /v1/connections/{id}/sync`` (nothing
                                            is running, so force and sync start the same sync)
``PATCH /v1/connectors/{id}``               answers itself with the connection (from a forwarded
                                            GET) carrying the requested ``schedule_type``: the
                                            simulator has no PATCH
``GET /v1/connectors/{id}/schemas``         answers itself with an empty schema config: the
                                            simulator has no schema endpoint
==========================================  ====================================================
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from http.server import ThreadingHTTPServer

import requests

from local.json_http import JsonRequestHandler

__all__ = ["LegacyPathProxy"]

_CONNECTOR = re.compile(r"^/v1/connectors/([^/]+)/?$")
_FORCE = re.compile(r"^/v1/connectors/([^/]+)/force/?$")
_SCHEMAS = re.compile(r"^/v1/connectors/([^/]+)/schemas/?$")
EMPTY_SCHEMA_CONFIG = {"enable_new_by_default": True, "schema_change_handling": "ALLOW_ALL", "schemas": {}}


class _Server(ThreadingHTTPServer):
    """A listen backlog for a thousand peer threads connecting at once (the default is 5: the
    excess connections are reset and the peer counts them as failed requests)."""

    request_queue_size = 1024
    daemon_threads = True


class LegacyPathProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> str:
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self._server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, name="peer-proxy", daemon=True).start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def count(self, endpoint: str) -> None:
        with self._lock:
            self.calls[endpoint] += 1

    def total(self) -> int:
        with self._lock:
            return sum(self.calls.values())

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    def forward(self, method: str, path: str, auth: str | None) -> tuple[int, bytes]:
        response = requests.request(
            method,
            f"{self.upstream}{path}",
            headers={"Authorization": auth or "", "Content-Type": "application/json"},
            timeout=30,
        )
        return response.status_code, response.content


class _Handler(JsonRequestHandler):
    owner: LegacyPathProxy

    def _route(self, method: str) -> None:
        owner = self.owner
        path = self.path.split("?", 1)[0]
        auth = self.headers.get("Authorization")
        body = self.read_json() if method in ("POST", "PATCH") else {}
        if method == "GET" and (match := _SCHEMAS.match(path)):
            owner.count("GET /v1/connectors/{id}/schemas")
            self.send_raw(200, json.dumps({"code": "Success", "data": EMPTY_SCHEMA_CONFIG}).encode())
        elif method == "POST" and (match := _FORCE.match(path)):
            owner.count("POST /v1/connectors/{id}/force")
            self.send_raw(*owner.forward("POST", f"/v1/connections/{match.group(1)}/sync", auth))
        elif method == "GET" and (match := _CONNECTOR.match(path)):
            owner.count("GET /v1/connectors/{id}")
            self.send_raw(*owner.forward("GET", f"/v1/connections/{match.group(1)}", auth))
        elif method == "PATCH" and (match := _CONNECTOR.match(path)):
            owner.count("PATCH /v1/connectors/{id}")
            status, raw = owner.forward("GET", f"/v1/connections/{match.group(1)}", auth)
            if status == 200:
                answer = json.loads(raw)
                answer["data"].update({k: v for k, v in body.items() if k == "schedule_type"})
                raw = json.dumps(answer).encode()
            self.send_raw(status, raw)
        else:
            owner.count(f"{method} (unmapped)")
            message = {"code": "NotFound", "message": f"benchmark proxy: no mapping for {method} {path}"}
            self.send_raw(404, json.dumps(message).encode())

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PATCH(self) -> None:
        self._route("PATCH")
