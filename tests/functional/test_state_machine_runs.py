"""The real state machine, executed by moto with the real handlers: every path a run can take."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.platform.errors import FivetranAuthError
from tests.fakes import FakeDbtRunner, FakeFivetran, connection
from tests.pipeline import Pipeline


@pytest.fixture
def three_connections() -> FakeFivetran:
    return FakeFivetran(
        connection("stripe_prod", schema="stripe"),
        connection("hubspot_crm", service="hubspot", schema="hubspot"),
        connection("zendesk_support", service="zendesk", schema="zendesk"),
    )


def _outcomes(described: dict) -> dict[str, dict]:
    return {c["connector_id"]: c for c in json.loads(described["output"])["connectors"]}


def test_all_syncs_succeed_then_dbt_runs(moto_aws, three_connections):
    pipeline = Pipeline(three_connections)
    arn = pipeline.start({"group_id": "group"})
    pipeline.wait_for_tokens(3)
    for connector_id in ("stripe_prod", "hubspot_crm", "zendesk_support"):
        pipeline.finish(connector_id)

    described = pipeline.wait_for_end(arn)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    output = json.loads(described["output"])
    assert {c["outcome"] for c in output["connectors"]} == {"succeeded"}
    assert output["dbt"]["exit_code"] == 0
    assert output["dbt"]["task_arn"].startswith("arn:aws:ecs:")
    assert pipeline.dbt.runs[0]["DBT_COMMAND"] == "build"
    assert pipeline.excluded_sources(pipeline.dbt.runs[0]) == []
    assert pipeline.run_outcomes(described).keys() == {"stripe_prod", "hubspot_crm", "zendesk_support"}
    assert sorted(three_connections.triggered) == ["hubspot_crm", "stripe_prod", "zendesk_support"]
    assert pipeline.store.count() == 0
    print("success run states:", " → ".join(pipeline.states_entered(arn)))


def test_one_failed_sync_with_policy_fail_fails_the_run_and_skips_dbt(moto_aws, three_connections):
    pipeline = Pipeline(three_connections)
    arn = pipeline.start({"group_id": "group", "on_sync_failure": "fail"})
    pipeline.wait_for_tokens(3)
    pipeline.finish("stripe_prod")
    pipeline.finish("hubspot_crm")
    pipeline.finish("zendesk_support", "FAILURE", reason="java.lang.RuntimeException: quota exceeded")

    described = pipeline.wait_for_end(arn)

    assert described["status"] == "FAILED"
    assert described["error"] == "Orchestrator.SyncsFailed"
    assert "zendesk_support" in described["cause"]
    assert "quota exceeded" in described["cause"]
    assert pipeline.dbt.runs == []
    states = pipeline.states_entered(arn)
    assert "RunDbt" not in states and states[-1] == "SyncsFailed"
    print("failure run states:", " → ".join(states))


def test_one_failed_sync_with_policy_continue_runs_dbt_without_its_sources(moto_aws, three_connections):
    pipeline = Pipeline(three_connections)
    arn = pipeline.start({"group_id": "group", "on_sync_failure": "continue", "dbt": {"select": "tag:daily"}})
    pipeline.wait_for_tokens(3)
    pipeline.finish("stripe_prod")
    pipeline.finish("hubspot_crm", "FAILURE_WITH_TASK", reason="reconnect", taskType="reconnect")
    pipeline.finish("zendesk_support")

    described = pipeline.wait_for_end(arn)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    outcomes = _outcomes(described)
    assert outcomes["hubspot_crm"]["outcome"] == "failed"
    assert outcomes["hubspot_crm"]["error"] == "Fivetran.SyncFailed"
    assert "FAILURE_WITH_TASK" in outcomes["hubspot_crm"]["cause"]
    run = pipeline.dbt.runs[0]
    assert pipeline.excluded_sources(run) == ["hubspot"]
    assert "DBT_EXCLUDE_SOURCES" not in run  # the list lives in S3: the ECS overrides never grow
    assert run["DBT_SELECT"] == "tag:daily"
    assert json.loads(described["output"])["dbt"]["excluded_sources"] == ["hubspot"]


@pytest.mark.slow  # waits out a 15 s sync timeout (make test runs it; make check leaves it out)
def test_a_sync_that_never_completes_is_recorded_as_timed_out(moto_aws, three_connections):
    pipeline = Pipeline(three_connections, tunables={"HeartbeatSeconds": 60})
    # The run's deadline leaves a loaded machine time to trigger all three and finish two of them.
    arn = pipeline.start({"group_id": "group", "sync_timeout_seconds": 15, "on_sync_failure": "continue"})
    pipeline.wait_for_tokens(3, armed=True)
    pipeline.finish("stripe_prod")
    pipeline.finish("hubspot_crm")

    described = pipeline.wait_for_end(arn)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    timed_out = _outcomes(described)["zendesk_support"]
    assert timed_out["outcome"] == "timed_out"
    assert timed_out["error"] == "States.Timeout"
    assert pipeline.excluded_sources(pipeline.dbt.runs[0]) == ["zendesk"]


@pytest.mark.slow
def test_a_rescheduled_manual_sync_waits_then_is_triggered_again(moto_aws):
    fivetran = FakeFivetran(
        connection("hubspot_crm", service="hubspot", schema="hubspot", schedule_type="manual")
    )
    pipeline = Pipeline(fivetran)
    arn = pipeline.start({"connector_ids": ["hubspot_crm"]})
    pipeline.wait_for_tokens(1)
    soon = datetime.now(UTC) + timedelta(seconds=1)
    pipeline.finish("hubspot_crm", "RESCHEDULED", rescheduledAt=soon.isoformat().replace("+00:00", "Z"))
    pipeline.wait_for_tokens(1)  # the resumed attempt parks a new token
    pipeline.finish("hubspot_crm")

    described = pipeline.wait_for_end(arn)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    # The child execution waited, then triggered again (its states are not in the parent's history).
    assert fivetran.triggered == ["hubspot_crm", "hubspot_crm"]
    assert pipeline.run_outcomes(described)["hubspot_crm"]["outcome"] == "succeeded"


def test_a_rescheduled_auto_sync_is_not_triggered_again(moto_aws):
    fivetran = FakeFivetran(connection("stripe_prod", schema="stripe", schedule_type="auto"))
    pipeline = Pipeline(fivetran)
    arn = pipeline.start({"connector_ids": ["stripe_prod"]})
    pipeline.wait_for_tokens(1)
    pipeline.finish("stripe_prod", "RESCHEDULED", rescheduledAt=datetime.now(UTC).isoformat())
    pipeline.wait_for_tokens(1)
    pipeline.finish("stripe_prod")

    assert pipeline.wait_for_end(arn)["status"] == "SUCCEEDED"
    assert fivetran.triggered == ["stripe_prod"]


def test_dbt_exiting_non_zero_fails_the_run(moto_aws, three_connections):
    pipeline = Pipeline(three_connections, dbt_exit_code=1)
    arn = pipeline.start({"group_id": "group"})
    pipeline.wait_for_tokens(3)
    for connector_id in ("stripe_prod", "hubspot_crm", "zendesk_support"):
        pipeline.finish(connector_id)

    described = pipeline.wait_for_end(arn)

    assert described["status"] == "FAILED"
    assert described["error"] == "Orchestrator.DbtFailed"
    assert described["cause"].startswith("dbt build exited with code 1 (task arn:aws:ecs:")
    assert "Failed nodes: unknown" in described["cause"]  # this fake wrote no summary.json
    assert pipeline.states_entered(arn)[-1] == "DbtFailed"
    assert len(pipeline.dbt.runs) == 1  # a dbt that ran and failed is never run again


def _finish_all(pipeline: Pipeline) -> None:
    pipeline.wait_for_tokens(3)
    for connector_id in ("stripe_prod", "hubspot_crm", "zendesk_support"):
        pipeline.finish(connector_id)


def test_a_failed_dbt_run_names_exit_code_failed_nodes_logs_and_artifacts(moto_aws, three_connections):
    failed = ["model.orchestrator.customer_360", "test.orchestrator.unique_orders_id.1a2b"]
    summary = {"event": "dbt_summary", "exit_code": 1, "counts": {"error": 2}, "failed_nodes": failed}
    pipeline = Pipeline(three_connections, dbt=FakeDbtRunner(exit_code=1, summary=summary))
    arn = pipeline.start({"group_id": "group", "dbt": {"command": "run"}})
    _finish_all(pipeline)

    described = pipeline.wait_for_end(arn)

    assert (described["status"], described["error"]) == ("FAILED", "Orchestrator.DbtFailed")
    cause = described["cause"]
    name = arn.rsplit(":", 1)[1]
    assert cause.startswith("dbt run exited with code 1 (task arn:aws:ecs:")
    assert f"Failed nodes (2 in all): {json.dumps(failed, separators=(',', ':'))}" in cause
    assert "log group /ecs/fivetran-orchestrator-test-dbt" in cause
    assert f"s3://{pipeline.stack.artifacts_bucket}/dbt-runs/{name}/" in cause


def test_a_dbt_task_that_never_started_is_relaunched_then_runs(moto_aws, three_connections):
    dbt = FakeDbtRunner(exit_code=0, never_start=2)
    pipeline = Pipeline(three_connections, dbt=dbt, tunables={"DbtRelaunchWaitSeconds": "0, 0"})
    arn = pipeline.start({"group_id": "group"})
    _finish_all(pipeline)

    described = pipeline.wait_for_end(arn)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert len(dbt.runs) == 3
    assert pipeline.states_entered(arn).count("WaitBeforeRelaunch") == 2


def test_a_dbt_task_that_never_starts_fails_the_run_after_two_relaunches(moto_aws, three_connections):
    dbt = FakeDbtRunner(exit_code=0, never_start=10)
    pipeline = Pipeline(three_connections, dbt=dbt, tunables={"DbtRelaunchWaitSeconds": "0, 0"})
    arn = pipeline.start({"group_id": "group"})
    _finish_all(pipeline)

    described = pipeline.wait_for_end(arn)

    assert (described["status"], described["error"]) == ("FAILED", "Orchestrator.DbtFailed")
    assert described["cause"].startswith("the dbt ECS task stopped before dbt started, 3 time(s)")
    assert "Timeout waiting for network interface provisioning" in described["cause"]
    assert len(dbt.runs) == 3


def test_invalid_input_fails_at_once_naming_the_field(moto_aws, three_connections):
    pipeline = Pipeline(three_connections)
    arn = pipeline.start({"group_id": "group", "on_sync_failure": "sometimes"})

    described = pipeline.wait_for_end(arn)

    assert described["status"] == "FAILED"
    assert described["error"] == "Orchestrator.InvalidInput"
    assert "on_sync_failure" in described["cause"]
    assert three_connections.triggered == []


def test_paused_and_broken_connections_are_skipped_with_their_reason(moto_aws):
    fivetran = FakeFivetran(
        connection("stripe_prod", schema="stripe"),
        connection("old_crm", paused=True),
        connection("legacy_db", setup_state="broken"),
    )
    pipeline = Pipeline(fivetran)
    arn = pipeline.start({"group_id": "group"})
    pipeline.wait_for_tokens(1)
    pipeline.finish("stripe_prod")

    output = json.loads(pipeline.wait_for_end(arn)["output"])

    assert output["skipped"] == [
        {"connector_id": "old_crm", "reason": "paused"},
        {"connector_id": "legacy_db", "reason": "broken"},
    ]
    assert fivetran.triggered == ["stripe_prod"]


# -- one run for any group: bounded state ---------------------------------------------------------

STATE_LIMIT_BYTES = 256 * 1024  # Step Functions' state input/output (moto does not enforce it)


def largest_state_bytes(pipeline: Pipeline, arn: str) -> int:
    """The largest input or output of any state of the run (what States.DataLimitExceeded measures)."""
    sizes = [0]
    for event in pipeline.history(arn):
        for details in event.values():
            if isinstance(details, dict):
                sizes += [len(str(details.get(key, "")).encode()) for key in ("input", "output")]
    return max(sizes)


@pytest.mark.slow
def test_three_hundred_refused_triggers_report_every_connection_and_keep_the_state_small(moto_aws):
    fivetran = FakeFivetran(*(connection(f"conn_{i:03d}", schema=f"schema_{i:03d}") for i in range(300)))
    for connector_id in fivetran.connections:
        fivetran.trigger_errors[connector_id] = FivetranAuthError(
            "Fivetran refused the API key (401): " + "check the key " * 20, status=401
        )
    # No trigger budget: at the default 120 a minute, 300 triggers would wait out two clock minutes,
    # and the budget's pace is not this test's subject (tests/unit/test_api_budget.py).
    pipeline = Pipeline(fivetran, triggers_per_minute=0)

    arn = pipeline.start({"group_id": "group", "on_sync_failure": "continue"})
    described = pipeline.wait_for_end(arn, timeout=180)

    # The policy applied (dbt ran without the 300 sources), every connection reported, the state bounded.
    assert described["status"] == "SUCCEEDED", described.get("cause")
    outcomes = pipeline.run_outcomes(described)
    assert len(outcomes) == 300
    assert {o["error"] for o in outcomes.values()} == {"Fivetran.AuthError"}
    assert all("Traceback" not in o["cause"] and "stackTrace" not in o["cause"] for o in outcomes.values())
    assert len(pipeline.excluded_sources(pipeline.dbt.runs[0])) == 300
    output = json.loads(described["output"])
    assert output["counts"] == {"total": 300, "succeeded": 0, "failed": 300, "timed_out": 0, "skipped": 0}
    assert len(output["connectors"]) == 100
    assert largest_state_bytes(pipeline, arn) < STATE_LIMIT_BYTES / 2


@pytest.mark.slow
def test_ten_failures_with_30000_character_reasons_keep_their_text_in_s3_not_in_the_state(moto_aws):
    fivetran = FakeFivetran(*(connection(f"conn_{i}", schema=f"schema_{i}") for i in range(10)))
    pipeline = Pipeline(fivetran)
    arn = pipeline.start({"group_id": "group", "on_sync_failure": "continue"})
    pipeline.wait_for_tokens(10)
    for i in range(10):
        pipeline.finish(f"conn_{i}", "FAILURE", reason=f"reason {i}: " + "x" * 30_000)

    described = pipeline.wait_for_end(arn, timeout=60)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    outcomes = pipeline.run_outcomes(described)
    assert all(len(o["cause"]) > 30_000 for o in outcomes.values())  # the full text, for `show`
    output = json.loads(described["output"])
    assert all(len(o["cause"]) <= 1_000 for o in output["connectors"])
    assert largest_state_bytes(pipeline, arn) < 64 * 1024


@pytest.mark.slow
def test_the_fail_policys_cause_names_counts_and_the_first_few_and_points_at_the_full_list(moto_aws):
    fivetran = FakeFivetran(*(connection(f"conn_{i}", schema=f"schema_{i}") for i in range(8)))
    pipeline = Pipeline(fivetran)
    arn = pipeline.start({"group_id": "group", "on_sync_failure": "fail"})
    pipeline.wait_for_tokens(8)
    for i in range(8):
        pipeline.finish(f"conn_{i}", "FAILURE", reason="y" * 30_000)

    described = pipeline.wait_for_end(arn, timeout=60)

    assert described["error"] == "Orchestrator.SyncsFailed"
    cause = described["cause"]
    assert cause.startswith(
        "8 connection sync(s) did not succeed and on_sync_failure is fail, so dbt did not run."
    )
    assert ": conn_" in cause and ", and 3 more (8 of 8; full list: s3://" in cause
    assert cause.endswith("/outcomes.json)")
    assert len(cause) < 5_000  # Step Functions caps a cause at 32,768 characters
    assert pipeline.dbt.runs == []


@pytest.mark.slow
def test_every_sync_of_a_hundred_connection_group_is_triggered_before_any_ends(moto_aws):
    fivetran = FakeFivetran(*(connection(f"conn_{i:03d}", schema=f"schema_{i:03d}") for i in range(100)))
    pipeline = Pipeline(fivetran)
    arn = pipeline.start({"group_id": "group"})

    # No sync has ended yet, and all 100 are triggered and waiting (the inline Map ran 10 at a time).
    pipeline.wait_for_tokens(100, timeout=120, armed=True)
    assert len(fivetran.triggered) == 100
    for connector_id in fivetran.connections:
        pipeline.finish(connector_id)

    described = pipeline.wait_for_end(arn, timeout=120)
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"])["counts"]["succeeded"] == 100


@pytest.mark.slow
def test_max_concurrency_still_caps_a_run_for_those_who_want_a_cap(moto_aws):
    fivetran = FakeFivetran(*(connection(f"conn_{i}", schema=f"schema_{i}") for i in range(6)))
    pipeline = Pipeline(fivetran, tunables={"MaxConcurrency": 2})
    arn = pipeline.start({"group_id": "group"})

    finished: list[str] = []
    for _ in range(3):
        pipeline.wait_for_tokens(2)
        time.sleep(0.5)  # a third would have been triggered by now
        assert pipeline.store.count() == 2
        for record in list(pipeline.store.all_parked()):
            pipeline.finish(record.connector_id)
            finished.append(record.connector_id)

    assert pipeline.wait_for_end(arn)["status"] == "SUCCEEDED"
    assert sorted(finished) == sorted(fivetran.connections)
