"""Patches ``distributed_map_child_records`` and ``distributed_map_child_context``: each child of
a Distributed Map runs, is recorded and is counted as the child execution it is on AWS.

AWS facts (AWS Step Functions Developer Guide, "Using Map state in Distributed mode"; API
reference ``DescribeMapRun``, ``MapRunItemCounts``/``MapRunExecutionCounts``):

- each iteration is a child workflow execution with its own execution history: inside it,
  ``$$.Execution`` is the child execution and ``$$.StateMachine.Id`` the map run's state machine
  (``stateMachine:<name>/<label>``). The ``ItemSelector`` is evaluated by the parent Map, so it
  sees the parent's ``$$.Execution``.
- ``itemCounts.total`` is every item read, ``pending`` the items not started yet, ``running``
  the children running; each ended child counts once in succeeded/failed/timedOut/aborted.

moto keeps no per-child record (a failed child's output is just ``None``), leaves a failed child
"running" in ``executionCounts``, never counts ``pending``, counts ``total`` only as children
start (``distributed_map_child_records``), and hands a child the parent's ``$$.Execution`` and
``$$.StateMachine`` (``distributed_map_child_context``). The map run itself is driven here too,
with its workers (``dmap_concurrency``).

Not emulated: ``ToleratedFailureCount``/``ToleratedFailurePercentage`` (moto ignores them; a map
run here never fails for its children's failures). The orchestrator's definition tolerates 100 %,
with which AWS never fails the map run either.
"""

from __future__ import annotations

import datetime
from typing import Any

from local.patches import billing
from local.patches.dmap_concurrency import run_program, worker_count
from local.patches.dmap_runs import ENABLED, Child, iso, run_of

__all__ = ["patch_distributed_map_child_context", "patch_distributed_map_child_records"]


def _child_execution_data(child: Child, parent: dict[str, Any]) -> dict[str, Any]:
    data = dict(parent)
    data.update(Id=child.arn, Name=child.name, Input=child.input, StartTime=iso(child.start))  # type: ignore[arg-type]
    return data


def _end_of(env: Any) -> tuple[str, str | None, str | None]:
    from moto.stepfunctions.parser.asl.eval.program_state import (
        ProgramError,
        ProgramStopped,
        ProgramTimedOut,
    )

    state = env.program_state()
    if isinstance(state, ProgramError):
        error = state.error or {}
        return "FAILED", error.get("error"), error.get("cause")
    if isinstance(state, ProgramStopped):
        return "ABORTED", state.error, state.cause
    if isinstance(state, ProgramTimedOut):
        return "TIMED_OUT", "States.Timeout", None
    return "SUCCEEDED", None, None


def _eval_child(self: Any, env: Any, job: Any) -> None:
    """A child execution of a distributed map: record it as AWS reports it, keep the counts."""
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import EvalTimeoutError
    from moto.stepfunctions.parser.asl.eval.states import ItemData, MapData

    record = self._map_run_record
    run = run_of(record)
    child = run.child(job.job_index, job.job_input)
    items, executions = record.item_counter, record.execution_counter
    items.pending.offset(-1)
    items.running.count()
    executions.total.count()
    executions.running.count()
    child.start = datetime.datetime.now(datetime.UTC)
    job_output = None
    try:
        context = env.states.context_object.context_object_data
        parent_arn = str(context["Execution"]["Id"])  # before the child's context replaces it
        context["Map"] = MapData(Item=ItemData(Index=job.job_index, Value=job.job_input))
        env.states.reset(job.job_input)
        env.stack.append(env.states.get_input())
        self._eval_input(env_frame=env)  # ItemSelector: evaluated with the parent's context
        child.input = env.states.get_input()
        if "distributed_map_child_context" in ENABLED:
            context["Execution"] = _child_execution_data(child, context["Execution"])
            context["StateMachine"] = dict(context["StateMachine"], Id=record.map_state_machine_arn)
            context.pop("Map", None)
        with billing.child_execution(parent_arn):  # its start and its states: billed transitions
            run_program(job.job_program, env)
        child.status, child.error, child.cause = _end_of(env)
        if child.status == "SUCCEEDED":
            child.output = job_output = env.states.get_input()
    except EvalTimeoutError:
        child.status, child.error = "TIMED_OUT", "States.Timeout"
    except FailureEventException as ex:
        child.status = "FAILED"
        child.error, child.cause = ex.extract_error_cause_pair() or (None, None)
    except Exception as ex:  # a child's unexpected error fails that child only
        child.status, child.error, child.cause = "FAILED", "States.Runtime", f"{type(ex).__name__}({ex})"
    finally:
        child.stop = datetime.datetime.now(datetime.UTC)
        counter = {"SUCCEEDED": "succeeded", "FAILED": "failed", "TIMED_OUT": "timed_out"}.get(
            child.status, "aborted"
        )
        for counts in (items, executions):
            counts.running.offset(-1)
            getattr(counts, counter).count()
        job.job_output = job_output


def _map_run(self: Any, env: Any, eval_input: Any) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import JobPool

    items: list[Any] = env.stack.pop()
    record = eval_input.map_run_record
    run = run_of(record)
    env._dmap_record = record
    for index, item in enumerate(items):
        run.child(index, item)
    record.item_counter.total.count(len(items))
    record.item_counter.pending.count(len(items))
    job_pool = JobPool(job_program=self._get_iteration_program(), job_inputs=items)
    for _ in range(worker_count(record.max_concurrency, len(items))):
        self._launch_worker(env=env, eval_input=eval_input, job_pool=job_pool)
    job_pool.await_jobs()
    worker_exception = job_pool.get_worker_exception()
    if worker_exception is not None:
        raise worker_exception
    env.stack.append([closed.job_output for closed in job_pool.get_closed_jobs()])


def patch_distributed_map_child_records() -> None:
    """Record each child as AWS does and keep DescribeMapRun's counts right."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as component,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        distributed_item_processor_worker as processor,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iterator import (
        distributed_iterator_worker as iterator,
    )

    processor.DistributedItemProcessorWorker._eval_job = _eval_child  # type: ignore[method-assign]
    iterator.DistributedIteratorWorker._eval_job = _eval_child  # type: ignore[method-assign]
    component.DistributedIterationComponent._map_run = _map_run  # type: ignore[method-assign]


# -- distributed_map_child_context ------------------------------------------------------------


def patch_distributed_map_child_context() -> None:
    """Inside a child, ``$$.Execution`` and ``$$.StateMachine`` are the child execution's."""
    ENABLED.add("distributed_map_child_context")
