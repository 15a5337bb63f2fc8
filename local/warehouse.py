"""Writes Fivetran-shaped sample rows into a local DuckDB warehouse: what one sync of a demo connection lands.

This module owns the shape of the demo connections' tables (``TABLES``, which the dbt project's sources in
``dbt_container/project/models/staging`` mirror) and the writer the local Fivetran simulator and the dbt
tests call (``write_sync``). Only ``duckdb`` and the standard library: it runs in the app's venv and in the
dbt venv alike.

Rows are believable and deterministic for a seed: ids continue from what the table already holds (unique
across repeated calls), children reference existing parents (a charge's customer exists), and person ``n``
of every service shares one email address, so the marts can join the sources by email.

DuckDB lets one process open a database file for writing at a time: ``write_sync`` opens, writes and closes,
so the dbt process can open the file right after. Calls from several threads of one process are serialized.
Opening a file that holds thousands of tables, and the checkpoint at close, cost far more than a write:
``write_syncs`` lands many syncs through one connection, and ``session`` keeps the file open across the
``write_sync`` calls made inside it (the simulator's sync ends, batched).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

Columns = list[tuple[str, str]]

SYNCED = ("_fivetran_synced", "TIMESTAMP")

# service -> table -> [(column, duckdb type)]; parents come before the children that reference them.
TABLES: dict[str, dict[str, Columns]] = {
    "stripe": {
        "customers": [
            ("id", "VARCHAR"),
            ("email", "VARCHAR"),
            ("name", "VARCHAR"),
            ("created", "TIMESTAMP"),
            SYNCED,
        ],
        "charges": [
            ("id", "VARCHAR"),
            ("customer_id", "VARCHAR"),
            ("amount", "BIGINT"),
            ("currency", "VARCHAR"),
            ("status", "VARCHAR"),
            ("created", "TIMESTAMP"),
            SYNCED,
        ],
    },
    "hubspot": {
        "contacts": [
            ("id", "BIGINT"),
            ("email", "VARCHAR"),
            ("first_name", "VARCHAR"),
            ("last_name", "VARCHAR"),
            ("lifecycle_stage", "VARCHAR"),
            SYNCED,
        ],
        "deals": [
            ("id", "BIGINT"),
            ("contact_id", "BIGINT"),
            ("amount", "DOUBLE"),
            ("stage", "VARCHAR"),
            ("close_date", "DATE"),
            SYNCED,
        ],
    },
    "salesforce": {
        "account": [("id", "VARCHAR"), ("name", "VARCHAR"), ("industry", "VARCHAR"), SYNCED],
        "opportunity": [
            ("id", "VARCHAR"),
            ("account_id", "VARCHAR"),
            ("amount", "DOUBLE"),
            ("stage_name", "VARCHAR"),
            ("is_won", "BOOLEAN"),
            ("close_date", "DATE"),
            SYNCED,
        ],
    },
    "postgres": {
        "users": [("id", "BIGINT"), ("email", "VARCHAR"), ("signed_up_at", "TIMESTAMP"), SYNCED],
        "orders": [
            ("id", "BIGINT"),
            ("user_id", "BIGINT"),
            ("total", "DECIMAL(12,2)"),
            ("ordered_at", "TIMESTAMP"),
            SYNCED,
        ],
    },
    "zendesk": {
        "tickets": [
            ("id", "BIGINT"),
            ("requester_email", "VARCHAR"),
            ("status", "VARCHAR"),
            ("priority", "VARCHAR"),
            ("created_at", "TIMESTAMP"),
            SYNCED,
        ],
    },
}

# What a connection of a service nobody modelled lands: one generic table.
GENERIC_TABLES: dict[str, Columns] = {"records": [("id", "BIGINT"), ("payload", "VARCHAR"), SYNCED]}

# The schema (== the dbt source's name) each demo connection syncs into.
DEMO_SCHEMAS: dict[str, str] = {
    "stripe": "stripe",
    "hubspot": "hubspot",
    "salesforce": "salesforce",
    "postgres": "app_db",
    "zendesk": "zendesk",
}

# Tables whose ids are strings: prefix and zero-padded width of the number after it.
_STRING_IDS: dict[tuple[str, str], tuple[str, int]] = {
    ("stripe", "customers"): ("cus_", 10),
    ("stripe", "charges"): ("ch_", 12),
    ("salesforce", "account"): ("001", 15),
    ("salesforce", "opportunity"): ("006", 15),
}

# child table -> (parent table, column holding the parent's id)
_PARENTS: dict[tuple[str, str], str] = {
    ("stripe", "charges"): "customers",
    ("hubspot", "deals"): "contacts",
    ("salesforce", "opportunity"): "account",
    ("postgres", "orders"): "users",
}

_FIRST = ["ada", "grace", "alan", "edsger", "barbara", "donald", "frances", "ken", "margaret", "linus"]
_LAST = ["lovelace", "hopper", "turing", "dijkstra", "liskov", "knuth", "allen", "thompson", "hamilton"]
_COMPANY = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell", "Cyberdyne"]
_INDUSTRIES = ["Technology", "Finance", "Healthcare", "Retail", "Manufacturing", "Education"]
_LIFECYCLE = ["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer"]
_DEAL_STAGES = ["appointmentscheduled", "qualifiedtobuy", "contractsent", "closedwon", "closedlost"]
_SF_STAGES = [
    "Prospecting",
    "Qualification",
    "Proposal/Price Quote",
    "Negotiation",
    "Closed Won",
    "Closed Lost",
]
_TICKET_STATUS = ["new", "open", "pending", "hold", "solved", "closed"]
_PRIORITY = ["low", "normal", "normal", "high", "urgent", None]
_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
_LOCK = threading.Lock()


@dataclass(frozen=True)
class _Batch:
    """What the row factory of one table needs: ids to give, the parents to point at, the clock."""

    rng: random.Random
    first_id: int
    count: int
    parent_count: int
    synced_at: datetime

    def ids(self) -> range:
        return range(self.first_id, self.first_id + self.count)

    def past(self, max_days: int = 120) -> datetime:
        """A moment before the sync, at most ``max_days`` earlier, whole seconds."""
        return self.synced_at - timedelta(seconds=self.rng.randint(60, max_days * 86_400))

    def close_date(self) -> date:
        return (self.synced_at - timedelta(days=self.rng.randint(-30, 120))).date()

    def parent(self) -> int:
        return self.rng.randint(1, self.parent_count)


def person_email(n: int) -> str:
    """The email address of person ``n``; every service's record ``n`` belongs to the same person."""
    return f"{_first(n)}.{_last(n)}.{n}@example.com"


