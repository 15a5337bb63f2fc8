"""What the benchmarks switch off in the local runtime, in one place, without changing ``local/``.

- ``skip_dbt()``: hands ECS tasks to a runner whose task exits 0 at once, through the runtime's own
  hook (``moto_patches.set_ecs_task_runner``). ``RunDbt`` still goes through ``ecs:runTask.sync``, so
  the history and the billed transitions are those of a real run; only the dbt process is not started.
  Call it after entering ``LocalRuntime`` (entering installs the real runner).
- ``no_warehouse_writes()``: the simulator's DuckDB writes (``local.warehouse.write_sync``, and
  ``write_syncs``, the historical load) become a
  no-op while the context is open. Each write opens the one DuckDB file under a process-wide lock, so
  with hundreds of connections a run would measure DuckDB rather than the orchestrator.

A runtime option for each (``LocalRuntime(..., run_dbt=False)``, a simulator flag for warehouse
writes) would replace both; see the benchmark's report.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from unittest import mock

__all__ = ["NoDbtTask", "no_warehouse_writes", "skip_dbt"]


class NoDbtTask:
    """An ECS task handle whose container has already exited 0."""

    def poll(self) -> int:
        return 0


def skip_dbt() -> None:
    from local import moto_patches

    moto_patches.set_ecs_task_runner(lambda task, environment: NoDbtTask())


@contextlib.contextmanager
def no_warehouse_writes() -> Iterator[None]:
    from local import warehouse

    def none_written(db_path: Any, loads: list[Any], **kwargs: Any) -> list[int]:
        return [0] * len(loads)

    with (
        mock.patch.object(warehouse, "write_sync", lambda *args, **kwargs: 0),
        mock.patch.object(warehouse, "write_syncs", none_written),
    ):
        yield
