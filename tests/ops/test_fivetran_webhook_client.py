"""The operator's Fivetran webhook calls (``ops/fivetran_admin.py``: ``create_group_webhook``,
``list_webhooks``, ``update_webhook_secret``) against ``responses``, on the Lambda client's transport."""

from __future__ import annotations

import json

import pytest
import responses
from responses import matchers

from chalicelib.fivetran.transport import ACCEPT_V2
from chalicelib.platform.errors import FivetranApiError, FivetranAuthError
from ops.fivetran_admin import ACCEPT_JSON, FivetranAdmin

BASE = "https://api.fivetran.test"


@pytest.fixture
def client() -> FivetranAdmin:
    return FivetranAdmin(BASE, "key", "secret", max_retries=0, sleep=lambda seconds: None)


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps


def test_create_group_webhook_posts_url_events_and_secret_with_the_plain_json_accept_header(
    client: FivetranAdmin, mocked: responses.RequestsMock
) -> None:
    body = {
        "url": "https://api.example/webhooks/fivetran",
        "events": ["sync_end"],
        "active": True,
        "secret": "s3",
    }
    mocked.post(
        f"{BASE}/v1/webhooks/group/projected_sickle",
        json={"code": "Success", "data": {"id": "hook_1", "url": body["url"], "events": ["sync_end"]}},
        status=201,
        match=[matchers.json_params_matcher(body), matchers.header_matcher({"Accept": ACCEPT_JSON})],
    )

    created = client.create_group_webhook(
        "projected_sickle", url=body["url"], events=["sync_end"], secret="s3"
    )

    assert created["id"] == "hook_1"
    assert mocked.calls[0].request.headers["Content-Type"] == "application/json"


def test_list_webhooks_follows_the_cursor_to_the_last_page(
    client: FivetranAdmin, mocked: responses.RequestsMock
) -> None:
    mocked.get(
        f"{BASE}/v1/webhooks",
        json={"code": "Success", "data": {"items": [{"id": "a"}], "next_cursor": "c2"}},
        match=[
            matchers.query_param_matcher({"limit": "1000"}),
            matchers.header_matcher({"Accept": ACCEPT_JSON}),
        ],
    )
    mocked.get(
        f"{BASE}/v1/webhooks",
        json={"code": "Success", "data": {"items": [{"id": "b"}, {"id": "c"}]}},
        match=[matchers.query_param_matcher({"limit": "1000", "cursor": "c2"})],
    )

    assert [hook["id"] for hook in client.list_webhooks()] == ["a", "b", "c"]


def test_list_webhooks_stops_when_fivetran_repeats_a_cursor(
    client: FivetranAdmin, mocked: responses.RequestsMock
) -> None:
    page = {"code": "Success", "data": {"items": [{"id": "a"}], "next_cursor": "same"}}
    mocked.get(f"{BASE}/v1/webhooks", json=page)

    with pytest.raises(FivetranApiError, match="repeated the page cursor"):
        client.list_webhooks()


def test_connection_calls_keep_the_version_2_accept_header(
    client: FivetranAdmin, mocked: responses.RequestsMock
) -> None:
    mocked.get(f"{BASE}/v1/webhooks", json={"code": "Success", "data": {"items": []}})
    mocked.get(
        f"{BASE}/v1/connections/decent_dropsy",
        json={"code": "Success", "data": {"id": "decent_dropsy", "status": {}}},
        match=[matchers.header_matcher({"Accept": ACCEPT_V2})],
    )

    client.list_webhooks()
    client.get_connection("decent_dropsy")

    assert [call.request.headers["Accept"] for call in mocked.calls] == [ACCEPT_JSON, ACCEPT_V2]


def test_a_refused_api_key_on_a_webhook_call_raises_the_typed_auth_error(
    client: FivetranAdmin, mocked: responses.RequestsMock
) -> None:
    mocked.get(f"{BASE}/v1/webhooks", json={"code": "AuthFailed", "message": "Invalid API key"}, status=401)

    with pytest.raises(FivetranAuthError, match="refused the API key for GET /v1/webhooks"):
        client.list_webhooks()


def test_a_create_refused_by_fivetran_carries_its_status_and_message(
    client: FivetranAdmin, mocked: responses.RequestsMock
) -> None:
    mocked.post(
        f"{BASE}/v1/webhooks/group/g",
        body=json.dumps({"code": "BadRequest", "message": "test delivery did not get a 2xx answer"}),
        status=400,
    )

    with pytest.raises(FivetranApiError) as raised:
        client.create_group_webhook("g", url="https://x/webhooks/fivetran", events=["sync_end"], secret="s")

    assert raised.value.status == 400
    assert "did not get a 2xx" in str(raised.value)


def test_update_webhook_secret_patches_the_webhook_with_the_plain_json_accept_header(
    client: FivetranAdmin, mocked: responses.RequestsMock
) -> None:
    mocked.patch(
        f"{BASE}/v1/webhooks/hook%2F1",
        json={"code": "Success", "data": {"id": "hook/1", "active": True}},
        match=[
            matchers.json_params_matcher({"secret": "fresh"}),
            matchers.header_matcher({"Accept": ACCEPT_JSON}),
        ],
    )

    assert client.update_webhook_secret("hook/1", "fresh") == {"id": "hook/1", "active": True}


def test_the_lambda_client_has_no_operator_calls() -> None:
    from chalicelib.fivetran.client import FivetranClient

    for name in ("create_group_webhook", "update_webhook_secret", "activate_webhook"):
        assert not hasattr(FivetranClient, name), name
        assert hasattr(FivetranAdmin, name), name
    # The one webhook read the Lambdas make: the safety net's webhook watchdog lists the webhooks.
    assert FivetranAdmin.list_webhooks is FivetranClient.list_webhooks


def test_activate_webhook_patches_active_and_the_url(
    mocked: responses.RequestsMock, client: FivetranAdmin
) -> None:
    body = {"url": "https://api.example.com/webhooks/fivetran", "active": True}
    mocked.add(
        responses.PATCH,
        f"{BASE}/v1/webhooks/hook_1",
        json={"code": "Success", "data": {"id": "hook_1", **body}},
        match=[matchers.json_params_matcher(body), matchers.header_matcher({"Accept": ACCEPT_JSON})],
    )

    assert client.activate_webhook("hook_1", url=body["url"])["active"] is True
