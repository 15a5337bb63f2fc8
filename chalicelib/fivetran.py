"""Fivetran REST API client: the three calls the orchestrator needs, and typed records.

- ``GET /v1/groups/{id}/connections`` (cursor pagination to the end, ``limit=1000``)
- ``GET /v1/connections/{id}``
- ``POST /v1/connections/{id}/sync`` with ``{"force": false}`` (join a running sync, never restart it)
- ``POST /v1/webhooks/group/{id}`` and ``GET /v1/webhooks`` (the operator CLI's ``register-webhook``;
  these endpoints want ``Accept: application/json``, not the connection endpoints' ``version=2``)

Retries (connection errors, 5xx, 429 with ``Retry-After``, exponential backoff, bounded)
are urllib3's ``Retry`` on the requests adapter; other 4xx fail at once. A 429 whose
``Retry-After`` is longer than ``max_retry_after`` is not slept on inside Lambda: it
raises ``FivetranRateLimited`` so Step Functions can back off instead. The client never
changes a connection's schedule type or paused state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from chalicelib.errors import (
    FivetranApiError,
    FivetranAuthError,
    FivetranNotFound,
    FivetranRateLimited,
)
from chalicelib.timeutil import parse_timestamp

__all__ = ["Connection", "FivetranClient"]

USER_AGENT = "fivetran-orchestrator/0.1 (+https://github.com/fivetran-orchestrator)"
ACCEPT_V2 = "application/json;version=2"
ACCEPT_JSON = "application/json"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Connection:
    """A Fivetran connection, as the orchestrator sees it."""

    id: str
    service: str
    schema: str
    paused: bool
    schedule_type: str
    setup_state: str
    sync_state: str
    succeeded_at: datetime | None
    failed_at: datetime | None
    rescheduled_for: datetime | None
    group_id: str | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> Connection:
        status = data.get("status") or {}
        return cls(
            id=str(data["id"]),
            service=str(data.get("service") or ""),
            schema=str(data.get("schema") or ""),
            paused=bool(data.get("paused", False)),
            schedule_type=str(data.get("schedule_type") or "auto"),
            setup_state=str(status.get("setup_state") or "connected"),
            sync_state=str(status.get("sync_state") or "scheduled"),
            succeeded_at=parse_timestamp(data.get("succeeded_at")),
            failed_at=parse_timestamp(data.get("failed_at")),
            rescheduled_for=parse_timestamp(status.get("rescheduled_for")),
            group_id=data.get("group_id"),
        )

    @property
    def is_connected(self) -> bool:
        return self.setup_state == "connected"

    @property
    def last_completed_at(self) -> datetime | None:
        """When the latest sync ended, successfully or not (the only reliable completion signal)."""
        stamps = [t for t in (self.succeeded_at, self.failed_at) if t is not None]
        return max(stamps) if stamps else None

    @property
    def last_sync_succeeded(self) -> bool:
        if self.succeeded_at is None:
            return False
        return self.failed_at is None or self.succeeded_at >= self.failed_at


class _BoundedRetry(Retry):
    """urllib3 Retry that refuses to sleep longer than ``max_retry_after`` on a Retry-After,
    and sleeps through an injectable function so tests never wait."""

    max_retry_after: float = 30.0
    sleep_fn: Callable[[float], None] = staticmethod(time.sleep)

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):  # type: ignore[no-untyped-def]
        if response is not None and response.status == 429:
            wait = self.get_retry_after(response)
            if wait is not None and wait > self.max_retry_after:
                # Hand the 429 back (raise_on_status=False returns it) instead of holding a
                # Lambda for an hour; Step Functions backs off on Fivetran.RateLimited.
                raise MaxRetryError(_pool, url or "", ResponseError("Retry-After longer than we wait"))
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def sleep_for_retry(self, response=None) -> bool:  # type: ignore[no-untyped-def]
        wait = self.get_retry_after(response) if response is not None else None
        if wait:
            type(self).sleep_fn(wait)
            return True
        return False

    def _sleep_backoff(self) -> None:
        backoff = self.get_backoff_time()
        if backoff > 0:
            type(self).sleep_fn(backoff)


class FivetranClient:
    """Thin per-endpoint methods over one private ``_request``.

    Args:
        base_url: e.g. ``https://api.fivetran.com`` (or the local simulator's URL).
        api_key, api_secret: HTTP Basic credentials.
        session: an injectable ``requests.Session`` (tests pass one or use ``responses``).
        sleep: what the retry policy sleeps with (tests pass a recorder).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_secret: str,
        *,
        timeout: float = 30.0,
        max_retries: int = 4,
        backoff_factor: float = 1.0,
        max_retry_after: float = 30.0,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._session = session or requests.Session()
        self._session.auth = (api_key, api_secret)
        self._session.headers.update({"User-Agent": USER_AGENT, "Accept": ACCEPT_V2})
        retry_cls = type(
            "FivetranRetry",
            (_BoundedRetry,),
            {"max_retry_after": max_retry_after, "sleep_fn": staticmethod(sleep)},
        )
        retry = retry_cls(
            total=max_retries,
            connect=max_retries,
            read=max_retries,
            status=max_retries,
            backoff_factor=backoff_factor,
            backoff_max=30,
            status_forcelist=RETRY_STATUSES,
            # POST /sync with force=false is safe to repeat: a running sync is joined, not restarted.
            allowed_methods=frozenset({"GET", "POST"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)

    # -- endpoints -------------------------------------------------------------------

    def list_group_connections(self, group_id: str) -> list[Connection]:
        """Every connection of a group, following ``next_cursor`` to the last page."""
        return list(self._iter_group_connections(group_id))

    def _iter_group_connections(self, group_id: str) -> Iterator[Connection]:
        cursor: str | None = None
        seen: set[str] = set()
        path = f"/v1/groups/{quote(group_id, safe='')}/connections"
        while True:
            params: dict[str, Any] = {"limit": 1000}
            if cursor:
                params["cursor"] = cursor
            data = self._request("GET", path, params=params)
            for item in data.get("items") or []:
                yield Connection.from_api(item)
            cursor = data.get("next_cursor")
            if not cursor:
                return
            if cursor in seen:
                raise FivetranApiError(f"Fivetran repeated the page cursor for {path}; stopping", path=path)
            seen.add(cursor)

    def get_connection(self, connection_id: str) -> Connection:
        data = self._request("GET", f"/v1/connections/{quote(connection_id, safe='')}")
        return Connection.from_api(data)

    def trigger_sync(self, connection_id: str) -> str:
        """Start a sync (``force: false``: an in-flight sync is joined). Returns Fivetran's message."""
        path = f"/v1/connections/{quote(connection_id, safe='')}/sync"
        try:
            body = self._request("POST", path, json={"force": False})
        except FivetranApiError as exc:
            if exc.status == 409:
                # "a sync already in progress": with force=false that sync is the one we wait for.
                return "joined the sync already in progress"
            raise
        return str(body.get("message", "")) if isinstance(body, dict) else ""

    def create_group_webhook(
        self, group_id: str, *, url: str, events: list[str], secret: str, active: bool = True
    ) -> dict[str, Any]:
        """Create a group webhook. Fivetran first POSTs a test event to ``url`` and answers 400
        unless that gets a 2xx. Returns the webhook (``id``, ``url``, ``events``, ``active``...)."""
        path = f"/v1/webhooks/group/{quote(group_id, safe='')}"
        body = {"url": url, "events": list(events), "active": active, "secret": secret}
        return self._request("POST", path, json=body, accept=ACCEPT_JSON)

    def list_webhooks(self) -> list[dict[str, Any]]:
        """Every webhook of the account (group and account webhooks), following ``next_cursor``."""
        hooks: list[dict[str, Any]] = []
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            params: dict[str, Any] = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
            data = self._request("GET", "/v1/webhooks", params=params, accept=ACCEPT_JSON)
            hooks.extend(item for item in data.get("items") or [] if isinstance(item, dict))
            cursor = data.get("next_cursor")
            if not cursor:
                return hooks
            if cursor in seen:
                raise FivetranApiError("Fivetran repeated the page cursor for /v1/webhooks; stopping")
            seen.add(cursor)

    # -- transport -------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        accept: str | None = None,
    ) -> dict[str, Any]:
        """One call; ``accept`` overrides the session's ``Accept`` (``version=2``) for this call only."""
        url = self._base_url + path
        headers = {"Accept": accept} if accept else None
        try:
            response = self._session.request(
                method, url, params=params, json=json, headers=headers, timeout=self._timeout
            )
        except requests.exceptions.RetryError as exc:
            raise FivetranApiError(
                f"Fivetran kept failing {method} {path} after retries: {exc}", method=method, path=path
            ) from exc
        except requests.RequestException as exc:
            raise FivetranApiError(
                f"could not reach Fivetran for {method} {path}: {type(exc).__name__}: {exc}",
                method=method,
                path=path,
            ) from exc
        return self._unwrap(response, method, path)

    @staticmethod
    def _unwrap(response: requests.Response, method: str, path: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        code = body.get("code") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else None
        status = response.status_code
        where = f"{method} {path}"
        detail = f"{status} {code or ''} {message or response.text[:200]}".strip()
        ctx: dict[str, Any] = {"status": status, "code": code, "method": method, "path": path}
        if status in (401, 403):
            raise FivetranAuthError(
                f"Fivetran refused the API key for {where} ({detail}): "
                "check the key/secret and its permissions",
                **ctx,
            )
        if status == 404:
            raise FivetranNotFound(f"Fivetran has no such resource for {where} ({detail})", **ctx)
        if status == 429:
            retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
            raise FivetranRateLimited(
                f"Fivetran rate limit hit for {where}; retry after {retry_after or 'a while'} s",
                retry_after=retry_after,
                **ctx,
            )
        if status >= 400:
            raise FivetranApiError(f"Fivetran API error for {where}: {detail}", **ctx)
        if not isinstance(body, dict):
            raise FivetranApiError(f"Fivetran answered {where} with a body that is not JSON", **ctx)
        data = body.get("data", body)
        return data if isinstance(data, dict) else {"items": data}


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
