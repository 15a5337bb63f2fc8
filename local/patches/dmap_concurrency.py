"""Patch ``distributed_map_concurrency``: how many children of a Distributed Map run at once, on what.

AWS ("Using Map state in Distributed mode"): without ``MaxConcurrency``, Step Functions runs up to
10,000 child workflow executions in parallel. moto started one worker thread per item without
bound (MaxConcurrency 0, unset), a second thread per child only to time its program out (which an
ItemProcessor never needs), and a worker recursed once per job (RecursionError past ~1,000 items
per worker). Now at most ``MAX_CHILDREN`` workers start, each child runs in its worker's thread,
and a worker loops over its jobs.
"""

from __future__ import annotations

from typing import Any

from local.patches.dmap_runs import ENABLED

__all__ = ["MAX_CHILDREN", "patch_distributed_map_concurrency", "run_program", "worker_count"]

MAX_CHILDREN = 10_000  # AWS: at most 10,000 child workflow executions at once


def worker_count(max_concurrency: int, items: int) -> int:
    """How many workers a map run of ``items`` starts (each runs one child at a time)."""
    unbounded = MAX_CHILDREN if "distributed_map_concurrency" in ENABLED else items
    limit = max_concurrency or unbounded
    return min(limit, items)


def run_program(program: Any, env: Any) -> None:
    """Run a child's states in this thread when it has no top-level timeout (moto's
    ``Program.eval`` starts a second thread per child only to time it out)."""
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    if "distributed_map_concurrency" in ENABLED and program.timeout_seconds is None:
        env.next_state_name = program.start_at.start_at_name
        EvalComponent.eval(program, env)
    else:
        program.eval(env)


def _eval_pool(self: Any, job: Any, worker_frame: Any) -> None:
    """moto's worker recurses once per job (RecursionError past ~1,000 items per worker): a loop."""
    while job is not None:
        job_frame = worker_frame.open_inner_frame()
        self._eval_job(env=job_frame, job=job)
        worker_frame.delete_frame(job_frame)
        if isinstance(job.job_output, Exception) or self.stopped():
            self._job_pool.close_job(job)
            return
        next_job = self._job_pool.next_job()
        self._job_pool.close_job(job)
        job = next_job


def patch_distributed_map_concurrency() -> None:
    """Workers loop over their jobs; ``worker_count`` and ``run_program`` apply the rest."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        distributed_item_processor_worker as processor,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iterator import (
        distributed_iterator_worker as iterator,
    )

    processor.DistributedItemProcessorWorker._eval_pool = _eval_pool  # type: ignore[method-assign]
    iterator.DistributedIteratorWorker._eval_pool = _eval_pool  # type: ignore[method-assign]
    ENABLED.add("distributed_map_concurrency")
