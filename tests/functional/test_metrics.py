"""Operator metrics (chalicelib/platform/metrics.py): valid CloudWatch EMF lines, emitted by the webhook route
for every answer and by each reconcile_syncs pass; never an API call, never a failed request
because of them."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from app import app
from chalicelib.platform import metrics
from chalicelib.webhook.signature import SIGNATURE_HEADER, sign
from tests.conftest import WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parents[2]
PROBE = b'{"event":"test_event","connector_id":"_connector_1","group_id":"_destination_1"}'


@pytest.fixture
def emitted() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    metrics.set_stream(stream)
    yield stream
    metrics.set_stream(None)


def documents(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def metric(document: dict[str, Any]) -> dict[str, Any]:
    """name -> value, and the one dimension set, of an EMF document (checked against the EMF shape)."""
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == metrics.NAMESPACE
    assert isinstance(document["_aws"]["Timestamp"], int)
    (dimensions,) = directive["Dimensions"]
    assert "service" in dimensions and document["service"].startswith(metrics.SERVICE)
    values = {m["Name"]: (document[m["Name"]], m["Unit"]) for m in directive["Metrics"]}
    return {"values": values, "dimensions": {d: document[d] for d in dimensions if d != "service"}}


def test_each_record_function_writes_one_valid_emf_document(emitted):
    metrics.record_webhook_answer(401, 3.5)
    metrics.record_sync_outcome("failed", 125.0)
    metrics.record_sync_outcome("succeeded", None)
    metrics.record_token_parked()

    found = [metric(d) for d in documents(emitted)]

    assert found == [
        {
            "values": {"WebhookAnswers": ([1.0], "Count"), "WebhookLatency": ([3.5], "Milliseconds")},
            "dimensions": {"status": "401"},
        },
        {
            "values": {"SyncOutcomes": ([1.0], "Count"), "SyncDuration": ([125.0], "Seconds")},
            "dimensions": {"outcome": "failed"},
        },
        {"values": {"SyncOutcomes": ([1.0], "Count")}, "dimensions": {"outcome": "succeeded"}},
        {"values": {"TokensParked": ([1.0], "Count")}, "dimensions": {}},
    ]


def test_without_a_stream_powertools_prints_the_document_on_the_lambdas_stdout(capsys, monkeypatch):
    metrics.set_stream(None)
    metrics.record_webhook_answer(202, 1.5)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    metrics.record_token_parked()

    (line,) = capsys.readouterr().out.splitlines()
    assert metric(json.loads(line)) == {
        "values": {"WebhookAnswers": ([1.0], "Count"), "WebhookLatency": ([1.5], "Milliseconds")},
        "dimensions": {"status": "202"},
    }


def test_metrics_can_be_switched_off_and_a_bad_value_never_raises(emitted, monkeypatch):
    metrics.record_webhook_answer(200, float("nan"))  # EMF refuses it: dropped, no exception
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    metrics.record_token_parked()

    assert documents(emitted) == []


def test_the_webhook_route_counts_every_answer_by_status_with_its_latency(deps, emitted):
    client = Client(app, stage_name="dev", project_dir=str(ROOT))
    headers = {"Content-Type": "application/json"}

    ok = client.http.post(
        "/webhooks/fivetran", headers={**headers, SIGNATURE_HEADER: sign(PROBE, WEBHOOK_SECRET)}, body=PROBE
    )
    refused = client.http.post("/webhooks/fivetran", headers={**headers, SIGNATURE_HEADER: "00"}, body=PROBE)

    assert (ok.status_code, refused.status_code) == (200, 401)
    found = [metric(d) for d in documents(emitted)]
    assert [f["dimensions"] for f in found] == [{"status": "200"}, {"status": "401"}]
    # The stage's config names the service <app>-<stage>, what the dashboard filters on.
    assert {d["service"] for d in documents(emitted)} == {"fivetran-orchestrator-dev"}
    for answer in found:
        assert answer["values"]["WebhookAnswers"] == ([1.0], "Count")
        (latency,), unit = answer["values"]["WebhookLatency"]
        assert unit == "Milliseconds" and latency >= 0


def test_each_reconcile_pass_reports_its_actions(deps, emitted):
    client = Client(app, stage_name="dev", project_dir=str(ROOT))
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=["arn:aws:events:::rule/x"]
    )

    report = client.lambda_.invoke("reconcile_syncs", event).payload

    passes = [metric(d) for d in documents(emitted) if "action" in metric(d)["dimensions"]]
    found = {m["dimensions"]["action"]: m["values"] for m in passes}
    assert set(found) == set(metrics.SAFETY_NET_ACTION_KEYS.values())
    for key, action in metrics.SAFETY_NET_ACTION_KEYS.items():
        assert found[action] == {"SafetyNetActions": ([float(report[key])], "Count")}


def test_a_reconcile_pass_checks_the_stages_webhook_and_reports_it_healthy(deps, emitted):
    client = Client(app, stage_name="dev", project_dir=str(ROOT))
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=["arn:aws:events:::rule/x"]
    )

    client.lambda_.invoke("reconcile_syncs", event)

    checks = [metric(d) for d in documents(emitted) if metrics.WEBHOOK_UNHEALTHY in metric(d)["values"]]
    assert checks == [{"values": {metrics.WEBHOOK_UNHEALTHY: ([0.0], "Count")}, "dimensions": {}}]


def test_a_reconcile_pass_that_finds_the_webhook_disabled_emits_webhook_unhealthy_1(deps, fivetran, emitted):
    fivetran.webhooks[0]["active"] = False
    client = Client(app, stage_name="dev", project_dir=str(ROOT))
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=["arn:aws:events:::rule/x"]
    )

    client.lambda_.invoke("reconcile_syncs", event)
    client.lambda_.invoke("reconcile_syncs", event)  # the next pass, within 15 minutes: no second check

    checks = [metric(d) for d in documents(emitted) if metrics.WEBHOOK_UNHEALTHY in metric(d)["values"]]
    assert checks == [{"values": {metrics.WEBHOOK_UNHEALTHY: ([1.0], "Count")}, "dimensions": {}}]
    assert fivetran.webhook_reads == 1
