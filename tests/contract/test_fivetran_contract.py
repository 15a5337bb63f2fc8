"""The fake (``tests/fakes.py: FakeFivetran``) and the real client (``chalicelib/fivetran/client.py`` against
``responses``) answer the same cases the same way, so tests that use the fake test what production
does: a trigger accepted (200), a trigger that joins a running sync (409 -> ``TriggerResult.joined``),
a trigger refused for a while (429 with ``Retry-After`` -> ``FivetranRateLimited``), an unknown
connection (404 -> ``FivetranNotFound``), one connection, a group's connections over several pages,
and a connection's sync history over several pages.

Each case describes a Fivetran account (a ``World``); ``fake`` and ``real`` build a client for it.
"""

from __future__ import annotations

import email.utils
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import responses

from chalicelib.fivetran.client import Connection, FivetranClient, sync_from_history
from chalicelib.platform.errors import FivetranNotFound, FivetranRateLimited
from tests.fakes import FakeFivetran, connection

BASE = "https://api.fivetran.contract"
GROUP = "group"
PAGE = 2  # the real side's page size: every listing below spans several pages
START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


@dataclass
class World:
    """A Fivetran account as both sides must see it."""

    connections: list[Connection] = field(default_factory=list)
    running: set[str] = field(default_factory=set)  # a trigger joins the sync (409)
    rate_limited: dict[str, float] = field(default_factory=dict)  # a trigger is refused (429, Retry-After)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # sync-history items


def api_item(c: Connection) -> dict[str, Any]:
    """A connection as ``GET /v1/connections/{id}`` returns it."""
    return {
        "id": c.id,
        "group_id": c.group_id,
        "service": c.service,
        "schema": c.schema,
        "paused": c.paused,
        "schedule_type": c.schedule_type,
        "succeeded_at": c.succeeded_at.isoformat() if c.succeeded_at else None,
        "failed_at": c.failed_at.isoformat() if c.failed_at else None,
        "status": {"setup_state": c.setup_state, "sync_state": c.sync_state},
    }


def envelope(status: int, data: Any = None, *, code: str = "Success", message: str = "ok") -> tuple:
    body: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        body["data"] = data
    headers = {"Date": email.utils.format_datetime(datetime.now(UTC), usegmt=True)}
    return status, headers, json.dumps(body)


def page_of(items: list[dict[str, Any]], query: dict[str, list[str]]) -> dict[str, Any]:
    """Cursor paging as Fivetran does it: the cursor is where the next page starts."""
    start = int(query.get("cursor", ["0"])[0])
    data: dict[str, Any] = {"items": items[start : start + PAGE]}
    if start + PAGE < len(items):
        data["next_cursor"] = str(start + PAGE)
    return data


def fivetran_api(world: World) -> Callable[[Any], tuple]:
    """A ``responses`` callback playing the Fivetran REST API for ``world``."""
    by_id = {c.id: c for c in world.connections}

    def answer(request: Any) -> tuple:
        url = urlparse(request.url)
        query = parse_qs(url.query)
        if re.fullmatch(r"/v1/groups/[^/]+/connections", url.path):
            return envelope(200, page_of([api_item(c) for c in world.connections], query))
        match = re.fullmatch(r"/v1/connections/([^/]+)(/sync|/sync-history)?", url.path)
        assert match, f"unexpected call {request.method} {url.path}"
        connection_id, action = match.groups()
        if connection_id not in by_id:
            return envelope(404, code="NotFound_Connection", message=f"Connection {connection_id} not found")
        if action is None:
            return envelope(200, api_item(by_id[connection_id]))
        if action == "/sync-history":
            return envelope(200, page_of(world.history.get(connection_id, []), query))
        if connection_id in world.rate_limited:
            status, headers, body = envelope(429, code="TooManyRequests", message="slow down")
            return status, {**headers, "Retry-After": str(int(world.rate_limited[connection_id]))}, body
        if connection_id in world.running:
            return envelope(409, code="Conflict", message="a sync is already in progress")
        return envelope(200, code="Success", message="Sync has been successfully triggered")

    return answer


def fake(world: World) -> Iterator[Any]:
    client = FakeFivetran(*world.connections)
    client.running = set(world.running)
    client.rate_limited = dict(world.rate_limited)
    client.history = {
        cid: [r for r in map(sync_from_history, items) if r is not None]
        for cid, items in world.history.items()
    }
    yield client


