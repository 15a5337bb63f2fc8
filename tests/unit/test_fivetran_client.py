"""The Fivetran REST client against ``responses``: paths, headers, pagination, retries, typed errors.

``responses`` emulates urllib3's ``Retry`` (it calls ``Retry.increment`` itself) but never sleeps;
the sleeping half of the policy is checked on the adapter's ``Retry`` object, which is what
urllib3 calls between attempts.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import pytest
import requests
import responses
from responses import matchers
from urllib3.exceptions import MaxRetryError
from urllib3.response import HTTPResponse

from chalicelib.fivetran.client import Connection, FivetranClient
from chalicelib.platform.errors import (
    FivetranApiError,
    FivetranAuthError,
    FivetranError,
    FivetranNotFound,
    FivetranRateLimited,
    InvalidInput,
    PausedConnections,
    SecretUnavailable,
    TokenStoreError,
)

BASE = "https://api.fivetran.test"
GROUP_URL = f"{BASE}/v1/groups/projected_sickle/connections"


class SleepRecorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def client(sleeps: SleepRecorder) -> FivetranClient:
    return FivetranClient(BASE, "key", "secret", timeout=7.5, max_retries=3, sleep=sleeps)


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def item(connection_id: str, **extra) -> dict:
    return {
        "id": connection_id,
        "group_id": "projected_sickle",
        "service": "postgres",
        "schema": connection_id,
        "paused": False,
        "schedule_type": "auto",
        "succeeded_at": None,
        "failed_at": None,
        "status": {"setup_state": "connected", "sync_state": "scheduled"},
        **extra,
    }


def ok(data: dict) -> dict:
    return {"code": "Success", "message": "ok", "data": data}


def connection_ok(connection_id: str) -> dict:
    return ok(item(connection_id))


# -- pagination -----------------------------------------------------------------------------------


def test_group_listing_follows_next_cursor_to_the_end_with_limit_1000(client, mocked):
    mocked.get(
        GROUP_URL,
        match=[matchers.query_param_matcher({"limit": "1000"})],
        json=ok({"items": [item("a"), item("b")], "next_cursor": "c1"}),
    )
    mocked.get(
        GROUP_URL,
        match=[matchers.query_param_matcher({"limit": "1000", "cursor": "c1"})],
        json=ok({"items": [item("c")], "next_cursor": "c2"}),
    )
    mocked.get(
        GROUP_URL,
        match=[matchers.query_param_matcher({"limit": "1000", "cursor": "c2"})],
        json=ok({"items": []}),  # the last page may be empty; no next_cursor ends it
    )

    connections = client.list_group_connections("projected_sickle")

    assert [c.id for c in connections] == ["a", "b", "c"]
    assert len(mocked.calls) == 3


def test_a_null_next_cursor_also_ends_the_listing(client, mocked):
    mocked.get(GROUP_URL, json=ok({"items": [item("only")], "next_cursor": None}))

    assert [c.id for c in client.list_group_connections("projected_sickle")] == ["only"]
    assert len(mocked.calls) == 1


def test_ids_are_quoted_into_the_path(client, mocked):
    mocked.get(f"{BASE}/v1/connections/weird%2Fid%20x", json=connection_ok("weird/id x"))

    assert client.get_connection("weird/id x").id == "weird/id x"


# -- headers, body, timeout -------------------------------------------------------------------------


def test_every_call_sends_basic_auth_versioned_accept_a_project_user_agent_and_a_timeout(client, mocked):
    mocked.get(f"{BASE}/v1/connections/decent_dropsy", json=connection_ok("decent_dropsy"))
    mocked.get(GROUP_URL, json=ok({"items": []}))
    mocked.post(f"{BASE}/v1/connections/decent_dropsy/sync", json={"code": "Success", "message": "triggered"})

    client.get_connection("decent_dropsy")
    client.list_group_connections("projected_sickle")
    client.trigger_sync("decent_dropsy")

    expected_auth = "Basic " + base64.b64encode(b"key:secret").decode()
    assert len(mocked.calls) == 3
    for call in mocked.calls:
        headers = call.request.headers
        assert headers["Authorization"] == expected_auth
        assert headers["Accept"] == "application/json;version=2"
        assert "fivetran-orchestrator" in headers["User-Agent"]
        assert call.request.req_kwargs["timeout"] == 7.5


def test_trigger_sync_posts_force_false_as_json_and_returns_fivetrans_message(client, mocked):
    mocked.post(
        f"{BASE}/v1/connections/decent_dropsy/sync",
        match=[matchers.json_params_matcher({"force": False}, strict_match=True)],
        json={
            "code": "Success",
            "message": "Sync has been successfully triggered for connection with id 'x'",
        },
        headers={"Date": "Thu, 15 Jan 2026 10:29:58 GMT"},
    )

    answer = client.trigger_sync("decent_dropsy")

    assert answer.message.startswith("Sync has been successfully triggered")
    assert answer.joined is False
    # Fivetran's clock, from the answer's Date header: the token's anchor
    assert answer.accepted_at == datetime(2026, 1, 15, 10, 29, 58, tzinfo=UTC)
    request = mocked.calls[0].request
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {"force": False}


def test_the_client_only_ever_reads_connections_and_posts_sync(client, mocked):
    mocked.get(GROUP_URL, json=ok({"items": [item("a")]}))
    mocked.get(f"{BASE}/v1/connections/a", json=connection_ok("a"))
    mocked.post(f"{BASE}/v1/connections/a/sync", json={"code": "Success"})

    client.list_group_connections("projected_sickle")
    client.get_connection("a")
    client.trigger_sync("a")

    # never a PATCH: the schedule type and the paused flag are the owner's
    assert [(c.request.method, c.request.path_url.split("?")[0]) for c in mocked.calls] == [
        ("GET", "/v1/groups/projected_sickle/connections"),
        ("GET", "/v1/connections/a"),
        ("POST", "/v1/connections/a/sync"),
    ]


def test_a_trailing_slash_on_the_base_url_is_harmless(sleeps, mocked):
    mocked.get(f"{BASE}/v1/connections/a", json=connection_ok("a"))
    assert FivetranClient(BASE + "/", "k", "s", sleep=sleeps).get_connection("a").id == "a"


# -- retries ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("statuses", [[500], [502], [503], [500, 502, 503]], ids=str)
def test_server_errors_are_retried_then_the_success_is_returned(client, mocked, statuses):
    url = f"{BASE}/v1/connections/a"
    for status in statuses:
        mocked.get(url, status=status, json={"code": "ServerError", "message": "try again"})
    mocked.get(url, json=connection_ok("a"))

    assert client.get_connection("a").id == "a"
    assert len(mocked.calls) == len(statuses) + 1


def test_the_sync_post_is_retried_on_a_server_error_too(client, mocked):
    url = f"{BASE}/v1/connections/a/sync"
    mocked.post(url, status=503)
    mocked.post(url, json={"code": "Success", "message": "triggered"})

    assert client.trigger_sync("a").message == "triggered"
    assert len(mocked.calls) == 2


def test_a_429_with_retry_after_2_is_retried_and_the_call_succeeds(client, mocked):
    url = f"{BASE}/v1/connections/a"
    mocked.get(url, status=429, headers={"Retry-After": "2"}, json={"code": "TooManyRequests"})
    mocked.get(url, json=connection_ok("a"))

    assert client.get_connection("a").id == "a"
    assert len(mocked.calls) == 2


def test_the_retry_policy_sleeps_retry_after_through_the_injected_sleep(sleeps):
    session = requests.Session()
    FivetranClient(BASE, "k", "s", session=session, sleep=sleeps)
    retry = session.get_adapter(BASE).max_retries
    response = HTTPResponse(status=429, headers={"Retry-After": "2"}, preload_content=False)

    started = time.monotonic()
    retry = retry.increment(method="GET", url="/v1/connections/a", response=response)
    retry.sleep(response)  # what urllib3 calls between attempts

    assert sleeps.calls == [2]
    assert time.monotonic() - started < 2  # nothing really slept (the Retry-After is 2 s)


def test_the_retry_policy_backs_off_through_the_injected_sleep(sleeps):
    session = requests.Session()
    FivetranClient(BASE, "k", "s", session=session, sleep=sleeps, backoff_factor=1.0)
    retry = session.get_adapter(BASE).max_retries
    response = HTTPResponse(status=503, preload_content=False)

    for _ in range(3):
        retry = retry.increment(method="GET", url="/v1/connections/a", response=response)
    retry.sleep(response)

    assert len(sleeps.calls) == 1
    assert 0 < sleeps.calls[0] <= 30


def test_a_429_with_retry_after_longer_than_max_retry_after_raises_rate_limited_at_once(sleeps, mocked):
    client = FivetranClient(BASE, "k", "s", max_retries=3, max_retry_after=30, sleep=sleeps)
    mocked.get(
        f"{BASE}/v1/connections/a", status=429, headers={"Retry-After": "3600"}, json={"code": "TooMany"}
    )

    with pytest.raises(FivetranRateLimited) as caught:
        client.get_connection("a")

    assert caught.value.retry_after == 3600
    assert caught.value.status == 429
    assert len(mocked.calls) == 1
    assert 3600 not in sleeps.calls


def test_the_retry_policy_refuses_to_wait_longer_than_max_retry_after(sleeps):
    session = requests.Session()
    FivetranClient(BASE, "k", "s", session=session, sleep=sleeps, max_retry_after=30)
    retry = session.get_adapter(BASE).max_retries
    response = HTTPResponse(status=429, headers={"Retry-After": "3600"}, preload_content=False)

    with pytest.raises(MaxRetryError):
        retry.increment(method="GET", url="/v1/connections/a", response=response)
    assert sleeps.calls == []


def test_server_errors_are_retried_a_bounded_number_of_times_then_raise_api_error(sleeps, mocked):
    client = FivetranClient(BASE, "k", "s", max_retries=2, sleep=sleeps)
    mocked.get(f"{BASE}/v1/connections/a", status=500, json={"code": "ServerError", "message": "down"})

    with pytest.raises(FivetranApiError) as caught:
        client.get_connection("a")

    assert len(mocked.calls) == 3  # the first try and max_retries more
    assert caught.value.status == 500
    assert "down" in str(caught.value)


def test_a_429_that_outlasts_the_retries_raises_rate_limited_with_the_wait(sleeps, mocked):
    client = FivetranClient(BASE, "k", "s", max_retries=2, sleep=sleeps)
    mocked.get(f"{BASE}/v1/connections/a", status=429, headers={"Retry-After": "1"})

    with pytest.raises(FivetranRateLimited) as caught:
        client.get_connection("a")

    assert caught.value.retry_after == 1
    assert len(mocked.calls) == 3


def test_zero_retries_means_one_call(sleeps, mocked):
    client = FivetranClient(BASE, "k", "s", max_retries=0, sleep=sleeps)
    mocked.get(f"{BASE}/v1/connections/a", status=503)

    with pytest.raises(FivetranApiError):
        client.get_connection("a")
    assert len(mocked.calls) == 1


# -- typed errors, no retry ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failures_raise_auth_error_at_once_without_the_credentials_in_the_message(
    sleeps, mocked, status
):
    client = FivetranClient(BASE, "api-key-1234", "api-secret-5678", sleep=sleeps)
    mocked.get(f"{BASE}/v1/connections/a", status=status, json={"code": "AuthFailed", "message": "bad key"})

    with pytest.raises(FivetranAuthError) as caught:
        client.get_connection("a")

    assert len(mocked.calls) == 1
    assert caught.value.status == status
    assert "api-key-1234" not in str(caught.value)
    assert "api-secret-5678" not in str(caught.value)


def basic(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


def test_a_401_reads_the_credentials_again_once_and_a_rotated_pair_answers_the_call(sleeps, mocked):
    reads: list[str] = []

    def fresh() -> tuple[str, str]:
        reads.append("read")
        return "new-key", "new-secret"

    client = FivetranClient(BASE, "old-key", "old-secret", sleep=sleeps, credentials_refresh=fresh)
    url = f"{BASE}/v1/connections/a"
    old = matchers.header_matcher({"Authorization": basic("old-key", "old-secret")})
    new = matchers.header_matcher({"Authorization": basic("new-key", "new-secret")})
    mocked.get(url, status=401, json={"code": "AuthFailed", "message": "bad key"}, match=[old])
    mocked.get(url, json={"code": "Success", "data": {"id": "a", "service": "stripe"}}, match=[new])

    assert client.get_connection("a").id == "a"
    assert reads == ["read"]
    assert len(mocked.calls) == 2
    assert client.get_connection("a").id == "a"  # the new pair is kept
    assert reads == ["read"]


def test_a_401_that_persists_after_reading_the_credentials_again_names_the_secret_to_rotate(sleeps, mocked):
    client = FivetranClient(
        BASE,
        "api-key-1234",
        "api-secret-5678",
        sleep=sleeps,
        credentials_refresh=lambda: ("api-key-1234", "api-secret-5678"),
        credentials_name="the secret fivetran-orchestrator/dev/fivetran-api",
    )
    mocked.get(f"{BASE}/v1/connections/a", status=401, json={"code": "AuthFailed", "message": "bad key"})

    with pytest.raises(FivetranAuthError) as caught:
        client.get_connection("a")

    assert len(mocked.calls) == 1  # the same pair is not sent again
    message = str(caught.value)
    assert "also after reading the secret fivetran-orchestrator/dev/fivetran-api again" in message
    assert "put the pair in the secret fivetran-orchestrator/dev/fivetran-api" in message
    assert "api-key-1234" not in message and "api-secret-5678" not in message


def test_404_raises_not_found_with_fivetrans_code(client, mocked):
    mocked.get(
        f"{BASE}/v1/connections/gone",
        status=404,
        json={"code": "NotFound_Connection", "message": "Connection with id 'gone' doesn't exist"},
    )

    with pytest.raises(FivetranNotFound) as caught:
        client.get_connection("gone")

    assert len(mocked.calls) == 1
    assert caught.value.status == 404
    assert caught.value.code == "NotFound_Connection"
    assert caught.value.method == "GET"
    assert caught.value.path == "/v1/connections/gone"


def test_a_sync_already_in_progress_is_joined_not_raised(client, mocked):
    # 409 "a sync already in progress": with force=false that running sync is the one the run waits for.
    conflict = {"code": "Conflict", "message": "in progress"}
    mocked.post(
        f"{BASE}/v1/connections/a/sync",
        status=409,
        json=conflict,
        headers={"Date": "Thu, 15 Jan 2026 10:29:58 GMT"},
    )

    answer = client.trigger_sync("a")

    assert answer.joined is True
    assert answer.accepted_at == datetime(2026, 1, 15, 10, 29, 58, tzinfo=UTC)
    assert len(mocked.calls) == 1


def test_an_answer_without_a_date_header_has_no_acceptance_time(client, mocked):
    mocked.post(f"{BASE}/v1/connections/a/sync", json={"code": "Success", "message": "ok"})

    assert client.trigger_sync("a").accepted_at is None


def test_the_sync_history_is_read_over_a_window_page_by_page_into_sync_records(client, mocked):
    url = f"{BASE}/v1/connections/a/sync-history"
    first = {
        "items": [
            {"sync_id": "s2", "start_time": "2026-01-15T10:40:00Z", "end_time": None, "status": "RUNNING"},
            {
                "sync_id": "s1",
                "start_time": "2026-01-15T10:30:00Z",
                "end_time": "2026-01-15T10:35:00Z",
                "status": "failure_with_task",
                "reason": "token expired",
            },
        ],
        "next_cursor": "c2",
    }
    mocked.get(
        url,
        json=ok(first),
        match=[
            matchers.query_param_matcher(
                {"start_time": "2026-01-15T10:00:00Z", "end_time": "2026-01-15T11:00:00Z", "limit": "1000"}
            )
        ],
    )
    mocked.get(url, json=ok({"items": [{"id": "s0", "start_time": "2026-01-15T10:01:00Z"}]}))

    records = client.sync_history(
        "a", datetime(2026, 1, 15, 10, tzinfo=UTC), datetime(2026, 1, 15, 11, tzinfo=UTC)
    )

    assert [r.sync_id for r in records] == ["s2", "s1", "s0"]
    running, failed, _ = records
    assert running.ended_at is None and running.status is None  # still running: no end status
    assert failed.status == "FAILURE_WITH_TASK" and failed.reason == "token expired"
    assert failed.ended_at == datetime(2026, 1, 15, 10, 35, tzinfo=UTC)
    assert all(r.source == "history" for r in records)
    assert "cursor=c2" in mocked.calls[1].request.url


def test_no_retry_after_is_slept_past_the_callers_deadline(sleeps, mocked):
    client = FivetranClient(BASE, "k", "s", max_retries=3, max_retry_after=30, sleep=sleeps)
    client = client.within(5)
    mocked.post(f"{BASE}/v1/connections/a/sync", status=429, headers={"Retry-After": "20"}, json={})

    with pytest.raises(FivetranRateLimited) as caught:
        client.trigger_sync("a")

    assert caught.value.retry_after == 20
    assert sleeps.calls == []
    assert len(mocked.calls) == 1


def test_each_callers_time_budget_is_its_own_view_of_the_one_client(sleeps, mocked):
    client = FivetranClient(BASE, "k", "s", max_retries=3, max_retry_after=30, sleep=sleeps)
    for _ in range(2):
        mocked.post(f"{BASE}/v1/connections/a/sync", status=429, headers={"Retry-After": "20"}, json={})
    mocked.post(f"{BASE}/v1/connections/a/sync", status=200, json={"code": "Success"})

    with pytest.raises(FivetranRateLimited):
        client.within(5).trigger_sync("a")  # 20 s is longer than this caller has
    answer = client.trigger_sync("a")  # the shared client kept no budget: this caller retries after 20 s

    assert answer.joined is False
    assert len(mocked.calls) == 3


def test_a_caller_without_time_left_calls_nothing(client, mocked):
    with pytest.raises(FivetranApiError, match="no time left"):
        client.within(0).trigger_sync("a")

    assert len(mocked.calls) == 0


@pytest.mark.parametrize("status", [400, 405, 406, 415, 422])
def test_other_client_errors_raise_api_error_at_once(client, mocked, status):
    mocked.post(f"{BASE}/v1/connections/a/sync", status=status, json={"code": "BadRequest", "message": "no"})

    with pytest.raises(FivetranApiError) as caught:
        client.trigger_sync("a")

    assert len(mocked.calls) == 1
    assert caught.value.status == status
    assert not isinstance(caught.value, FivetranAuthError | FivetranNotFound | FivetranRateLimited)


def test_a_connection_error_raises_api_error(client, mocked):
    mocked.get(f"{BASE}/v1/connections/a", body=requests.exceptions.ConnectionError("connection refused"))

    with pytest.raises(FivetranApiError, match="could not reach Fivetran"):
        client.get_connection("a")


def test_a_timeout_raises_api_error(client, mocked):
    mocked.get(f"{BASE}/v1/connections/a", body=requests.exceptions.ReadTimeout("read timed out"))

    with pytest.raises(FivetranApiError):
        client.get_connection("a")


def test_a_success_status_with_a_body_that_is_not_json_raises_api_error(client, mocked):
    mocked.get(f"{BASE}/v1/connections/a", body="<html>gateway</html>", content_type="text/html")

    with pytest.raises(FivetranApiError, match="not JSON"):
        client.get_connection("a")


def test_an_error_status_with_an_html_body_still_raises_the_typed_error(client, mocked):
    mocked.get(f"{BASE}/v1/connections/a", status=404, body="<html>nope</html>", content_type="text/html")

    with pytest.raises(FivetranNotFound):
        client.get_connection("a")


# -- error names are what the state machine matches ----------------------------------------------------


@pytest.mark.parametrize(
    ("error", "name"),
    [
        (FivetranRateLimited, "Fivetran.RateLimited"),
        (FivetranNotFound, "Fivetran.NotFound"),
        (FivetranApiError, "Fivetran.ApiError"),
        (FivetranAuthError, "Fivetran.AuthError"),
        (InvalidInput, "Orchestrator.InvalidInput"),
        (PausedConnections, "Orchestrator.PausedConnections"),
        (TokenStoreError, "Orchestrator.TokenStoreError"),
        (SecretUnavailable, "Orchestrator.SecretUnavailable"),
    ],
)
def test_error_class_names_are_the_asl_names(error, name):
    assert error.__name__ == name


def test_every_fivetran_error_is_a_fivetran_error():
    for error in (FivetranRateLimited, FivetranNotFound, FivetranApiError, FivetranAuthError):
        assert issubclass(error, FivetranError)


def test_rate_limited_carries_retry_after():
    error = FivetranRateLimited("slow down", retry_after=12.0, status=429)
    assert (error.retry_after, error.status, str(error)) == (12.0, 429, "slow down")


# -- Connection records -----------------------------------------------------------------------------------

DOCUMENTED_ITEM = {
    "id": "decent_dropsy",
    "group_id": "projected_sickle",
    "service": "postgres",
    "service_version": 1,
    "schema": "pg_prod",
    "connected_by": "monitoring_assuring",
    "created_at": "2025-03-01T12:00:00.000000Z",
    "succeeded_at": "2026-01-15T09:58:11.513722Z",
    "failed_at": None,
    "paused": False,
    "pause_after_trial": False,
    "sync_frequency": 1440,
    "daily_sync_time": "03:00",
    "schedule_type": "manual",
    "data_delay_sensitivity": "NORMAL",
    "status": {
        "setup_state": "connected",
        "sync_state": "scheduled",
        "update_state": "on_schedule",
        "is_historical_sync": False,
        "tasks": [],
        "warnings": [],
    },
    "config": {},
}


def test_connection_from_the_documented_list_item():
    conn = Connection.from_api(DOCUMENTED_ITEM)

    assert conn.id == "decent_dropsy"
    assert conn.group_id == "projected_sickle"
    assert conn.service == "postgres"
    assert conn.schema == "pg_prod"
    assert conn.paused is False
    assert conn.schedule_type == "manual"
    assert conn.setup_state == "connected"
    assert conn.is_connected
    assert conn.sync_state == "scheduled"
    assert conn.succeeded_at == datetime(2026, 1, 15, 9, 58, 11, 513722, tzinfo=UTC)
    assert conn.failed_at is None
    assert conn.last_completed_at == conn.succeeded_at
    assert conn.last_sync_succeeded is True
    assert conn.rescheduled_for is None


def test_a_later_failure_makes_the_last_sync_a_failure():
    conn = Connection.from_api({**DOCUMENTED_ITEM, "failed_at": "2026-01-15T10:05:00.000000Z"})

    assert conn.last_completed_at == datetime(2026, 1, 15, 10, 5, tzinfo=UTC)
    assert conn.last_sync_succeeded is False


def test_a_connection_that_never_synced_has_no_completion():
    conn = Connection.from_api({**DOCUMENTED_ITEM, "succeeded_at": None})

    assert conn.last_completed_at is None
    assert conn.last_sync_succeeded is False


def test_a_rescheduled_connection_carries_rescheduled_for():
    status = {
        **DOCUMENTED_ITEM["status"],
        "sync_state": "rescheduled",
        "rescheduled_for": "2026-01-15T11:34:53.894Z",
    }
    conn = Connection.from_api({**DOCUMENTED_ITEM, "status": status})

    assert conn.sync_state == "rescheduled"
    assert conn.rescheduled_for == datetime(2026, 1, 15, 11, 34, 53, 894000, tzinfo=UTC)


def test_a_broken_connection_is_not_connected():
    status = {**DOCUMENTED_ITEM["status"], "setup_state": "broken"}
    assert not Connection.from_api({**DOCUMENTED_ITEM, "status": status}).is_connected


def test_get_connection_unwraps_the_data_envelope(client, mocked):
    mocked.get(f"{BASE}/v1/connections/decent_dropsy", json=ok(DOCUMENTED_ITEM))

    assert client.get_connection("decent_dropsy") == Connection.from_api(DOCUMENTED_ITEM)
