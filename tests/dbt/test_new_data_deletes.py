"""Selection by new data with the real dbt on DuckDB: a sync that only deletes rows still builds the lineage.

A hard delete (or a historical re-sync that drops rows gone from the source) removes rows without writing
any, and Fivetran does not update ``_fivetran_synced`` for a TRUNCATE or a re-sync's mass delete that it
soft-deletes (``_fivetran_deleted`` set): either way ``max(_fivetran_synced)`` stays where it was, so
``dbt source freshness`` alone shows no new data. The task also compares each table's row counts with the
last build's (``task/row_counts.py``): the lineage of the table that lost rows builds, and nothing else.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from local import warehouse
from tests.dbt.support import Run, run_entrypoint, s3_client, seed_all

BUCKET = "new-data-deletes"
CHARGES_LINEAGE = {"stg_stripe__charges", "customer_360", "revenue_daily"}
CONTACTS_LINEAGE = {"stg_hubspot__contacts", "customer_360"}


def _every_connection_succeeded(endpoint: str, run_id: str) -> None:
    """The run's outcomes as CollectOutcomes writes them: every demo connection's sync succeeded."""
    connections = [
        {"connector_id": f"{schema}_conn", "schema": schema, "outcome": "succeeded"}
        for schema in warehouse.DEMO_SCHEMAS.values()
    ]
    s3_client(endpoint).put_object(
        Bucket=BUCKET, Key=f"runs/{run_id}/outcomes.json", Body=json.dumps({"connections": connections})
    )


def _run(dbt_python: Path, workdir: Path, db: Path, endpoint: str, run_id: str) -> Run:
    _every_connection_succeeded(endpoint, run_id)
    return run_entrypoint(
        dbt_python,
        workdir,
        DUCKDB_PATH=str(db),
        RUN_ID=run_id,
        DBT_MODE="new_data",
        ARTIFACTS_BUCKET=BUCKET,
        AWS_ENDPOINT_URL=endpoint,
    )


def _max_synced_and_count(db: Path, table: str) -> tuple[object, int]:
    with duckdb.connect(str(db)) as con:
        found = con.execute(f"select max(_fivetran_synced), count(*) from {table}").fetchone()  # noqa: S608
    assert found is not None
    return found[0], found[1]


def _sql(db: Path, statement: str) -> None:
    with duckdb.connect(str(db)) as con:
        con.execute(statement)


def test_a_sync_that_only_deletes_rows_builds_that_tables_lineage_and_nothing_else(
    dbt_python: Path, s3_endpoint: str, tmp_path: Path
) -> None:
    s3_client(s3_endpoint).create_bucket(Bucket=BUCKET)
    db = seed_all(tmp_path / "warehouse.duckdb", synced_at=datetime.now(UTC) - timedelta(hours=1))
    _sql(
        db, "alter table hubspot.contacts add column _fivetran_deleted boolean default false"
    )  # soft deletes
    first = _run(dbt_python, tmp_path / "run-1", db, s3_endpoint, "run-1")
    assert first.returncode == 0, first.explain()
    assert first.summary["selection"]["first_run"], first.explain()

    charges_before = _max_synced_and_count(db, "stripe.charges")
    _sql(db, "delete from stripe.charges where id in (select id from stripe.charges order by id limit 5)")
    assert _max_synced_and_count(db, "stripe.charges") == (charges_before[0], charges_before[1] - 5)
    second = _run(dbt_python, tmp_path / "run-2", db, s3_endpoint, "run-2")  # a sync that hard-deleted rows

    assert second.returncode == 0, second.explain()
    assert second.summary["selection"]["changed_sources"] == ["stripe.charges"], second.explain()
    assert set(second.summary["models_built"]) == CHARGES_LINEAGE, second.explain()

    contacts_before = _max_synced_and_count(db, "hubspot.contacts")
    _sql(db, "update hubspot.contacts set _fivetran_deleted = true")  # a TRUNCATE at the source, soft-deleted
    assert _max_synced_and_count(db, "hubspot.contacts") == contacts_before
    third = _run(dbt_python, tmp_path / "run-3", db, s3_endpoint, "run-3")

    assert third.returncode == 0, third.explain()
    assert third.summary["selection"]["changed_sources"] == ["hubspot.contacts"], third.explain()
    assert set(third.summary["models_built"]) == CONTACTS_LINEAGE, third.explain()
