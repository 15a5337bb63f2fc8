"""``register-webhook --local`` against the Fivetran simulator, whose creation probe posts to our route.

The simulator creates a webhook only when its signed test event gets a 2xx from the URL
(as Fivetran does), so a created webhook proves the route verified the signature and
answered 200; a state file with another webhook secret shows the probe being refused.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import requests
from click.testing import Result

from contracts.state_file import STATE_FILE_ENV, LocalState
from ops.fivetran_admin import FivetranAdmin
from tests.ops.support import Served, assert_readable_error, invoke

# What register-webhook subscribes to: the sync events and the connection events the webhook acts on.
EVENTS = ["sync_start", "sync_end", "pause_connector", "delete_connector", "connection_failure"]


def run_cli(state_file: Path, *args: str) -> Result:
    return invoke(list(args), env={STATE_FILE_ENV: str(state_file)})


def webhooks(state: LocalState) -> list[dict]:
    return FivetranAdmin(
        state.fivetran_api_url, state.fivetran_api_key, state.fivetran_api_secret
    ).list_webhooks()


def altered_state_file(served: Served, directory: Path, **changes: str) -> Path:
    """A copy of the runtime's state file with some values changed (same live runtime)."""
    path = directory / "altered-state.json"
    path.write_text(dataclasses.replace(served.state, **changes).to_json(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def first_registration(served: Served) -> Result:
    return run_cli(served.state_file, "register-webhook", "--local", "--group", "ops_group")


def test_register_webhook_creates_the_group_webhook_and_its_test_delivery_is_accepted(
    served: Served, first_registration: Result
) -> None:
    assert first_registration.exit_code == 0, first_registration.output
    assert (
        f"for group ops_group: {', '.join(EVENTS)} → {served.state.webhook_url}" in first_registration.output
    )
    assert "test delivery reached the route and was accepted" in first_registration.output
    (hook,) = [h for h in webhooks(served.state) if h["group_id"] == "ops_group"]
    assert (hook["url"], hook["events"], hook["active"]) == (
        served.state.webhook_url,
        EVENTS,
        True,
    )


def test_a_second_registration_reports_the_webhook_and_creates_nothing(
    served: Served, first_registration: Result
) -> None:
    before = webhooks(served.state)

    again = run_cli(served.state_file, "register-webhook", "--local", "--group", "ops_group")

    assert again.exit_code == 0, again.output
    assert again.output.startswith("already registered: Fivetran webhook ")
    assert "nothing created" in again.output
    assert webhooks(served.state) == before


def test_a_webhook_fivetran_disabled_is_re_activated_not_duplicated(
    served: Served, first_registration: Result
) -> None:
    (hook,) = [h for h in webhooks(served.state) if h["group_id"] == "ops_group"]
    disabled = requests.patch(  # as Fivetran leaves it after about 24 hours of failed deliveries
        f"{served.state.fivetran_api_url}/v1/webhooks/{hook['id']}",
        json={"active": False},
        auth=(served.state.fivetran_api_key, served.state.fivetran_api_secret),
        timeout=10,
    )
    assert disabled.status_code == 200 and disabled.json()["data"]["active"] is False
    count = len(webhooks(served.state))

    again = run_cli(served.state_file, "register-webhook", "--local", "--group", "ops_group")

    assert again.exit_code == 0, again.output
    assert again.output.startswith(f"re-activated Fivetran webhook {hook['id']} for group ops_group: ")
    assert "test delivery reached the route and was accepted" in again.output
    (after,) = [h for h in webhooks(served.state) if h["group_id"] == "ops_group"]
    assert (after["id"], after["url"], after["active"]) == (hook["id"], served.state.webhook_url, True)
    assert len(webhooks(served.state)) == count


def test_dry_run_prints_the_request_with_the_secret_masked_and_sends_nothing(
    served: Served, tmp_path: Path
) -> None:
    # The local runtime knows one group; a state file naming another lets the simulator serve it too.
    other_group = altered_state_file(served, tmp_path, group_id="dry_group")

    result = run_cli(other_group, "register-webhook", "--local", "--group", "dry_group", "--dry-run")

    assert result.exit_code == 0, result.output
    head, body_text = result.stdout.split("\n\n", 1)
    assert head.splitlines() == [
        f"POST {served.state.fivetran_api_url}/v1/webhooks/group/dry_group",
        "Accept: application/json",
        "Content-Type: application/json",
    ]
    body = json.loads(body_text)
    assert body == {
        "url": served.state.webhook_url,
        "events": EVENTS,
        "active": True,
        "secret": "********",
    }
    assert served.state.webhook_secret not in result.output
    assert "nothing was sent" in result.stderr
    assert not [h for h in webhooks(served.state) if h["group_id"] == "dry_group"]


def test_a_route_that_refuses_fivetrans_test_delivery_fails_the_registration_readably(
    served: Served, tmp_path: Path
) -> None:
    wrong_secret = altered_state_file(
        served, tmp_path, webhook_secret="not-the-route-secret", group_id="probe_group"
    )

    result = run_cli(wrong_secret, "register-webhook", "--local", "--group", "probe_group")

    message = assert_readable_error(result)
    assert message.startswith("Fivetran refused the webhook:")
    assert f"Fivetran posts a test event to {served.state.webhook_url} and needs a 2xx" in message
    assert not [h for h in webhooks(served.state) if h["group_id"] == "probe_group"]


def test_a_fivetran_401_is_a_one_line_error(served: Served, tmp_path: Path) -> None:
    wrong_key = altered_state_file(served, tmp_path, fivetran_api_secret="wrong-secret")

    result = run_cli(wrong_key, "register-webhook", "--local", "--group", "ops_group")

    message = assert_readable_error(result)
    assert message.startswith("Fivetran refused the API key for GET /v1/webhooks (401 AuthFailed")
    assert "check the key/secret and its permissions" in message
