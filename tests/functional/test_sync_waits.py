"""The real state machine notes every wait of a connection's sync, and its outcome says them (issue 27).

A manual-schedule connection that Fivetran reschedules is triggered again after the wait: each
reschedule goes through ``WasRescheduled`` → ``Log*``/``Count*`` (the child's ``$.waits``), and
``collect_outcomes`` reads them into ``outcomes.json`` in full and into the run's bounded state as
counts and the last wait.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.run.waits import LOGGED_WAITS
from tests.fakes import FakeDbtRunner, FakeFivetran, connection
from tests.pipeline import Pipeline


def _triggered(pipeline: Pipeline, fivetran: FakeFivetran, times: int) -> None:
    """Wait until Fivetran got the ``times``-th trigger and its token is armed (ready for the sync's end)."""
    deadline = time.monotonic() + 60
    while len(fivetran.triggered) < times:
        assert time.monotonic() < deadline, f"{len(fivetran.triggered)} triggers, expected {times}"
        time.sleep(0.05)
    pipeline.wait_for_tokens(1, armed=True)


def _reschedule(pipeline: Pipeline, reason: str) -> None:
    """Fivetran reschedules the sync of the parked token for a second from now (the next trigger then has
    a later ``Date`` than this sync's end: the identity rule cannot take the old end for the new sync)."""
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    pipeline.finish("hubspot_crm", "RESCHEDULED", rescheduledAt=soon, reason=reason)


@pytest.mark.slow
def test_a_sync_rescheduled_twice_has_both_waits_with_their_reason_in_its_outcome(moto_aws):
    fivetran = FakeFivetran(
        connection("hubspot_crm", service="hubspot", schema="hubspot", schedule_type="manual")
    )
    pipeline = Pipeline(fivetran)
    arn = pipeline.start({"connector_ids": ["hubspot_crm"]})
    for attempt in (1, 2):
        _triggered(pipeline, fivetran, attempt)
        _reschedule(pipeline, f"source API quota ({attempt})")
    _triggered(pipeline, fivetran, 3)
    pipeline.finish("hubspot_crm")

    described = pipeline.wait_for_end(arn)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    waits = pipeline.run_outcomes(described)["hubspot_crm"]["waits"]
    assert (waits["count"], waits["rescheduled"], waits["rate_limited"], waits["omitted"]) == (2, 2, 0, 0)
    assert [item["kind"] for item in waits["items"]] == ["rescheduled", "rescheduled"]
    assert ["(1)" in waits["items"][0]["reason"], "(2)" in waits["items"][1]["reason"]] == [True, True]
    assert all(item["until"].endswith("Z") and item["at"] for item in waits["items"])
    assert waits["until"] == waits["items"][-1]["until"]
    assert fivetran.triggered == ["hubspot_crm"] * 3


@pytest.mark.slow
def test_past_ten_waits_the_outcome_keeps_the_first_ten_and_the_last_and_counts_every_one(moto_aws):
    fivetran = FakeFivetran(
        connection("hubspot_crm", service="hubspot", schema="hubspot", schedule_type="manual")
    )
    pipeline = Pipeline(fivetran)
    arn = pipeline.start({"connector_ids": ["hubspot_crm"]})
    total = LOGGED_WAITS + 2
    for attempt in range(1, total + 1):
        _triggered(pipeline, fivetran, attempt)
        _reschedule(pipeline, f"quota, attempt {attempt}")
    _triggered(pipeline, fivetran, total + 1)
    pipeline.finish("hubspot_crm")

    described = pipeline.wait_for_end(arn)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    waits = pipeline.run_outcomes(described)["hubspot_crm"]["waits"]
    assert (waits["count"], waits["rescheduled"]) == (total, total)
    assert len(waits["items"]) == LOGGED_WAITS + 1 and waits["omitted"] == 1
    assert f"attempt {total}" in waits["items"][-1]["reason"] and "attempt 1" in waits["items"][0]["reason"]
    # The run's own (bounded) state keeps the counts and the last wait, never the list.
    (kept,) = json.loads(described["output"])["connectors"]
    assert kept["waits"] == {
        "count": total,
        "rescheduled": total,
        "rate_limited": 0,
        "until": waits["until"],
        "reason": waits["reason"],
    }


BUILD_SUMMARY = {
    "command": "build",
    "select": "",
    "exclude": "",
    "exit_code": 0,
    "mode": "new_data",
    "selection": {"mode": "new_data", "reason": "2 node(s) whose inputs changed", "skipped_count": 5},
    "models_built": ["stg_hubspot__deals", "fct_pipeline"],
    "models_built_count": 2,
}


@pytest.mark.slow
def test_the_runs_output_has_each_connections_waits_and_what_dbt_built_and_why(moto_aws):
    fivetran = FakeFivetran(
        connection("hubspot_crm", service="hubspot", schema="hubspot", schedule_type="manual")
    )
    pipeline = Pipeline(fivetran, dbt=FakeDbtRunner(summary=BUILD_SUMMARY))
    arn = pipeline.start({"connector_ids": ["hubspot_crm"]})
    _triggered(pipeline, fivetran, 1)
    _reschedule(pipeline, "source API quota")
    _triggered(pipeline, fivetran, 2)
    pipeline.finish("hubspot_crm")

    described = pipeline.wait_for_end(arn)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    output = json.loads(described["output"])
    (hubspot,) = output["connectors"]
    assert hubspot["waits"]["count"] == 1 and hubspot["waits"]["rescheduled"] == 1
    assert "source API quota" in hubspot["waits"]["reason"]
    built = output["dbt"]["build"]["summary"]
    assert built["models_built"] == ["stg_hubspot__deals", "fct_pipeline"]
    assert built["selection"]["skipped_count"] == 5 and built["mode"] == "new_data"
