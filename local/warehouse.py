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
"""

from __future__ import annotations

import argparse
import json
import random
import re
import threading
import time
from collections.abc import Callable
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
    The file is closed on return. If another process holds the file (a dbt run), waits up to
    ``lock_timeout_s`` for it.
    """
    # Fivetran names a connection that lands one table (Google Sheets, a file) schema.table.
    name = schema
    schema, dot, single_table = name.partition(".")
    if not _SCHEMA_NAME.match(schema) or (dot and not _SCHEMA_NAME.match(single_table)):
        raise ValueError(f"schema must be a plain identifier or schema.table, got {name!r}")
    if rows < 0:
        raise ValueError(f"rows must be >= 0, got {rows}")
    synced = _as_utc_naive(synced_at or datetime.now(UTC))
    tables = {single_table: GENERIC_TABLES["records"]} if single_table else tables_for(service)
    with _LOCK:
        con = _connect(Path(db_path), lock_timeout_s)
        try:
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            written = sum(
                _write_table(con, schema, service, table, columns, rows, seed, synced)
                for table, columns in tables.items()
            )
            con.commit()
            return written
        finally:
            con.close()


def _connect(path: Path, lock_timeout_s: float) -> duckdb.DuckDBPyConnection:
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + lock_timeout_s
    while True:
        try:
            con = duckdb.connect(str(path))
            con.begin()
            return con
        except duckdb.IOException:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def _write_table(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    service: str,
    table: str,
    columns: Columns,
    rows: int,
    seed: int,
    synced_at: datetime,
) -> int:
    ddl = ", ".join(f'"{name}" {kind}' for name, kind in columns)
    con.execute(f'CREATE TABLE IF NOT EXISTS "{schema}"."{table}" ({ddl})')
    if rows == 0:
        return 0
    first_id = _max_id(con, schema, service, table) + 1
    parent = _PARENTS.get((service, table))
    parent_count = _max_id(con, schema, service, parent) if parent else 0
    rng = random.Random(f"{seed}:{service}:{schema}:{table}:{first_id}")  # noqa: S311 (sample data)
    batch = _Batch(rng, first_id, rows, parent_count, synced_at)
    values = [(*row, synced_at) for row in _FACTORIES.get((service, table), _generic_records)(batch)]
    marks = ", ".join("?" for _ in columns)
    # Identifiers are checked plain names (schema) or this module's own (tables): no injection.
    con.executemany(f'INSERT INTO "{schema}"."{table}" VALUES ({marks})', values)  # noqa: S608  # nosec B608
    return len(values)


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
    return sum(
        write_sync(db_path, schema=DEMO_SCHEMAS.get(s, s), service=s, rows=rows, seed=seed) for s in chosen
    )


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
