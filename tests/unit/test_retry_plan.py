"""``orchestrator retry``'s plan (ops/retry.py, pure): which syncs run again, what dbt resumes, and when
there is nothing to retry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ops.retry import DbtResults, NothingToRetry, plan_retry
from ops.run_model import DbtView, RunView, SyncView

STARTED = datetime(2026, 1, 15, 10, tzinfo=UTC)
RESULTS = DbtResults(
    errored=("model.p.orders",), skipped=("model.p.report",), sources=frozenset({"billing", "ads"})
)


def view(
    outcomes: dict[str, str], dbt: str = "failed", excluded: tuple[str, ...] = (), **input_: object
) -> RunView:
    return RunView(
        arn="arn:aws:states:us-east-1:1:execution:m:first",
        name="first",
        status="RUNNING" if dbt == "running" else "FAILED",
        started=STARTED,
        stopped=None if dbt == "running" else STARTED,
        input={"group_id": "g", "on_sync_failure": "continue", **input_},
        syncs=[SyncView(cid, outcome=outcome) for cid, outcome in outcomes.items()],
        dbt=DbtView(state=dbt, excluded_sources=list(excluded)),
    )


def test_only_the_connections_that_did_not_succeed_sync_again_and_dbt_resumes_from_its_failure() -> None:
    run = view({"a": "succeeded", "b": "failed", "c": "timed_out", "d": "unfinished"}, excluded=("billing",))

    plan = plan_retry(run, ["a", "b", "c", "d", "e"], RESULTS)

    assert plan.connector_ids == ("b", "c", "d", "e")  # e: listed, the run ended before its sync did
    assert plan.run_input == {
        "on_sync_failure": "continue",
        "connector_ids": ["b", "c", "d", "e"],
        "retry_of": "first",
        "dbt": {"select": "result:error+ result:skipped+ source:billing+"},
    }


def test_a_failed_dbt_with_every_sync_succeeded_syncs_nothing_and_resumes_dbt() -> None:
    plan = plan_retry(view({"a": "succeeded"}), ["a"], DbtResults(errored=("model.p.orders",)))

    assert plan.run_input["connector_ids"] == []
    assert plan.dbt_select == "result:error+"


def test_a_dbt_that_never_ran_gets_the_normal_transform_of_the_runs_input() -> None:
    run = view({"a": "succeeded", "b": "failed"}, dbt="not_run")
    run.input["dbt"] = {"mode": "all", "select": "tag:daily"}

    plan = plan_retry(run, ["a", "b"], None)

    assert plan.dbt_select is None
    assert plan.run_input["dbt"] == {"mode": "all", "select": "tag:daily"}
    assert "never ran" in plan.dbt_reason


def test_a_failed_dbt_without_node_results_gets_the_normal_transform() -> None:
    plan = plan_retry(view({"a": "succeeded"}), ["a"], None)

    assert plan.dbt_select is None
    assert "dbt" not in plan.run_input


def test_a_run_that_never_listed_its_connections_is_retried_whole() -> None:
    plan = plan_retry(view({}, dbt="not_run"), None, None)

    assert plan.run_input == {"group_id": "g", "on_sync_failure": "continue", "retry_of": "first"}


def test_a_run_with_nothing_to_retry_is_refused() -> None:
    run = view({"a": "succeeded"}, dbt="succeeded")

    with pytest.raises(
        NothingToRetry, match=r"run first has nothing to retry.*nothing was started"
    ) as refused:
        plan_retry(run, ["a"], DbtResults())
    assert refused.value.exit_code == 2


def test_a_run_still_running_is_refused() -> None:
    with pytest.raises(NothingToRetry, match="still running"):
        plan_retry(view({"a": "failed"}, dbt="running"), ["a"], None)


def test_node_results_of_source_freshness_are_not_nodes_to_build() -> None:
    results = DbtResults.from_artifacts(
        {
            "results": [
                {"unique_id": "source.p.crm.records", "status": "error"},
                {"unique_id": "model.p.orders", "status": "error"},
                {"unique_id": "test.p.unique_orders_id", "status": "fail"},
                {"unique_id": "model.p.report", "status": "skipped"},
                {"unique_id": "model.p.ok", "status": "success"},
            ]
        },
        {"sources": {"source.p.crm.records": {"source_name": "crm", "name": "records"}}},
    )

    assert results.errored == ("model.p.orders", "test.p.unique_orders_id")
    assert results.skipped == ("model.p.report",)
    assert results.sources == frozenset({"crm", "crm.records"})
