"""What the entrypoint does when things go wrong: a failing dbt test, a broken model, bad settings, and a stop
(SIGTERM) in the middle of a query."""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import duckdb
import pytest

from local import warehouse
from tests.dbt.support import (
    ENTRYPOINT,
    RUN_TIMEOUT_S,
    Run,
    base_env,
    copy_project,
    run_entrypoint,
    start_entrypoint,
)

SLOW_MODEL = (
    "{{ config(materialized='table') }}\n"
    "select sum(a.range * b.range) as n from range(1000000) as a cross join range(1000000) as b\n"
)


@pytest.fixture(scope="module")
def duplicate_id_run(dbt_python: Path, s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A build of the project where only stripe has synced, with one customer id landed twice."""
    workdir = tmp_path_factory.mktemp("duplicate")
    db = workdir / "warehouse.duckdb"
    warehouse.write_sync(db, schema="stripe", service="stripe", rows=5)
    con = duckdb.connect(str(db))
    con.execute(
        "insert into stripe.customers select id, 'someone.else@example.com', name, created, "
        "_fivetran_synced from stripe.customers where id = 'cus_0000000001'"
    )
    con.close()
    return run_entrypoint(
        dbt_python,
        workdir,
        DUCKDB_PATH=str(db),
        RUN_ID="run-duplicate",
        ARTIFACTS_BUCKET="no-such-bucket",
        AWS_ENDPOINT_URL=s3_endpoint,
    )


def test_entrypoint_exits_non_zero_when_a_dbt_test_fails(duplicate_id_run: Run) -> None:
    assert duplicate_id_run.returncode == 1, duplicate_id_run.explain()
    assert duplicate_id_run.summary["exit_code"] == 1


def test_summary_names_the_failing_test_and_counts_what_was_skipped(duplicate_id_run: Run) -> None:
    summary = duplicate_id_run.summary
    (failed,) = summary["failed_nodes"]
    assert failed.startswith("test.orchestrator.unique_stg_stripe__customers_customer_id.")
    results = {r["unique_id"]: r["status"] for r in duplicate_id_run.results()}
    assert results[failed] == "fail"
    # Everything downstream of the failing test is skipped, the marts included.
    assert results["model.orchestrator.customer_360"] == "skipped"
    assert summary["counts"]["error"] == 1
    assert summary["counts"]["skip"] == sum(status == "skipped" for status in results.values()) > 0
    assert summary["counts"]["pass"] == sum(status in ("success", "pass") for status in results.values())


def test_a_failed_upload_keeps_the_exit_code_of_a_failed_build(duplicate_id_run: Run) -> None:
    assert duplicate_id_run.events("artifacts_upload_failed")
    assert duplicate_id_run.summary["artifacts"] is None
    assert duplicate_id_run.returncode == 1


def test_entrypoint_exits_non_zero_and_names_a_broken_model(dbt_python: Path, tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    (project / "models" / "broken").mkdir()
    (project / "models" / "broken" / "broken_model.sql").write_text(
        "select no_such_column from (select 1 as id) as t\n"
    )
    run = run_entrypoint(
        dbt_python,
        tmp_path,
        DUCKDB_PATH=str(tmp_path / "warehouse.duckdb"),
        DBT_PROJECT_DIR=str(project),
        DBT_SELECT="broken_model",
    )
    assert run.returncode == 1, run.explain()
    assert run.summary["failed_nodes"] == ["model.orchestrator.broken_model"]
    assert run.summary["counts"] == {"pass": 0, "warn": 0, "error": 1, "skip": 0}


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"DBT_COMMAND": "run-operation drop_everything"}, "is not allowed"),
        ({"DBT_EXCLUDE_SOURCES": "stripe,zendesk"}, "JSON array"),
        ({"DBT_EXCLUDE_SOURCES": '["stripe+ --full-refresh"]'}, "plain identifiers"),
        ({"DBT_TARGET": "duckdb", "DUCKDB_PATH": ""}, "DUCKDB_PATH"),
    ],
)
def test_entrypoint_exits_two_with_a_clear_message_on_bad_settings(
    dbt_python: Path, tmp_path: Path, settings: dict[str, str], message: str
) -> None:
    run = run_entrypoint(dbt_python, tmp_path, **{"DUCKDB_PATH": str(tmp_path / "x.duckdb"), **settings})
    assert run.returncode == 2, run.explain()
    assert run.summary["exit_code"] == 2
    (error,) = run.events("config_error")
    assert message in error["error"]
    assert not (tmp_path / "target").exists(), "dbt must not have run"


def test_entrypoint_never_prints_the_snowflake_private_key(dbt_python: Path, tmp_path: Path) -> None:
    secret = "-----BEGIN PRIVATE KEY-----\nTOP-SECRET-KEY-MATERIAL\n-----END PRIVATE KEY-----"
    run = run_entrypoint(dbt_python, tmp_path, DBT_TARGET="snowflake", SNOWFLAKE_PRIVATE_KEY=secret)
    assert run.returncode == 78  # a missing warehouse key: EX_CONFIG, dbt not started
    (error,) = run.events("config_error")
    assert "SNOWFLAKE_ACCOUNT" in error["error"] and "SNOWFLAKE_PRIVATE_KEY" not in error["error"]
    assert "TOP-SECRET" not in run.stdout + run.stderr


def test_help_lists_the_settings_and_exits_zero(dbt_python: Path) -> None:
    done = subprocess.run(
        [str(dbt_python), str(ENTRYPOINT), "--help"],
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for name in (
        "DBT_COMMAND",
        "DBT_SELECT",
        "DBT_EXCLUDE",
        "DBT_EXCLUDE_SOURCES",
        "RUN_ID",
        "ARTIFACTS_BUCKET",
    ):
        assert name in done.stdout


def _lines(stream: IO[str], sink: queue.Queue[str]) -> None:
    for line in stream:
        sink.put(line)
    sink.put("")


def _wait_for(sink: queue.Queue[str], needle: str, timeout_s: float) -> Iterator[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            line = sink.get(timeout=0.5)
        except queue.Empty:
            continue
        yield line
        if needle in line or line == "":
            return
    raise AssertionError(f"{needle!r} did not appear within {timeout_s}s")


def test_sigterm_stops_dbt_mid_query_and_exits_non_zero(dbt_python: Path, tmp_path: Path) -> None:
    project = copy_project(tmp_path / "project")
    (project / "models" / "slow").mkdir()
    (project / "models" / "slow" / "slow_model.sql").write_text(SLOW_MODEL)
    db = tmp_path / "warehouse.duckdb"
    env = base_env(
        DUCKDB_PATH=str(db),
        DBT_PROJECT_DIR=str(project),
        DBT_SELECT="slow_model",
        DBT_TARGET_PATH=str(tmp_path / "target"),
        DBT_STOP_GRACE_SECONDS="10",
    )
    proc = start_entrypoint(dbt_python, env)
    stderr: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None
    threading.Thread(target=_lines, args=(proc.stderr, stderr), daemon=True).start()
    seen = list(_wait_for(stderr, "START sql table model analytics.slow_model", RUN_TIMEOUT_S))
    assert "slow_model" in seen[-1], "".join(seen)

    time.sleep(0.5)  # inside the query now
    stopped_at = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    took = time.monotonic() - stopped_at
    assert proc.stdout is not None
    stdout = proc.stdout.read()

    assert proc.returncode == 128 + signal.SIGTERM
    assert took < 15, f"the run took {took:.1f}s to stop"
    run = Run(proc.returncode, stdout, "".join(seen) + "".join(_drain(stderr)), tmp_path / "target")
    assert run.summary["exit_code"] == 143
    assert run.events("stop_requested")[0]["signal"] == "SIGTERM"
    assert run.events("dbt_escalate") == []  # dbt's Ctrl-C stopped it: no SIGTERM or SIGKILL was needed
    # dbt is gone: the DuckDB file can be opened for writing again.
    duckdb.connect(str(db)).close()


def _drain(sink: queue.Queue[str]) -> Iterator[str]:
    """What the reader thread still has, up to the end of the stream."""
    while (line := sink.get(timeout=10)) != "":
        yield line