def _first(n: int) -> str:
    return _FIRST[n % len(_FIRST)]


def _last(n: int) -> str:
    return _LAST[(n // len(_FIRST)) % len(_LAST)]


def _format_id(service: str, table: str, n: int) -> str | int:
    if (service, table) not in _STRING_IDS:
        return n
    prefix, width = _STRING_IDS[(service, table)]
    return f"{prefix}{n:0{width}d}"


def _stripe_customers(b: _Batch) -> list[tuple]:
    return [
        (_format_id("stripe", "customers", n), person_email(n), f"{_first(n)} {_last(n)}".title(), b.past())
        for n in b.ids()
    ]


def _stripe_charges(b: _Batch) -> list[tuple]:
    statuses = ["succeeded"] * 8 + ["failed", "pending"]
    return [
        (
            _format_id("stripe", "charges", n),
            _format_id("stripe", "customers", b.parent()),
            b.rng.randint(5, 500) * 100 + b.rng.choice([0, 50, 99]),
            "usd",
            b.rng.choice(statuses),
            b.past(60),
        )
        for n in b.ids()
    ]


def _hubspot_contacts(b: _Batch) -> list[tuple]:
    # HubSpot keeps whatever case people typed: every third address is capitalised.
    return [
        (n, _typed_email(n), _first(n).title(), _last(n).title(), b.rng.choice(_LIFECYCLE)) for n in b.ids()
    ]


def _typed_email(n: int) -> str:
    return person_email(n).title() if n % 3 == 0 else person_email(n)


def _hubspot_deals(b: _Batch) -> list[tuple]:
    return [
        (n, b.parent(), round(b.rng.uniform(500, 50_000), 2), b.rng.choice(_DEAL_STAGES), b.close_date())
        for n in b.ids()
    ]


def _salesforce_accounts(b: _Batch) -> list[tuple]:
    return [
        (
            _format_id("salesforce", "account", n),
            f"{_COMPANY[n % len(_COMPANY)]} {n}",
            b.rng.choice(_INDUSTRIES),
        )
        for n in b.ids()
    ]


def _salesforce_opportunities(b: _Batch) -> list[tuple]:
    return [_opportunity(b, n, b.rng.choice(_SF_STAGES)) for n in b.ids()]


def _opportunity(b: _Batch, n: int, stage: str) -> tuple:
    account = _format_id("salesforce", "account", b.parent())
    amount = round(b.rng.uniform(1_000, 250_000), 2)
    return (
        _format_id("salesforce", "opportunity", n),
        account,
        amount,
        stage,
        stage == "Closed Won",
        b.close_date(),
    )


def _postgres_users(b: _Batch) -> list[tuple]:
    return [(n, person_email(n), b.past(365)) for n in b.ids()]


def _postgres_orders(b: _Batch) -> list[tuple]:
    return [(n, b.parent(), round(b.rng.uniform(5, 900), 2), b.past(60)) for n in b.ids()]


def _zendesk_tickets(b: _Batch) -> list[tuple]:
    # Requesters are people the other services know (person 1 .. the newest ticket's id).
    return [
        (
            n,
            person_email(b.rng.randint(1, n)),
            b.rng.choice(_TICKET_STATUS),
            b.rng.choice(_PRIORITY),
            b.past(90),
        )
        for n in b.ids()
    ]


def _generic_records(b: _Batch) -> list[tuple]:
    return [(n, json.dumps({"value": b.rng.randint(0, 10_000)})) for n in b.ids()]


_FACTORIES: dict[tuple[str, str], Callable[[_Batch], list[tuple]]] = {
    ("stripe", "customers"): _stripe_customers,
    ("stripe", "charges"): _stripe_charges,
    ("hubspot", "contacts"): _hubspot_contacts,
    ("hubspot", "deals"): _hubspot_deals,
    ("salesforce", "account"): _salesforce_accounts,
    ("salesforce", "opportunity"): _salesforce_opportunities,
    ("postgres", "users"): _postgres_users,
    ("postgres", "orders"): _postgres_orders,
    ("zendesk", "tickets"): _zendesk_tickets,
}


def tables_for(service: str) -> dict[str, Columns]:
    """The tables a connection of ``service`` lands (the generic one for a service nobody modelled)."""
    return TABLES.get(service, GENERIC_TABLES)


@dataclass(frozen=True)
class Load:
    """One sync's rows for ``write_syncs`` (the arguments of ``write_sync``)."""

    schema: str
    service: str
    rows: int
    seed: int = 0
    synced_at: datetime | None = None


def write_sync(
    db_path: str | Path,
    *,
    schema: str,
    service: str,
    rows: int,
    seed: int = 0,
    synced_at: datetime | None = None,
    lock_timeout_s: float = 30.0,
) -> int:
    """Land one sync: append ``rows`` rows to each table of ``service`` in ``schema``, or to the one
    table of a ``schema.table`` connection.

    Returns the rows written, all tables together. Creates the schema and the tables when missing.
    ``_fivetran_synced`` is ``synced_at`` (default: now), stored as a UTC timestamp without time zone.
    One transaction. The file is closed on return, unless a ``session`` on it is open (then it closes
    when the session ends). If another process holds the file (a dbt run), waits up to
    ``lock_timeout_s`` for it.
    """
    load = _checked(Load(schema, service, rows, seed, synced_at))
    with _LOCK:
        key = _key(db_path)
        open_writer = _WRITERS.get(key)
        if open_writer is not None:
            return open_writer.write(load)
        writer = _Writer(Path(db_path), lock_timeout_s, one_transaction=key in _ONE_TRANSACTION)
        try:
            if key in _SESSIONS:
                _WRITERS[key] = writer
            return writer.write(load)
        finally:
            if key not in _SESSIONS:
                writer.close()


def write_syncs(
    db_path: str | Path, loads: list[Load], *, lock_timeout_s: float = 30.0
) -> list[int | Exception]:
    """Land many syncs through one connection, in one transaction: what ``write_sync`` would write for
    each, in order (the same rows), without opening and checkpointing the file each time. Returns each
    load's rows written, or the exception that load raised: if any load fails, the batch is rolled back
    and every load is written in its own transaction, so one bad load fails alone."""
    results: list[int | Exception] = []
    valid: list[Load] = []
    for load in loads:
        try:
            valid.append(_checked(load))
            results.append(0)
        except ValueError as exc:
            results.append(exc)
    with _LOCK:
        key = _key(db_path)
        writer = _WRITERS.get(key)
        own = writer is None
        try:
            if writer is None:
                writer = _Writer(Path(db_path), lock_timeout_s)
        except Exception as exc:  # every load fails with the file's error
            return [r if isinstance(r, Exception) else exc for r in results]
        try:
            written = iter(writer.write_all(valid))
        finally:
            if own:
                writer.close()
    return [r if isinstance(r, Exception) else next(written) for r in results]


@contextlib.contextmanager
def session(db_path: str | Path, *, one_transaction: bool = False) -> Iterator[None]:
    """Keep ``db_path`` open for the ``write_sync`` calls made during the block (any thread): one
    connect and one checkpoint for many writes. The file is opened at the first write and closed when
    the block ends (nested blocks: the outermost).

    Each write is its own transaction, or, with ``one_transaction``, all of them are one, committed
    when the block ends: a ``write_sync`` that fails still fails alone (the transaction is rolled back
    and the earlier writes of the block written again, the same rows), and a failed commit is raised
    when the block ends (then none of the block's writes landed)."""
    key = _key(db_path)
    with _LOCK:
        _SESSIONS[key] = _SESSIONS.get(key, 0) + 1
        if one_transaction and _SESSIONS[key] == 1:
            _ONE_TRANSACTION.add(key)
    try:
        yield
    finally:
        with _LOCK:
            _SESSIONS[key] -= 1
            if not _SESSIONS[key]:
                del _SESSIONS[key]
                _ONE_TRANSACTION.discard(key)
                writer = _WRITERS.pop(key, None)
                if writer is not None:
                    writer.close()


_SESSIONS: dict[str, int] = {}
_ONE_TRANSACTION: set[str] = set()
_WRITERS: dict[str, _Writer] = {}
# What a writer knew of a file when it closed it, and the file's (inode, size, mtime) then: the next
# writer reuses it if the file is unchanged (no other process wrote it), saving the max(id) queries.
_CATALOGS: dict[str, tuple[tuple[int, int, int], _Catalog]] = {}


@dataclass
class _Catalog:
    tables: set[tuple[str, str]]
    schemas: set[str]
    max_ids: dict[tuple[str, str], int]

    def copy(self) -> _Catalog:
        return _Catalog(set(self.tables), set(self.schemas), dict(self.max_ids))


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _key(db_path: str | Path) -> str:
    return str(Path(db_path).resolve())


def _checked(load: Load) -> Load:
    # Fivetran names a connection that lands one table (Google Sheets, a file) schema.table.
    schema, dot, single_table = load.schema.partition(".")
    if not _SCHEMA_NAME.match(schema) or (dot and not _SCHEMA_NAME.match(single_table)):
        raise ValueError(f"schema must be a plain identifier or schema.table, got {load.schema!r}")
    if load.rows < 0:
        raise ValueError(f"rows must be >= 0, got {load.rows}")
    return load


class _Writer:
    """One open connection to the file, and what it knows of the catalog (schemas, tables, each
    table's highest id), so a write runs only its CREATEs and INSERTs. Used under ``_LOCK``."""

    def __init__(self, path: Path, lock_timeout_s: float, *, one_transaction: bool = False) -> None:
        self.path = path
        self.key = _key(path)
        self.con = _connect(path, lock_timeout_s)
        known = _CATALOGS.pop(self.key, None)
        if known is not None and known[0] == _signature(path):
            self.catalog = known[1]
        else:
            self._learn()
        self.one_transaction = one_transaction
        self.pending: list[Load] = []  # one_transaction: the writes of the open transaction
        if one_transaction:
            self.con.begin()

    @property
    def tables(self) -> set[tuple[str, str]]:
        return self.catalog.tables

    @property
    def schemas(self) -> set[str]:
        return self.catalog.schemas

    @property
    def max_ids(self) -> dict[tuple[str, str], int]:
        return self.catalog.max_ids

    def _learn(self) -> None:
        rows = self.con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
        schemas = self.con.execute("SELECT schema_name FROM duckdb_schemas()").fetchall()
        self.catalog = _Catalog({(s, t) for s, t in rows}, {r[0] for r in schemas}, {})

    def close(self) -> None:
        """Commit the open transaction (``one_transaction``) and close; a failed commit is raised."""
        try:
            if self.one_transaction:
                try:
                    self.con.commit()
                except BaseException:
                    with contextlib.suppress(duckdb.Error):
                        self.con.rollback()
                    self.catalog = _Catalog(set(), set(), {})
                    raise
        finally:
            self.con.close()
        signature = _signature(self.path)
        if signature is not None and self.catalog.tables:
            _CATALOGS[self.key] = (signature, self.catalog)

    def write(self, load: Load) -> int:
        if self.one_transaction:
            return self._write_in_open_transaction(load)
        self.con.begin()
        try:
            written = self._land(load)
            self.con.commit()
            return written
        except BaseException:
            self._rollback()
            raise

    def _write_in_open_transaction(self, load: Load) -> int:
        try:
            written = self._land(load)
        except BaseException:
            # DuckDB aborts the whole transaction: start again with the block's earlier writes.
            self._rollback()
            self.con.begin()
            for earlier in self.pending:
                self._land(earlier)
            raise
        self.pending.append(load)
        return written

    def write_all(self, loads: list[Load]) -> list[int | Exception]:
        self.con.begin()
        try:
            written: list[int | Exception] = [self._land(load) for load in loads]
            self.con.commit()
            return written
        except Exception:  # find the load that failed: one transaction each
            self._rollback()
        results: list[int | Exception] = []
        for load in loads:
            try:
                results.append(self.write(load))
            except Exception as exc:  # that load's own failure
                results.append(exc)
        return results

    def _rollback(self) -> None:
        with contextlib.suppress(duckdb.Error):
            self.con.rollback()
        self._learn()

    def _land(self, load: Load) -> int:
        schema, dot, single_table = load.schema.partition(".")
        synced = _as_utc_naive(load.synced_at or datetime.now(UTC))
        tables = {single_table: GENERIC_TABLES["records"]} if dot else tables_for(load.service)
        if schema not in self.schemas:
            self.con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            self.schemas.add(schema)
        return sum(
            self._write_table(schema, load.service, table, columns, load.rows, load.seed, synced)
            for table, columns in tables.items()
        )

    def _write_table(
        self,
        schema: str,
        service: str,
        table: str,
        columns: Columns,
        rows: int,
        seed: int,
        synced_at: datetime,
    ) -> int:
        if (schema, table) not in self.tables:
            ddl = ", ".join(f'"{name}" {kind}' for name, kind in columns)
            self.con.execute(f'CREATE TABLE IF NOT EXISTS "{schema}"."{table}" ({ddl})')
            self.tables.add((schema, table))
            self.max_ids[(schema, table)] = 0
        if rows == 0:
            return 0
        first_id = self._max_id(schema, service, table) + 1
        parent = _PARENTS.get((service, table))
        parent_count = self._max_id(schema, service, parent) if parent else 0
        rng = random.Random(f"{seed}:{service}:{schema}:{table}:{first_id}")  # noqa: S311 (sample data)
        batch = _Batch(rng, first_id, rows, parent_count, synced_at)
        values = [(*row, synced_at) for row in _FACTORIES.get((service, table), _generic_records)(batch)]
        # One statement with literal values: executemany runs one INSERT per row (~100x slower).
        # Identifiers are checked plain names (schema) or this module's own (tables): no injection.
        literal = ", ".join("(" + ", ".join(_literal(v) for v in row) + ")" for row in values)
        self.con.execute(f'INSERT INTO "{schema}"."{table}" VALUES {literal}')  # noqa: S608  # nosec B608
        self.max_ids[(schema, table)] = first_id + len(values) - 1
        return len(values)

    def _max_id(self, schema: str, service: str, table: str) -> int:
        """The number in the table's highest id (0 when empty); string ids are prefix + zero-padded number."""
        known = self.max_ids.get((schema, table))
        if known is None:
            if (schema, table) not in self.tables:
                return 0
            known = _max_id(self.con, schema, service, table)
            self.max_ids[(schema, table)] = known
        return known


def _literal(value: object) -> str:
    """A SQL literal of the type DuckDB binds the Python value as (``?`` parameters): the same value
    lands in the column."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return f"{value}::BIGINT"
    if isinstance(value, float):
        return f"'{value!r}'::DOUBLE"
    if isinstance(value, datetime):
        return f"'{value.isoformat(sep=' ')}'::TIMESTAMP"
    if isinstance(value, date):
        return f"'{value.isoformat()}'::DATE"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for {type(value).__name__}")


def _connect(path: Path, lock_timeout_s: float) -> duckdb.DuckDBPyConnection:
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_timeout_s
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def _max_id(con: duckdb.DuckDBPyConnection, schema: str, service: str, table: str) -> int:
    """The number in the table's highest id (0 when empty); string ids are prefix + zero-padded number."""
    prefix, _ = _STRING_IDS.get((service, table), ("", 0))
    expr = f"cast(substr(id, {len(prefix) + 1}) as bigint)" if prefix else "id"
    row = con.execute(f'SELECT coalesce(max({expr}), 0) FROM "{schema}"."{table}"').fetchone()  # noqa: S608  # nosec B608
    return int(row[0]) if row else 0


def _as_utc_naive(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def seed_demo(
    db_path: str | Path, *, rows: int = 50, seed: int = 0, services: list[str] | None = None
) -> int:
    """Land one sync of each demo connection (or of ``services``) into ``db_path``; return rows written."""
    chosen = services or list(DEMO_SCHEMAS)
    results = write_syncs(db_path, [Load(DEMO_SCHEMAS.get(s, s), s, rows, seed) for s in chosen])
    for result in results:
        if isinstance(result, Exception):
            raise result
    return sum(r for r in results if isinstance(r, int))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write sample Fivetran-shaped rows into a DuckDB file.")
    parser.add_argument("db_path", help="the DuckDB file (created if missing)")
    parser.add_argument("--rows", type=int, default=50, help="rows per table (default 50)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--service", action="append", choices=sorted(DEMO_SCHEMAS), help="repeatable")
    args = parser.parse_args(argv)
    written = seed_demo(args.db_path, rows=args.rows, seed=args.seed, services=args.service)
    print(json.dumps({"event": "warehouse_seeded", "db_path": args.db_path, "rows": written}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
