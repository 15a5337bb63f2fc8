"""``notify_run`` and its channels on moto and a real HTTP receiver: Slack deliveries retried by urllib3
(a 503, then ok), a refusal not retried, SNS publishes, the Slack URL read from Secrets Manager, and the
Lambda entry point reading the run's files and DescribeExecution."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from app import notify_run
from chalicelib.notify.delivery import SlackWebhook, SnsTopic
from chalicelib.notify.message import build_message
from chalicelib.platform.config import Settings
from chalicelib.platform.errors import InvalidInput, NotificationUndelivered, SecretUnavailable
from chalicelib.platform.secrets import SecretSource
from chalicelib.wiring import Dependencies, reset_dependencies, set_dependencies
from tests.conftest import REGION, TABLE
from tests.functional.moto_support import run_machine

MESSAGE = build_message(
    {"name": "run-1", "status": "FAILED", "startDate": 0, "stopDate": 61_000},
    outcomes=None,
    dbt_summary=None,
    stage="dev",
)


class Receiver:
    """Answers each POST with the next of ``answers`` (then 200 ``ok``) and keeps the bodies."""

    def __init__(self, answers: list[int]) -> None:
        self.bodies: list[dict[str, Any]] = []
        bodies, pending = self.bodies, list(answers)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                bodies.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0))))
                status = pending.pop(0) if pending else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"invalid_payload")

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/T/B/x"


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    found = Receiver(getattr(request, "param", []))
    threading.Thread(target=found.server.serve_forever, daemon=True).start()
    yield found
    found.server.shutdown()
    found.server.server_close()


@pytest.mark.parametrize("receiver", [[503]], indirect=True)
def test_a_slack_answer_of_503_is_retried_and_the_message_then_delivered(receiver: Receiver) -> None:
    delivery = SlackWebhook(lambda: receiver.url, backoff=0).send(MESSAGE)

    assert delivery.sent and delivery.detail == "ok"
    assert receiver.bodies == [MESSAGE.slack_payload(), MESSAGE.slack_payload()]


@pytest.mark.parametrize("receiver", [[400]], indirect=True)
def test_a_slack_refusal_is_not_retried_and_says_what_slack_answered(receiver: Receiver) -> None:
    delivery = SlackWebhook(lambda: receiver.url, backoff=0).send(MESSAGE)

    assert not delivery.sent
    assert delivery.detail == "Slack answered 400: invalid_payload"
    assert len(receiver.bodies) == 1


def test_an_unreadable_webhook_url_is_a_failed_delivery_not_an_exception() -> None:
    def missing() -> str:
        raise SecretUnavailable("could not read secret fivetran-orchestrator/dev/slack-webhook")

    delivery = SlackWebhook(missing).send(MESSAGE)

    assert not delivery.sent and "fivetran-orchestrator/dev/slack-webhook" in delivery.detail


def test_sns_publishes_the_subject_and_text_and_a_missing_topic_is_a_failed_delivery(moto_aws: None) -> None:
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="fivetran-orchestrator-dev-runs")["TopicArn"]

    sent = SnsTopic(sns, topic).send(MESSAGE)
    missing = SnsTopic(sns, topic + "-gone").send(MESSAGE)

    assert sent.sent and sent.detail
    assert not missing.sent and missing.detail.startswith(f"SNS refused Publish to {topic}-gone")


def test_the_slack_url_comes_from_its_secret_plain_or_json_and_anything_else_is_refused_by_name(
    moto_aws: None,
) -> None:
    secrets = boto3.client("secretsmanager", region_name=REGION)
    url = "https://hooks.slack.com/services/T0/B0/abc"
    secrets.create_secret(Name="app/dev/slack-webhook", SecretString=url)
    secrets.create_secret(Name="app/dev/slack-json", SecretString=json.dumps({"url": url}))
    secrets.create_secret(Name="app/dev/slack-placeholder", SecretString="Zk3placeholder")
    from aws_lambda_powertools.utilities import parameters

    source = SecretSource(Settings(token_table=TABLE), parameters.SecretsProvider(boto3_client=secrets))

    assert source.slack_webhook_url("app/dev/slack-webhook") == url
    assert source.slack_webhook_url("app/dev/slack-json") == url
    with pytest.raises(SecretUnavailable, match="app/dev/slack-placeholder does not hold") as refused:
        source.slack_webhook_url("app/dev/slack-placeholder")
    assert "Zk3placeholder" not in str(refused.value)


@pytest.fixture
def ended_run(moto_aws: None) -> dict[str, Any]:
    """A FAILED execution in moto and its outcomes.json in a bucket."""
    described = run_machine(
        {
            "StartAt": "Fail",
            "States": {"Fail": {"Type": "Fail", "Error": "Orchestrator.SyncsFailed", "Cause": "1 failed"}},
        }
    )
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="artifacts")
    outcomes = {
        "counts": {"total": 1, "succeeded": 0, "failed": 1, "timed_out": 0, "skipped": 0},
        "connections": [
            {"connector_id": "sf", "schema": "salesforce", "outcome": "failed", "cause": "OAuth expired"}
        ],
    }
    s3.put_object(
        Bucket="artifacts", Key=f"runs/{described['name']}/outcomes.json", Body=json.dumps(outcomes)
    )
    return described


def _deps(settings: Settings) -> Dependencies:
    return Dependencies.from_clients(
        settings,
        dynamodb=boto3.client("dynamodb", region_name=REGION),
        stepfunctions=boto3.client("stepfunctions", region_name=REGION),
        s3=boto3.client("s3", region_name=REGION),
        sns=boto3.client("sns", region_name=REGION),
    )


def _unreachable_url() -> str:
    with socket.socket() as probe:  # a port bound, then released: nothing listens there
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/none"


def _event(described: dict[str, Any], **extra: str) -> dict[str, Any]:
    detail = {k: described[k] for k in ("executionArn", "stateMachineArn", "name", "status")}
    return {"detail": detail, "artifacts_bucket": "artifacts", **extra}


def test_the_entry_point_sends_the_runs_message_from_its_files_and_description(
    ended_run: dict[str, Any], receiver: Receiver
) -> None:
    set_dependencies(_deps(Settings(token_table=TABLE, notify_slack_webhook_url=receiver.url)))
    try:
        answer = notify_run(_event(ended_run), None)
    finally:
        reset_dependencies()

    assert answer["sent"] is True and answer["status"] == "FAILED"
    (body,) = receiver.bodies
    assert "Why: Orchestrator.SyncsFailed: 1 failed" in body["text"]
    assert "sf (salesforce): failed: OAuth expired" in body["text"]


@pytest.mark.slow  # ~6 s of real time (make test runs it; make check leaves it out)
def test_the_entry_point_raises_only_when_no_channel_took_the_message_so_lambda_retries(
    ended_run: dict[str, Any],
) -> None:
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="fivetran-orchestrator-dev-runs")["TopicArn"]
    set_dependencies(_deps(Settings(token_table=TABLE, notify_slack_webhook_url=_unreachable_url())))
    try:
        published = notify_run(_event(ended_run, topic_arn=topic), None)
        with pytest.raises(NotificationUndelivered, match="slack: unreachable after retries"):
            notify_run(_event(ended_run), None)
        with pytest.raises(InvalidInput):
            notify_run({"detail-type": "Scheduled Event"}, None)
    finally:
        reset_dependencies()

    assert published["sent"] is True
    assert [d["channel"] for d in published["deliveries"]] == ["slack", "sns"]
    assert [d["sent"] for d in published["deliveries"]] == [False, True]
