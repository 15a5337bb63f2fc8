"""DBT_SELECT, DBT_EXCLUDE, DBT_EXCLUDE_SOURCES and DBT_COMMAND reach dbt: asserted on the nodes dbt ran,
plus what a failed artifacts upload does (nothing to the exit code)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from local import warehouse
from tests.dbt.support import FullBuild, Run, run_entrypoint

STRIPE_MODELS = {"model.orchestrator.stg_stripe__customers", "model.orchestrator.stg_stripe__charges"}


@pytest.fixture(scope="module")
def selected_run(
    dbt_python: Path,
    seeded_db: Path,
    s3_endpoint: str,
    full_build: FullBuild,
    tmp_path_factory: pytest.TempPathFactory,
) -> Run:
    """`dbt run` of what the stripe source feeds, less customer_360, with an artifacts bucket that is gone.

    After the session's full build of the same file (``full_build``), as in production: revenue_daily
    also reads ``stg_app_db__orders``, which this selection does not build, so it must exist already
    (before, the test passed only when another module's full build happened to run first)."""
    return run_entrypoint(
        dbt_python,
        tmp_path_factory.mktemp("selected"),
        DUCKDB_PATH=str(seeded_db),
        RUN_ID="run-selected",
        DBT_COMMAND="run",
        DBT_SELECT="source:stripe+",
        DBT_EXCLUDE="customer_360",
        ARTIFACTS_BUCKET="no-such-bucket",
        AWS_ENDPOINT_URL=s3_endpoint,
    )


@pytest.fixture(scope="module")
def sources_excluded_run(dbt_python: Path, seeded_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """`dbt build` with the zendesk and hubspot connections failed (and one the project does not know)."""
    return run_entrypoint(
        dbt_python,
        tmp_path_factory.mktemp("excluded"),
        DUCKDB_PATH=str(seeded_db),
        RUN_ID="run-excluded",
        DBT_EXCLUDE="stg_salesforce__accounts",
        DBT_EXCLUDE_SOURCES='["zendesk", "hubspot", "marketo"]',
    )


def test_select_and_exclude_reach_dbt(selected_run: Run) -> None:
    assert selected_run.returncode == 0, selected_run.explain()
    assert selected_run.nodes() == STRIPE_MODELS | {"model.orchestrator.revenue_daily"}
    summary = selected_run.summary
    assert (summary["command"], summary["select"], summary["exclude"]) == (
        "run",
        "source:stripe+",
        "customer_360",
    )
    assert summary["counts"] == {"pass": 3, "warn": 0, "error": 0, "skip": 0}


def test_a_failed_upload_is_logged_and_keeps_dbts_exit_code(selected_run: Run) -> None:
    assert selected_run.returncode == 0
    assert selected_run.summary["exit_code"] == 0
    assert selected_run.summary["artifacts"] is None
    (failure,) = selected_run.events("artifacts_upload_failed")
    assert failure["bucket"] == "no-such-bucket"
    assert failure["prefix"] == "dbt-runs/run-selected/"
    assert "NoSuchBucket" in failure["error"]


def test_excluded_sources_leave_out_everything_built_on_them(sources_excluded_run: Run) -> None:
    run = sources_excluded_run
    assert run.returncode == 0, run.explain()
    nodes = run.nodes()
    assert not [n for n in nodes if "hubspot" in n or "zendesk" in n or "customer_360" in n]
    assert "model.orchestrator.stg_salesforce__accounts" not in nodes
    assert {"model.orchestrator.revenue_daily", "model.orchestrator.stg_salesforce__opportunities"} <= nodes
    assert nodes >= STRIPE_MODELS
    expected = "stg_salesforce__accounts source:zendesk+ source:hubspot+ source:marketo+"
    assert run.summary["exclude"] == expected


def test_source_freshness_reads_sources_json_and_fails_on_a_stale_connection(
    dbt_python: Path, tmp_path: Path
) -> None:
    db = tmp_path / "warehouse.duckdb"
    now = datetime.now(UTC)
    warehouse.write_sync(db, schema="stripe", service="stripe", rows=3, synced_at=now - timedelta(days=4))
    warehouse.write_sync(db, schema="hubspot", service="hubspot", rows=3, synced_at=now)
    run = run_entrypoint(
        dbt_python,
        tmp_path,
        DUCKDB_PATH=str(db),
        DBT_COMMAND="source  freshness",
        DBT_SELECT="source:stripe source:hubspot",
    )
    assert run.returncode == 1, run.explain()
    summary = run.summary
    assert summary["command"] == "source freshness"
    assert summary["counts"] == {"pass": 2, "warn": 0, "error": 2, "skip": 0}
    assert sorted(summary["failed_nodes"]) == [
        "source.orchestrator.stripe.charges",
        "source.orchestrator.stripe.customers",
    ]
    statuses = Counter(result["status"] for result in run.results("sources.json"))
    assert statuses == {"pass": 2, "error": 2}
