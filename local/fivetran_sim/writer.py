"""The simulator's warehouse writer: one thread writes every successful sync's rows into the
connection's schema in the DuckDB file, a batch at a time, and only then ends those syncs (so a
``sync_end`` never comes before its rows, and dbt finds the file free). A write that fails fails
its sync, as Fivetran does when the destination refuses a load."""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path

from local import warehouse
from local.fivetran_sim.records import ConnectionState, Sync

log = logging.getLogger(__name__)

# (connection, sync, outcome, reason): the sync to end once its rows are written.
SyncEnd = tuple[ConnectionState, Sync, str, str]


class WarehouseWriter:
    def __init__(
        self,
        duckdb_path: Path,
        *,
        stopped: threading.Event,
        finish: Callable[[ConnectionState, Sync, str, str], None],
        errors: list[str],
    ) -> None:
        self.duckdb_path = duckdb_path
        self._stopped = stopped
        self._finish = finish  # ends the sync: history, connection state, sync_end
        self._errors = errors
        self._writes: queue.Queue[SyncEnd | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def write_later(self, state: ConnectionState, sync: Sync, outcome: str, reason: str) -> None:
        """A successful sync's rows go to the writer thread, which ends the sync once they are written."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fivetran-sim-warehouse", daemon=True)
                self._thread.start()
        self._writes.put((state, sync, outcome, reason))

    def stop(self) -> None:
        self._writes.put(None)

    def _write_batch(self, ends: list[SyncEnd], failures: dict[int, Exception]) -> None:
        """Write the batch's rows through one connection, in one transaction committed at the end."""
        with warehouse.session(self.duckdb_path, one_transaction=True):
            for i, (state, sync, _, _) in enumerate(ends):
                if state.running is not sync:
                    continue  # dropped meanwhile
                try:
                    warehouse.write_sync(
                        self.duckdb_path,
                        schema=state.spec.schema,
                        service=state.spec.service,
                        rows=state.spec.sync.rows,
                        seed=state.seed,
                    )
                except Exception as exc:  # the destination refused the load: Fivetran fails the sync
                    failures[i] = exc

    def _run(self) -> None:
        """Every sync end waiting is written through one open connection (one connect and one
        checkpoint per batch, not per sync), then the file is closed and the batch's syncs end."""
        while True:
            first = self._writes.get()
            batch = [first]
            with contextlib.suppress(queue.Empty):
                while True:
                    batch.append(self._writes.get_nowait())
            ends = [item for item in batch if item is not None]
            failures: dict[int, Exception] = {}
            try:
                self._write_batch(ends, failures)
            except Exception as exc:  # the batch's commit failed: none of its rows landed
                failures = dict.fromkeys(range(len(ends)), exc)
            for i, (state, sync, outcome, reason) in enumerate(ends):
                failure = failures.get(i)
                if failure is not None:
                    self._errors.append(f"{state.spec.id}: warehouse write failed: {failure}")
                    outcome, reason = "failure", f"destination write failed: {failure}"
                try:
                    self._finish(state, sync, outcome, reason)
                except Exception:
                    log.exception("ending sync %s failed", sync.sync_id)
            if None in batch or self._stopped.is_set():
                return
