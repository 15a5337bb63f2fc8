"""Fivetran disables the stage's webhook mid-run (``local/scenarios/webhook_disabled_mid_run.yaml``): the
simulator stops delivering and lists the webhook ``active: false``. The run still ends with every
connection's own outcome, through the safety net, and the safety net's watchdog emits ``WebhookUnhealthy``
1 (what the stack's ``WebhookUnhealthyAlarm`` fires on, tests/infra) and keeps its verdict for doctor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.platform import metrics
from chalicelib.safety_net.webhook_watchdog import WebhookState, WebhookWatch
from local.report import build_report, expectation_problems
from local.runtime import LocalRuntime
from local.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parents[2] / "local" / "scenarios" / "webhook_disabled_mid_run.yaml"

pytestmark = pytest.mark.e2e


def test_a_run_whose_webhook_is_disabled_mid_run_ends_through_the_safety_net_and_the_metric_fires(
    tmp_path: Path,
) -> None:
    with LocalRuntime(load_scenario(SCENARIO), workdir=tmp_path, dbt="stand-in") as runtime:
        result = runtime.run()
        report = build_report(runtime, result)
        deliveries = list(runtime.simulator.webhooks.deliveries)
        assert runtime.deps is not None
        store = runtime.deps.store
        record = WebhookWatch(store.table_name, store.client).read()
        emf = [
            json.loads(line)
            for line in (tmp_path / "handlers.log").read_text().splitlines()
            if '"_aws"' in line
        ]

    assert expectation_problems(runtime, report) == [], report
    assert {c["connector_id"]: c["outcome"] for c in report["connectors"]} == {
        "stripe_prod": "succeeded",
        "hubspot_crm": "succeeded",
        "postgres_app": "succeeded",
    }
    assert report["tokens_left"] == 0
    # Disabled before any sync ended: no sync_end was delivered, the safety net found every end.
    assert [d for d in deliveries if d["event"] == "sync_end"] == []
    assert all(c["sync_id"] for c in report["connectors"])
    unhealthy = [d[metrics.WEBHOOK_UNHEALTHY] for d in emf if metrics.WEBHOOK_UNHEALTHY in d]
    assert [1.0] in unhealthy
    assert {d["service"] for d in emf if metrics.WEBHOOK_UNHEALTHY in d} == {metrics.SERVICE}
    assert record.verdict is not None and record.verdict.state is WebhookState.INACTIVE
    assert "webhook_account" in record.verdict.detail
