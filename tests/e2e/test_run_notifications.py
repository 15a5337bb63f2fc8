"""A run's end sends one message (issue 27, item 1), delivered to a real HTTP receiver on 127.0.0.1 as to a
Slack incoming webhook: the local runtime invokes ``notify_run`` as the stack's EventBridge rule does,
with the scenario's ``settings.notify_slack_url``."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from local.report import build_report
from local.runtime import LocalRuntime
from local.scenario import Scenario, parse_scenario

pytestmark = pytest.mark.e2e

SCENARIOS = Path(__file__).resolve().parents[2] / "local" / "scenarios"


class Receiver:
    """An HTTP server that answers ``ok`` to every POST and keeps the JSON bodies."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append(json.loads(body))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                return

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T000/B000/local"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


def scenario(name: str, slack_url: str) -> Scenario:
    raw = yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text(encoding="utf-8"))
    raw.setdefault("settings", {})["notify_slack_url"] = slack_url
    return parse_scenario(raw, name)


def unreachable_url() -> str:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/services/T000/B000/down"


def test_a_failed_run_sends_one_message_naming_the_failed_connection_and_its_reason(
    receiver: Receiver, tmp_path: Path
) -> None:
    with LocalRuntime(
        scenario("one_fails_policy_fail", receiver.url), workdir=tmp_path, dbt="stand-in"
    ) as rt:
        result = rt.run()
        run = result.execution_arn.rsplit(":", 1)[-1]

    assert result.described["status"] == "FAILED"
    assert len(receiver.received) == 1
    text = receiver.received[0]["text"]
    assert f"run {run} failed" in text
    assert "salesforce_main (salesforce): failed" in text and "OAuth token expired" in text
    assert "stripe_prod" not in text.split("Failed or timed out:")[1].split("dbt")[0]
    assert "1 succeeded, 1 failed, 0 timed out" in text
    assert "Duration: " in text
    assert f"orchestrator show {run} --local" in text and f"orchestrator retry {run} --local" in text
    assert result.notification is not None and result.notification["sent"] is True


def test_a_run_that_succeeds_with_an_exclusion_sends_its_own_message(
    receiver: Receiver, tmp_path: Path
) -> None:
    with LocalRuntime(
        scenario("one_fails_policy_continue", receiver.url), workdir=tmp_path, dbt="stand-in"
    ) as rt:
        result = rt.run()
        assert rt.iam is not None
        notify_calls = {
            (action, resource.split(":::")[-1].split("/")[1])
            for who, action, resource in rt.iam.decisions
            if who == "notify_run" and action == "s3:GetObject"
        }
        notify_actions = {action for who, action, _ in rt.iam.decisions if who == "notify_run"}

    assert rt.iam.denials == []  # notify_run's calls, as its deployed role allows them
    assert notify_actions == {"states:DescribeExecution", "s3:GetObject"}
    assert notify_calls == {("s3:GetObject", "runs"), ("s3:GetObject", "dbt-runs")}
    assert result.described["status"] == "SUCCEEDED"
    assert len(receiver.received) == 1
    text = receiver.received[0]["text"]
    assert "succeeded with exclusions" in text
    assert "zendesk_support (zendesk): failed" in text and "canceled by a user" in text
    assert "dbt excluded these sources (their connection did not succeed): zendesk" in text
    assert "dbt: exit code 0" in text


def test_a_receiver_that_is_down_changes_nothing_in_the_runs_outcome(tmp_path: Path) -> None:
    with LocalRuntime(
        scenario("one_fails_policy_fail", unreachable_url()), workdir=tmp_path / "down", dbt="stand-in"
    ) as rt:
        down = rt.run()
        down_report = build_report(rt, down)
    with LocalRuntime(
        parse_scenario(yaml.safe_load((SCENARIOS / "one_fails_policy_fail.yaml").read_text()), "quiet"),
        workdir=tmp_path / "quiet",
        dbt="stand-in",
    ) as rt:
        quiet = rt.run()
        quiet_report = build_report(rt, quiet)

    assert down.notification is not None
    assert down.notification["error"] == "Orchestrator.NotificationUndelivered"
    assert "slack: unreachable after retries" in down.notification["detail"]
    assert quiet.notification is None  # no channel: no rule, nothing invoked
    assert down.described["status"] == quiet.described["status"] == "FAILED"
    assert down.described["error"] == quiet.described["error"]
    outcomes = {c["connector_id"]: c["outcome"] for c in down_report["connectors"]}
    assert outcomes == {c["connector_id"]: c["outcome"] for c in quiet_report["connectors"]}
    assert outcomes == {"stripe_prod": "succeeded", "salesforce_main": "failed"}
    assert down_report["tokens_left"] == 0
