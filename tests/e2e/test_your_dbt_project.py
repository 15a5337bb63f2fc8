"""Your own dbt project, from outside the repository, through the local runtime: ``python -m local demo
--dbt-project PATH`` stages it as the image build does (dbt_container/stage_project.py), parses it on
DuckDB, then runs it after the syncs; a failed connection's source is excluded under ``continue``; a
project that does not parse stops the demo with dbt's message. And a group with a connection no dbt source
reads ends with the warning in the demo's output (local/scenarios/connection_without_dbt_source.yaml)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.dbt.external_project import write_project

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = """\
name: your_dbt_project
group_id: demo_group
input: {on_sync_failure: continue}
connectors:
  - {id: crm_conn, service: pipedrive, schema: crm, sync: {duration_s: 0.5, rows: 30}}
  - id: billing_conn
    service: chargebee
    schema: billing
    sync: {duration_s: 0.5, outcome: failure, reason: API key revoked}
expect:
  status: SUCCEEDED
  dbt_ran: true
  connectors: {crm_conn: succeeded, billing_conn: failed}
"""

pytestmark = pytest.mark.e2e


def demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "local", "demo", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_your_project_runs_after_the_syncs_without_the_failed_connections_source(tmp_path: Path) -> None:
    project = write_project(tmp_path / "analytics")  # outside the repository, as a user's would be
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    workdir, report_path = tmp_path / "work", tmp_path / "report.json"

    done = demo(
        "--scenario", str(scenario), "--dbt-project", str(project), "--workdir", str(workdir),
        "--report", str(report_path),
    )  # fmt: skip

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(report_path.read_text())
    summary = report["dbt"]["summary"]
    assert report["dbt"]["exit_code"] == 0 and summary["exclude"] == "source:billing+"
    assert summary["counts"] == {"pass": 1, "warn": 0, "error": 0, "skip": 0}  # stg_crm__records only
    with duckdb.connect(str(workdir / "warehouse.duckdb"), read_only=True) as db:
        built = {
            row[0]
            for row in db.execute(
                "select table_name from information_schema.tables where table_schema = 'analytics'"
            ).fetchall()
        }
        landed = db.execute("select count(*) from crm.records").fetchone()
        staged = db.execute("select count(*) from analytics.stg_crm__records").fetchone()
    assert built == {"stg_crm__records"}
    assert landed == staged and staged is not None and staged[0] >= 30  # the run's sync included


def test_a_failed_connections_source_mapped_by_meta_is_excluded_though_its_name_is_not_the_schema(
    tmp_path: Path,
) -> None:
    project = write_project(tmp_path / "analytics")
    sources = project / "models" / "sources.yml"  # billing reads the connection's schema invoicing
    sources.write_text(
        sources.read_text().replace("  - name: billing\n", "  - name: billing\n    schema: invoicing\n")
    )
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO.replace("schema: billing", "schema: invoicing"), encoding="utf-8")
    workdir, report_path = tmp_path / "work", tmp_path / "report.json"

    done = demo(
        "--scenario", str(scenario), "--dbt-project", str(project), "--workdir", str(workdir),
        "--report", str(report_path),
    )  # fmt: skip

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(report_path.read_text())["dbt"]["summary"]
    assert summary["exclude"] == "source:invoicing+ source:billing+"  # the schema's, then meta's
    assert summary["models_built"] == ["stg_crm__records"]
    assert summary["source_contract_warnings"] == [] and "warning:" not in done.stdout


def test_a_project_that_does_not_parse_stops_the_demo_with_dbts_message(tmp_path: Path) -> None:
    project = write_project(tmp_path / "analytics")
    (project / "models" / "orphan.sql").write_text("select * from {{ ref('no_such_model') }}\n")

    done = demo("--dbt-project", str(project), "--workdir", str(tmp_path / "work"))

    assert done.returncode == 1, done.stdout[-3000:]
    assert "dbt parse failed for" in done.stdout and "no_such_model" in done.stdout
    assert "summary" not in done.stdout  # no run was started


def test_sql_duckdb_cannot_run_is_said_after_the_project_parsed(tmp_path: Path) -> None:
    project = write_project(tmp_path / "analytics")
    (project / "models" / "warehouse_only.sql").write_text("select snowflake_only_function(1) as x\n")
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO, encoding="utf-8")

    done = demo("--scenario", str(scenario), "--dbt-project", str(project), "--workdir", str(tmp_path / "w"))

    output = " ".join(done.stdout.split())
    assert done.returncode == 1, done.stdout[-3000:]
    assert f"dbt project: {project} parses, but dbt exited 1 on DuckDB" in output


def test_a_connection_without_a_dbt_source_ends_with_the_warning_in_the_output(tmp_path: Path) -> None:
    scenario = ROOT / "local" / "scenarios" / "connection_without_dbt_source.yaml"
    report_path = tmp_path / "report.json"

    done = demo("--scenario", str(scenario), "--report", str(report_path), "--workdir", str(tmp_path / "w"))

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    output = " ".join(done.stdout.split())  # the console may wrap long lines
    assert "warning: connection ads_conn has no dbt source" in output
    assert "connection stripe_prod" not in output
    report = json.loads(report_path.read_text())
    assert report["dbt"]["source_contract_warnings"] == [
        "connection ads_conn has no dbt source (name a source after its schema, or give one "
        "meta.fivetran_connection: ads_conn): nothing in dbt depends on it"
    ]
