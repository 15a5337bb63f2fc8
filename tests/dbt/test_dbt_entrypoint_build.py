"""A whole `dbt build` through the entrypoint on DuckDB, from rows seeded like the Fivetran simulator's:
the exit code, the summary line, the marts' contents and the artifacts kept in S3."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from tests.dbt.support import BUCKET, FULL_BUILD_RUN_ID, ROWS, FullBuild

SUMMARY_KEYS = {
    "event",
    "command",
    "select",
    "exclude",
    "target",
    "run_id",
    "exit_code",
    "counts",
    "failed_nodes",
    "elapsed_s",
    "artifacts",
    "mode",
    "selection",
    "models_built",
    "models_built_count",
    "source_contract_warnings",
    "source_contract_warnings_count",
    "full_refresh",
    "vars",
}


def query(db_path: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_entrypoint_exits_zero_when_the_whole_project_builds(full_build: FullBuild) -> None:
    assert full_build.run.returncode == 0, full_build.run.explain()


def test_stdout_holds_exactly_one_line_the_summary(full_build: FullBuild) -> None:
    lines = full_build.run.stdout.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith('{"event": "dbt_summary"')
    summary = json.loads(lines[0])
    assert set(summary) == SUMMARY_KEYS
    assert summary["command"] == "build"
    assert summary["target"] == "duckdb"
    assert summary["run_id"] == FULL_BUILD_RUN_ID
    assert summary["exit_code"] == 0
    assert summary["failed_nodes"] == []
    assert summary["select"] == "" and summary["exclude"] == ""
    assert isinstance(summary["elapsed_s"], float) and summary["elapsed_s"] > 0


def test_summary_counts_match_run_results(full_build: FullBuild) -> None:
    statuses = Counter(result["status"] for result in full_build.run.results())
    counts = full_build.run.summary["counts"]
    assert counts == {
        "pass": statuses["success"] + statuses["pass"],
        "warn": statuses["warn"],
        "error": statuses["error"] + statuses["fail"],
        "skip": statuses["skipped"],
    }
    # 9 staging views, 2 marts, and their tests: all of them passed.
    assert counts["pass"] == len(full_build.run.results()) > 11
    assert {"model.orchestrator.customer_360", "model.orchestrator.revenue_daily"} <= full_build.run.nodes()


def test_customer_360_has_one_row_per_person_joined_across_the_four_sources(full_build: FullBuild) -> None:
    rows = query(
        full_build.db_path,
        "select count(*), count(distinct email), count(stripe_customer_id), count(hubspot_contact_id), "
        "count(app_user_id), sum(tickets), sum(orders) from analytics.customer_360",
    )
    assert rows == [(ROWS, ROWS, ROWS, ROWS, ROWS, ROWS, ROWS)]


def test_customer_360_joins_emails_whatever_their_case_in_hubspot(full_build: FullBuild) -> None:
    # HubSpot holds person 3's address capitalised; staging lower-cases it, so the ids still meet.
    (row,) = query(
        full_build.db_path,
        "select stripe_customer_id, hubspot_contact_id, app_user_id, customer_name "
        "from analytics.customer_360 where email = 'edsger.lovelace.3@example.com'",
    )
    assert row == ("cus_0000000003", 3, 3, "Edsger Lovelace")


def test_customer_360_totals_equal_the_raw_rows(full_build: FullBuild) -> None:
    ((charges, charged, ordered, open_tickets),) = query(
        full_build.db_path,
        "select sum(succeeded_charges), sum(lifetime_charges_amount), sum(lifetime_orders_amount), "
        "sum(open_tickets) from analytics.customer_360",
    )
    ((raw_charges, raw_cents, raw_ordered, raw_open),) = query(
        full_build.db_path,
        "select (select count(*) from stripe.charges where status = 'succeeded'), "
        "(select sum(amount) from stripe.charges where status = 'succeeded'), "
        "(select sum(total) from app_db.orders), "
        "(select count(*) from zendesk.tickets where status in ('new', 'open', 'pending', 'hold'))",
    )
    assert charges == raw_charges > 0
    assert charged == Decimal(raw_cents) / 100  # cents to currency units, exactly
    assert ordered == raw_ordered
    assert open_tickets == raw_open


def test_revenue_daily_adds_up_charges_and_orders_by_day(full_build: FullBuild) -> None:
    ((days, charges, orders, total),) = query(
        full_build.db_path,
        "select count(*), sum(stripe_charges), sum(app_orders), sum(total_revenue) "
        "from analytics.revenue_daily",
    )
    ((raw_days, raw_charges, raw_cents, raw_ordered),) = query(
        full_build.db_path,
        "select (select count(*) from (select cast(created as date) from stripe.charges "
        "where status = 'succeeded' union select cast(ordered_at as date) from app_db.orders)), "
        "(select count(*) from stripe.charges where status = 'succeeded'), "
        "(select sum(amount) from stripe.charges where status = 'succeeded'), "
        "(select sum(total) from app_db.orders)",
    )
    assert days == raw_days
    assert charges == raw_charges
    assert orders == ROWS
    assert total == Decimal(raw_cents) / 100 + raw_ordered


def test_artifacts_land_in_s3_under_the_prefix_and_run_id(full_build: FullBuild) -> None:
    prefix = f"dbt-runs/{FULL_BUILD_RUN_ID}/"
    assert set(full_build.objects) == {
        prefix + "run_results.json",
        prefix + "manifest.json",
        prefix + "dbt.log",
        prefix + "summary.json",
    }
    assert json.loads(full_build.objects[prefix + "summary.json"]) == full_build.run.summary
    assert full_build.run.summary["artifacts"] == f"s3://{BUCKET}/{prefix}"
    uploaded = json.loads(full_build.objects[prefix + "run_results.json"])
    assert uploaded["results"] == full_build.run.results()
    assert b"Completed successfully" in full_build.objects[prefix + "dbt.log"]
    assert (
        "model.orchestrator.customer_360" in json.loads(full_build.objects[prefix + "manifest.json"])["nodes"]
    )


def test_entrypoint_logs_its_own_events_as_json_lines_on_stderr(full_build: FullBuild) -> None:
    (started,) = full_build.run.events("run_started")
    assert started["run_id"] == FULL_BUILD_RUN_ID and started["command"] == "build"
    assert full_build.run.events("artifacts_uploaded")[0]["uri"] == full_build.run.summary["artifacts"]
    assert full_build.run.events("dbt_finished")[0]["exit_code"] == 0
