"""Landing syncs: ``write_sync`` (one sync), ``write_syncs`` (many, through one connection) and ``session``
(the file kept open across the ``write_sync`` calls made inside it).

DuckDB lets one process open a database file for writing at a time: ``write_sync`` opens, writes and closes,
so the dbt process can open the file right after. Calls from several threads of one process are serialized
(one lock for the process). Opening a file that holds thousands of tables, and the checkpoint at close, cost
far more than a write: hence ``write_syncs`` and ``session`` (the simulator's sync ends, batched).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from local.warehouse.writer import Load, Writer, check_load, file_key

_LOCK = threading.Lock()
_SESSIONS: dict[str, int] = {}
_ONE_TRANSACTION: set[str] = set()
_WRITERS: dict[str, Writer] = {}


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
    load = check_load(Load(schema, service, rows, seed, synced_at))
    with _LOCK:
        key = file_key(db_path)
        open_writer = _WRITERS.get(key)
        if open_writer is not None:
            return open_writer.write(load)
        writer = Writer(Path(db_path), lock_timeout_s, one_transaction=key in _ONE_TRANSACTION)
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
            valid.append(check_load(load))
            results.append(0)
        except ValueError as exc:
            results.append(exc)
    with _LOCK:
        key = file_key(db_path)
        writer = _WRITERS.get(key)
        own = writer is None
        try:
            if writer is None:
                writer = Writer(Path(db_path), lock_timeout_s)
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
    key = file_key(db_path)
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
