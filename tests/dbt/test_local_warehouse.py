"""local/warehouse/, the sample-data writer: schemas and tables created once, ids unique across syncs,
references kept, deterministic rows, the file closed after each write, safe from several threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest

from local import warehouse

SYNCED_AT = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_write_sync_returns_the_rows_written_across_the_services_tables(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    assert warehouse.write_sync(db, schema="stripe", service="stripe", rows=5) == 10
    assert warehouse.write_sync(db, schema="zendesk", service="zendesk", rows=5) == 5
    assert query(db, "select count(*) from stripe.customers") == [(5,)]
    assert query(db, "select count(*) from stripe.charges") == [(5,)]


def test_tables_have_the_declared_columns_and_types(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    for service, schema in warehouse.DEMO_SCHEMAS.items():
        warehouse.write_sync(db, schema=schema, service=service, rows=1)
        for table, columns in warehouse.TABLES[service].items():
            described = query(db, f'describe "{schema}"."{table}"')
            assert [(row[0], row[1]) for row in described] == columns


def test_schema_and_tables_are_created_once_and_a_sync_of_zero_rows_only_creates_them(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    assert warehouse.write_sync(db, schema="hubspot", service="hubspot", rows=0) == 0
    assert warehouse.write_sync(db, schema="hubspot", service="hubspot", rows=0) == 0
    tables = query(db, "select table_name from information_schema.tables where table_schema = 'hubspot'")
    assert sorted(tables) == [("contacts",), ("deals",)]
    assert query(db, "select count(*) from hubspot.contacts") == [(0,)]


def test_ids_stay_unique_across_repeated_syncs(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    for seed in (0, 0, 1):
        warehouse.write_sync(db, schema="stripe", service="stripe", rows=7, seed=seed)
        warehouse.write_sync(db, schema="app_db", service="postgres", rows=7, seed=seed)
    for table in ("stripe.customers", "stripe.charges", "app_db.users", "app_db.orders"):
        sql = f"select count(*), count(distinct id) from {table}"  # noqa: S608 (our own table names)
        assert query(db, sql) == [(21, 21)], table
    assert query(db, "select min(id), max(id) from stripe.customers") == [
        ("cus_0000000001", "cus_0000000021")
    ]


def test_children_reference_parents_that_exist(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    for service, schema in warehouse.DEMO_SCHEMAS.items():
        warehouse.write_sync(db, schema=schema, service=service, rows=15)
    references = [
        ("stripe.charges", "customer_id", "stripe.customers", "id"),
        ("hubspot.deals", "contact_id", "hubspot.contacts", "id"),
        ("salesforce.opportunity", "account_id", "salesforce.account", "id"),
        ("app_db.orders", "user_id", "app_db.users", "id"),
        ("zendesk.tickets", "requester_email", "app_db.users", "email"),
    ]
    for child, column, parent, key in references:
        sql = f"select count(*) from {child} where {column} not in (select {key} from {parent})"  # noqa: S608
        assert query(db, sql) == [(0,)], child


def test_person_n_has_the_same_email_in_every_service(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    for service, schema in warehouse.DEMO_SCHEMAS.items():
        warehouse.write_sync(db, schema=schema, service=service, rows=4)
    stripe = query(db, "select email from stripe.customers order by id")
    hubspot = query(db, "select lower(email) from hubspot.contacts order by id")
    users = query(db, "select email from app_db.users order by id")
    assert stripe == hubspot == users == [(warehouse.person_email(n),) for n in range(1, 5)]


def test_rows_are_deterministic_for_a_seed(tmp_path: Path) -> None:
    first, second, other = tmp_path / "a.duckdb", tmp_path / "b.duckdb", tmp_path / "c.duckdb"
    for db, seed in ((first, 3), (second, 3), (other, 4)):
        warehouse.write_sync(
            db, schema="salesforce", service="salesforce", rows=10, seed=seed, synced_at=SYNCED_AT
        )
    sql = "select * from salesforce.opportunity order by id"
    assert query(first, sql) == query(second, sql)
    assert query(first, sql) != query(other, sql)


def test_fivetran_synced_is_the_sync_time_in_utc(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    two_hours_ahead = SYNCED_AT.astimezone(timezone(timedelta(hours=2)))
    warehouse.write_sync(db, schema="zendesk", service="zendesk", rows=3, synced_at=two_hours_ahead)
    assert query(db, "select distinct _fivetran_synced from zendesk.tickets") == [
        (datetime(2026, 11, 1, 12, 0),)
    ]
    assert query(db, "select max(created_at) < min(_fivetran_synced) from zendesk.tickets") == [(True,)]


def test_the_file_is_closed_after_a_write_so_another_connection_can_open_it_read_write(
    tmp_path: Path,
) -> None:
    db = tmp_path / "w.duckdb"
    warehouse.write_sync(db, schema="stripe", service="stripe", rows=2)
    con = duckdb.connect(str(db))  # read-write: fails while anyone else holds the file
    try:
        con.execute("insert into stripe.customers (id) values ('cus_9999999999')")
    finally:
        con.close()
    # And the next sync continues after the row written by someone else.
    warehouse.write_sync(db, schema="stripe", service="stripe", rows=1)
    assert query(db, "select max(id) from stripe.customers") == [("cus_9999999999",)]
    assert query(db, "select count(*) from stripe.customers where id = 'cus_10000000000'") == [(1,)]


def test_an_unknown_service_lands_a_generic_records_table(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    assert warehouse.write_sync(db, schema="marketo", service="marketo", rows=4) == 4
    assert query(
        db, "select count(distinct id), count(payload), count(_fivetran_synced) from marketo.records"
    ) == [(4, 4, 4)]


def test_a_schema_table_connection_lands_its_one_table_in_that_schema(tmp_path: Path) -> None:
    # Fivetran names Google Sheets and file connections schema.table.
    db = tmp_path / "w.duckdb"
    assert warehouse.write_sync(db, schema="finance_sheets.budget", service="google_sheets", rows=3) == 3
    assert warehouse.write_sync(db, schema="finance_sheets.budget", service="google_sheets", rows=2) == 2
    assert query(db, "select count(distinct id) from finance_sheets.budget") == [(5,)]
    assert query(
        db, "select table_name from information_schema.tables where table_schema = 'finance_sheets'"
    ) == [("budget",)]


def test_calls_from_several_threads_are_serialized(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    jobs = [("stripe", "stripe"), ("hubspot", "hubspot"), ("zendesk", "zendesk"), ("app_db", "postgres")] * 3
    with ThreadPoolExecutor(max_workers=6) as pool:
        written = list(
            pool.map(lambda job: warehouse.write_sync(db, schema=job[0], service=job[1], rows=5), jobs)
        )
    assert sum(written) == 3 * (10 + 10 + 5 + 10)
    assert query(db, "select count(*), count(distinct id) from stripe.customers") == [(15, 15)]
    assert query(db, "select count(*), count(distinct id) from zendesk.tickets") == [(15, 15)]


@pytest.mark.parametrize(
    ("schema", "rows"),
    [("bad-schema", 1), ('x"; drop table y; --', 1), ("ok", -1), ("a.b.c", 1), ("a.", 1), ('a.b"x', 1)],
)
def test_bad_arguments_are_refused(tmp_path: Path, schema: str, rows: int) -> None:
    with pytest.raises(ValueError):
        warehouse.write_sync(tmp_path / "w.duckdb", schema=schema, service="stripe", rows=rows)


def dump(db: Path) -> dict[tuple[str, str], list[tuple[Any, ...]]]:
    tables = query(db, "select schema_name, table_name from duckdb_tables() order by all")
    return {(s, t): query(db, f'select * from "{s}"."{t}" order by all') for s, t in tables}  # noqa: S608


LOADS = [
    ("stripe", "stripe", 4, 0),
    ("app_db", "postgres", 3, 1),
    ("stripe", "stripe", 2, 2),
    ("marketo_1", "marketo", 5, 3),
    ("sheets.budget", "google_sheets", 2, 4),
]


def test_a_batch_writes_what_the_same_writes_one_by_one_write(tmp_path: Path) -> None:
    for schema, service, rows, seed in LOADS:
        warehouse.write_sync(
            tmp_path / "one.duckdb", schema=schema, service=service, rows=rows, seed=seed, synced_at=SYNCED_AT
        )
    loads = [warehouse.Load(schema, service, rows, seed, SYNCED_AT) for schema, service, rows, seed in LOADS]
    assert warehouse.write_syncs(tmp_path / "batch.duckdb", loads) == [8, 6, 4, 5, 2]
    with warehouse.session(tmp_path / "session.duckdb", one_transaction=True):
        for schema, service, rows, seed in LOADS:
            warehouse.write_sync(
                tmp_path / "session.duckdb",
                schema=schema,
                service=service,
                rows=rows,
                seed=seed,
                synced_at=SYNCED_AT,
            )
    assert (
        dump(tmp_path / "one.duckdb") == dump(tmp_path / "batch.duckdb") == dump(tmp_path / "session.duckdb")
    )


def broken_table(db: Path) -> None:
    """A `broken.records` table whose columns no load fits: writing it fails in DuckDB, not before."""
    con = duckdb.connect(str(db))
    con.execute('CREATE SCHEMA broken; CREATE TABLE broken.records ("id" BIGINT)')
    con.close()


def test_a_load_that_fails_in_a_batch_fails_alone(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    broken_table(db)
    loads = [
        warehouse.Load("stripe", "stripe", 2),
        warehouse.Load("broken", "marketo", 2),
        warehouse.Load("bad-name", "x", 1),
        warehouse.Load("zendesk", "zendesk", 3),
    ]
    results = warehouse.write_syncs(db, loads)
    assert results[0] == 4 and results[3] == 3
    assert isinstance(results[1], duckdb.Error) and isinstance(results[2], ValueError)
    assert query(db, "select count(*) from stripe.customers") == [(2,)]
    assert query(db, "select count(*) from broken.records") == [(0,)]


def test_a_write_that_fails_in_a_one_transaction_session_fails_alone(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    broken_table(db)
    with warehouse.session(db, one_transaction=True):
        assert warehouse.write_sync(db, schema="stripe", service="stripe", rows=2) == 4
        with pytest.raises(duckdb.Error):
            warehouse.write_sync(db, schema="broken", service="marketo", rows=2)
        assert warehouse.write_sync(db, schema="stripe", service="stripe", rows=1) == 2
    assert query(db, "select id from stripe.customers order by id") == [
        ("cus_0000000001",),
        ("cus_0000000002",),
        ("cus_0000000003",),
    ]
    # The file is closed when the session ends: another connection may write it, and a later write
    # continues from what that connection left (the reused catalog is dropped once the file changed).
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO stripe.customers (id) VALUES ('cus_0000000010')")
    con.close()
    warehouse.write_sync(db, schema="stripe", service="stripe", rows=1)
    assert query(db, "select max(id) from stripe.customers") == [("cus_0000000011",)]