def real(world: World) -> Iterator[Any]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.add_callback(responses.GET, re.compile(re.escape(BASE) + r"/.*"), callback=fivetran_api(world))
        mocked.add_callback(
            responses.POST, re.compile(re.escape(BASE) + r"/.*"), callback=fivetran_api(world)
        )
        yield FivetranClient(BASE, "key", "secret", max_retries=0, sleep=lambda seconds: None)


@pytest.fixture(params=[fake, real], ids=["fake", "real"])
def client_for(request: pytest.FixtureRequest) -> Iterator[Callable[[World], Any]]:
    opened: list[Iterator[Any]] = []

    def build(world: World) -> Any:
        context = request.param(world)
        opened.append(context)
        return next(context)

    yield build
    for context in opened:
        next(context, None)  # leave the `responses` context


# -- trigger ------------------------------------------------------------------------------------


def test_a_trigger_is_accepted_with_fivetrans_clock_in_whole_seconds(client_for: Callable) -> None:
    client = client_for(World([connection("stripe")]))
    before = datetime.now(UTC).replace(microsecond=0)

    result = client.trigger_sync("stripe")

    assert result.joined is False
    assert result.accepted_at is not None
    assert result.accepted_at.tzinfo is not None and result.accepted_at.utcoffset() == timedelta(0)
    assert result.accepted_at.microsecond == 0
    assert before - timedelta(seconds=5) <= result.accepted_at <= datetime.now(UTC) + timedelta(seconds=5)


def test_a_trigger_on_a_running_sync_joins_it(client_for: Callable) -> None:
    client = client_for(World([connection("stripe")], running={"stripe"}))

    result = client.trigger_sync("stripe")

    assert result.joined is True
    assert result.accepted_at is not None


def test_a_rate_limited_trigger_raises_with_fivetrans_wait(client_for: Callable) -> None:
    client = client_for(World([connection("stripe")], rate_limited={"stripe": 120}))

    with pytest.raises(FivetranRateLimited) as raised:
        client.trigger_sync("stripe")

    assert raised.value.retry_after == 120
    assert raised.value.status == 429


def test_a_trigger_of_an_unknown_connection_is_not_found(client_for: Callable) -> None:
    client = client_for(World([connection("stripe")]))

    with pytest.raises(FivetranNotFound) as raised:
        client.trigger_sync("nobody")

    assert raised.value.status == 404


# -- reads --------------------------------------------------------------------------------------


def test_get_connection_returns_the_connection(client_for: Callable) -> None:
    done = START - timedelta(hours=1)
    stripe = connection("stripe", service="stripe", schema="stripe_prod", succeeded_at=done)
    paused = connection("hubspot", paused=True, setup_state="broken", sync_state="paused")
    client = client_for(World([stripe, paused]))

    assert client.get_connection("stripe") == stripe
    assert client.get_connection("hubspot") == paused


def test_get_connection_of_an_unknown_connection_is_not_found(client_for: Callable) -> None:
    client = client_for(World([connection("stripe")]))

    with pytest.raises(FivetranNotFound) as raised:
        client.get_connection("nobody")

    assert raised.value.status == 404


def test_a_group_listing_returns_every_connection_in_order_across_pages(client_for: Callable) -> None:
    connections = [connection(f"c{n}") for n in range(5)]  # three pages on the real side
    client = client_for(World(connections))

    assert client.list_group_connections(GROUP) == connections


def test_sync_history_returns_every_sync_across_pages(client_for: Callable) -> None:
    def sync(n: int, status: str | None) -> dict[str, Any]:
        started = START + timedelta(minutes=10 * n)
        return {
            "sync_id": f"sync-{n}",
            "start_time": started.isoformat(),
            "end_time": (started + timedelta(minutes=5)).isoformat() if status else None,
            "status": status,
        }

    items = [sync(0, "SUCCESSFUL"), sync(1, "FAILURE"), sync(2, "RESCHEDULED"), sync(3, None)]
    client = client_for(World([connection("stripe")], history={"stripe": items}))

    history = client.sync_history("stripe", START, START + timedelta(hours=2))

    assert [(r.sync_id, r.status) for r in history] == [
        ("sync-0", "SUCCESSFUL"),
        ("sync-1", "FAILURE"),
        ("sync-2", "RESCHEDULED"),
        ("sync-3", None),  # still running: no end status
    ]
    assert history[0].started_at == START
    assert history[3].ended_at is None
    assert all(r.source == "history" for r in history)
