"""The Fivetran transport: one ``requests`` session, bounded retries, a time budget per caller, and
Fivetran's answers turned into data or typed errors. ``client.FivetranClient`` adds the endpoints.

Retries (connection errors, 5xx, 429 with ``Retry-After``, exponential backoff, bounded)
are urllib3's ``Retry`` on the requests adapter; other 4xx fail at once. No wait is longer
than what the caller has left: ``within(seconds)`` gives a caller its own view of the client (the
same session) whose every call, retries and backoff included, ends within ``seconds`` from then
(handlers pass the Lambda's remaining time less a margin, ``platform.timeutil.lambda_time_budget``):
a 429 whose ``Retry-After`` is longer than ``max_retry_after`` or than that budget raises
``FivetranRateLimited`` (with ``retry_after``) at once, so the state machine waits instead
of a Lambda dying of its own backoff (what happens next: ``chalicelib/run/rate_limit.py``). The
client never changes a connection's schedule type or paused state.

API key rotation: on a 401 the credentials are read again once (``credentials_refresh``, which
bypasses the secrets cache) and, if they changed, the call is sent again with the new pair; a 401
that persists after that raises ``FivetranAuthError`` naming the secret to rotate
(``credentials_name``).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from types import TracebackType
from typing import Any, Self, TypedDict, Unpack

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry

from chalicelib.platform.errors import (
    FivetranApiError,
    FivetranAuthError,
    FivetranNotFound,
    FivetranRateLimited,
)
from chalicelib.platform.log import logger

__all__ = ["ACCEPT_V2", "FivetranTransport", "api_key_refused"]

USER_AGENT = "fivetran-orchestrator/0.1 (+https://github.com/fivetran-orchestrator)"
ACCEPT_V2 = "application/json;version=2"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


# When the running call's time budget ends (``time.monotonic()``), for the retry policy: set by
# ``_send`` around one call only, from the calling view's budget (``FivetranTransport.within``).
_CALL_ENDS_AT: ContextVar[float] = ContextVar("fivetran_call_ends_at", default=float("inf"))


def _call_budget() -> float:
    """Seconds the running call has left (infinite without a budget)."""
    return max(0.0, _CALL_ENDS_AT.get() - time.monotonic())


class CallOptions(TypedDict, total=False):
    """The keywords of one call: query ``params``, a ``json`` body, an ``accept`` that overrides
    the session's ``Accept`` (``version=2``), and a ``timeout`` in seconds (capped by the client's)."""

    params: dict[str, Any] | None
    json: dict[str, Any] | None
    accept: str | None
    timeout: float | None


class BoundedRetry(Retry):
    """urllib3's ``Retry``, bounded by time, on public ``Retry`` API only.

    ``increment`` refuses a ``Retry-After`` longer than ``max_retry_after`` or than what the calling
    thread has left (``budget``), and a backoff longer than that; ``sleep`` waits through the injected
    ``sleep`` (tests never wait); ``new`` (urllib3's copy after every attempt) carries the three along.
    """

    def __init__(
        self,
        *,
        max_retry_after: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        budget: Callable[[], float] = _call_budget,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.max_retry_after = max_retry_after
        self.sleep_fn = sleep
        self.budget_fn = budget

    def new(self, **kw: Any) -> Self:
        kw.setdefault("max_retry_after", self.max_retry_after)
        kw.setdefault("sleep", self.sleep_fn)
        kw.setdefault("budget", self.budget_fn)
        return super().new(**kw)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: TracebackType | None = None,
    ) -> Self:
        budget = self.budget_fn()
        if response is not None and response.status == 429:
            wait = self.get_retry_after(response)
            if wait is not None and wait > min(self.max_retry_after, budget):
                # Hand the 429 back (raise_on_status=False returns it) instead of holding a
                # Lambda past its time; the state machine waits on Fivetran.RateLimited.
                # (urllib3's own increment passes its optional pool to MaxRetryError the same way)
                reason = ResponseError("Retry-After longer than we can wait")
                raise MaxRetryError(_pool, url or "", reason)  # type: ignore[arg-type]
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        if new.get_backoff_time() > budget:
            raise MaxRetryError(_pool, url or "", ResponseError("no time left to back off"))  # type: ignore[arg-type]
        return new

    def sleep(self, response: BaseHTTPResponse | None = None) -> None:
        """Between attempts: the server's ``Retry-After`` if it gave one, else the backoff."""
        if self.respect_retry_after_header and response:
            wait = self.get_retry_after(response)
            if wait:
                self.sleep_fn(wait)
                return
        backoff = self.get_backoff_time()
        if backoff > 0:
            self.sleep_fn(backoff)


class FivetranTransport:
    """One session to Fivetran: ``_request`` (one call, unwrapped) and ``_items`` (every page).

    Args:
        base_url: e.g. ``https://api.fivetran.com`` (or the local simulator's URL).
        api_key, api_secret: HTTP Basic credentials.
        session: an injectable ``requests.Session`` (tests pass one or use ``responses``).
        sleep: what the retry policy sleeps with (tests pass a recorder).
        credentials_refresh: ``() -> (api_key, api_secret)`` read fresh from where they are kept
            (called once on a 401; None: a 401 fails at once).
        credentials_name: where the credentials are kept, for the error a person reads (the
            secret's id, or the environment variables).
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
        credentials_refresh: Callable[[], tuple[str, str]] | None = None,
        credentials_name: str = "the Fivetran API credentials",
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._refresh = credentials_refresh
        self.credentials_name = credentials_name
        self._timeout = timeout
        self._ends_at = float("inf")  # this view's time budget (``within``), on ``time.monotonic()``
        self._session = session or requests.Session()
        self._session.auth = (api_key, api_secret)
        self._session.headers.update({"User-Agent": USER_AGENT, "Accept": ACCEPT_V2})
        retry = BoundedRetry(
            max_retry_after=max_retry_after,
            sleep=sleep,
            budget=_call_budget,
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

    # -- time budget -----------------------------------------------------------------

    def within(self, seconds: float | None) -> Self:
        """A view of this client (the same session, credentials and retry policy) whose every call,
        retry and backoff ends within ``seconds`` from now (None: no bound). The view is the caller's
        own: concurrent callers of one cached client each pass their own budget."""
        view = copy.copy(self)
        view._ends_at = float("inf") if seconds is None else time.monotonic() + max(0.0, seconds)
        return view

    def budget(self) -> float:
        """Seconds this view has left (infinite without a budget)."""
        return max(0.0, self._ends_at - time.monotonic())

    # -- transport -------------------------------------------------------------------

    def _items(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        accept: str | None = None,
        timeout: float | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every object in ``items`` of every page (``limit=1000``, following ``next_cursor``).

        Raises ``FivetranApiError`` if Fivetran hands back a cursor it already gave (a loop).
        """
        params = {"limit": 1000, **(params or {})}
        seen: set[str] = set()
        while True:
            data = self._request(method, path, params=params, accept=accept, timeout=timeout)
            yield from (item for item in data.get("items") or [] if isinstance(item, dict))
            cursor = data.get("next_cursor")
            if not cursor:
                return
            if cursor in seen:
                raise FivetranApiError(f"Fivetran repeated the page cursor for {path}; stopping", path=path)
            seen.add(cursor)
            params["cursor"] = cursor

    def _request(self, method: str, path: str, **options: Unpack[CallOptions]) -> dict[str, Any]:
        """One call, unwrapped (``_unwrap``'s typed errors)."""
        return self._unwrap(self._send(method, path, **options), method, path)

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        accept: str | None = None,
        timeout: float | None = None,
    ) -> requests.Response:
        """One call, the raw answer; the keywords are ``CallOptions``'."""
        url = self._base_url + path
        headers = {"Accept": accept} if accept else None
        limit = min(timeout or self._timeout, self._timeout)
        budget = self.budget()
        if budget <= 0:
            raise FivetranApiError(
                f"no time left to call Fivetran for {method} {path}", method=method, path=path
            )
        scope = _CALL_ENDS_AT.set(self._ends_at)  # the retry policy's bound, for this call only
        try:
            response = self._session.request(
                method, url, params=params, json=json, headers=headers, timeout=min(limit, budget)
            )
            if response.status_code == 401 and self._reread_credentials():
                response = self._session.request(
                    method, url, params=params, json=json, headers=headers, timeout=min(limit, self.budget())
                )
            return response
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
        finally:
            _CALL_ENDS_AT.reset(scope)

    def _reread_credentials(self) -> bool:
        """After a 401: the credentials read again (bypassing the cache); True if they changed and
        the session now uses them (the call is worth sending again)."""
        if self._refresh is None:
            return False
        try:
            fresh = self._refresh()
        except Exception as exc:  # an unreadable secret: the 401 stands (and says what to do)
            logger.warning(
                "could not read the Fivetran API credentials again", extra={"error": str(exc)[:300]}
            )
            return False
        if fresh == self._session.auth:
            return False
        logger.info("Fivetran refused the API key; the rotated credentials are used from now on")
        self._session.auth = fresh
        return True

    def _unwrap(self, response: requests.Response, method: str, path: str) -> dict[str, Any]:
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
        if status == 401:
            raise FivetranAuthError(
                api_key_refused(where, detail, self.credentials_name, self._refresh is not None), **ctx
            )
        if status == 403:
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


def api_key_refused(where: str, detail: str, credentials_name: str, reread: bool) -> str:
    """What a person reads when Fivetran refuses the API key (401): what happened and what to do."""
    again = f", also after reading {credentials_name} again" if reread else ""
    return (
        f"Fivetran refused the API key for {where} ({detail}){again}: check the key/secret and its"
        " permissions. A key rotated or revoked in Fivetran: generate a new one and put the pair in"
        f" {credentials_name}"
        ' ({"api_key": "...", "api_secret": "..."}); see "Rotating the Fivetran API key" in docs/operate.md'
    )


def _retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
