"""One open connection to a DuckDB file, landing syncs in it: ``Load`` (one sync's rows), the schemas and
tables created when missing, the INSERTs, and what the writer knows of the file's catalog (schemas,
tables, each table's highest id), kept across writers while no other process changes the file.

``local.warehouse.syncs`` decides which writer a sync goes through; a writer is used under its lock.
"""

from __future__ import annotations

import contextlib
import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from local.warehouse.rows import Batch, rows_for
from local.warehouse.tables import GENERIC_TABLES, PARENTS, STRING_IDS, Columns, tables_for

_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
# What a writer knew of a file when it closed it, and the file's (inode, size, mtime) then: the next
# writer reuses it if the file is unchanged (no other process wrote it), saving the max(id) queries.
_CATALOGS: dict[str, tuple[tuple[int, int, int], _Catalog]] = {}


@dataclass(frozen=True)
class Load:
    """One sync's rows for ``write_syncs`` (the arguments of ``write_sync``)."""

    schema: str
    service: str
    rows: int
    seed: int = 0
    synced_at: datetime | None = None


def check_load(load: Load) -> Load:
    """``load`` itself, if its schema and row count can be written; else ValueError."""
    # Fivetran names a connection that lands one table (Google Sheets, a file) schema.table.
    schema, dot, single_table = load.schema.partition(".")
    if not _SCHEMA_NAME.match(schema) or (dot and not _SCHEMA_NAME.match(single_table)):
        raise ValueError(f"schema must be a plain identifier or schema.table, got {load.schema!r}")
    if load.rows < 0:
        raise ValueError(f"rows must be >= 0, got {load.rows}")
    return load


def file_key(db_path: str | Path) -> str:
    """The file's identity in this process: its resolved path."""
    return str(Path(db_path).resolve())


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


class Writer:
    """One open connection to the file, and what it knows of the catalog (schemas, tables, each
    table's highest id), so a write runs only its CREATEs and INSERTs. Used under the lock of ``syncs``."""

    def __init__(self, path: Path, lock_timeout_s: float, *, one_transaction: bool = False) -> None:
        self.path = path
        self.key = file_key(path)
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
        parent = PARENTS.get((service, table))
        parent_count = self._max_id(schema, service, parent) if parent else 0
        rng = random.Random(f"{seed}:{service}:{schema}:{table}:{first_id}")  # noqa: S311 (sample data)
        batch = Batch(rng, first_id, rows, parent_count, synced_at)
        values = [(*row, synced_at) for row in rows_for(service, table, batch)]
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
    prefix, _ = STRING_IDS.get((service, table), ("", 0))
    expr = f"cast(substr(id, {len(prefix) + 1}) as bigint)" if prefix else "id"
    row = con.execute(f'SELECT coalesce(max({expr}), 0) FROM "{schema}"."{table}"').fetchone()  # noqa: S608  # nosec B608
    return int(row[0]) if row else 0


def _as_utc_naive(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)
