"""Distributed Map patches, applied by ``moto_patches.install()`` (listed in its docstring table).

moto 5.2.5 runs a ``Map`` with ``ProcessorConfig.Mode: DISTRIBUTED`` as threads inside the parent
execution. These patches make what the rest of the project can observe match AWS: each child's
record (ARN, name, input, output, status, error, cause), the ``ResultWriter`` files, the tolerated
failure threshold, the default concurrency, ``DescribeMapRun`` counts and the child's context.

AWS facts relied on (AWS Step Functions Developer Guide unless said otherwise):

- "Using Map state in Distributed mode": each iteration is a child workflow execution with its own
  execution history; without MaxConcurrency, Step Functions runs up to 10,000 children in parallel.
- "Viewing a Distributed Map Run execution": children run under the state machine ARN
  ``arn:...:stateMachine:<name>/<MapRunLabel or UUID>``.
- "ResultWriter (Map)": results are exported to ``<Prefix>/<map-run-id>/``: ``manifest.json``
  (``DestinationBucket``, ``MapRunArn``, ``ResultFiles`` with ``FAILED``/``PENDING``/``SUCCEEDED``
  lists of ``{Key, Size}``) and per-status files ``SUCCEEDED_n.json`` / ``FAILED_n.json`` /
  ``PENDING_n.json``; each record has ``ExecutionArn`` (``execution:<name>/<label>:<uuid>``),
  ``Input``/``Output`` (JSON strings), ``InputDetails``/``OutputDetails`` ``{"Included": true}``,
  ``Name`` (the uuid), ``RedriveCount``, ``RedriveStatus`` ``NOT_REDRIVABLE``,
  ``RedriveStatusReason``, ``StartDate``/``StopDate`` (ISO, ms, Z), ``StateMachineArn``,
  ``Status``. The state's result is ``{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}``.
- "Tolerated failure threshold for Distributed Map state": the Map Run fails with
  ``States.ExceedToleratedFailureThreshold`` when failed or timed-out items exceed
  ``ToleratedFailureCount`` or ``ToleratedFailurePercentage`` (failed+timed out / total items);
  either threshold when both are set; the default 0 fails on any failed child; 100 never fails.
- API reference ``MapRunItemCounts``/``MapRunExecutionCounts``: pending, running, succeeded,
  failed, timedOut, aborted, total, resultsWritten (items whose results ResultWriter wrote).

Not verified against AWS (no account used), chosen as the closest reading of the docs: a result
file is written only for a status that has children (the docs' manifest example lists
``"FAILED": []``); a PENDING record holds only ``Input`` and ``Status``; the threshold error's
``Cause`` text; an aborted child's ``Error``/``Cause``; ``RedriveStatusReason`` wording for
children that did not succeed. ``WriterConfig`` (``Transformation``, ``JSONL``) and files split
past AWS's size limit are not implemented.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

__all__ = ["PATCHES"]

MAX_CHILDREN = 10_000  # AWS: at most 10,000 child workflow executions at once
_enabled: set[str] = set()
_runs_lock = threading.Lock()


def _iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class _Child:
    """What AWS knows of one child execution (a record of a ResultWriter file)."""

    def __init__(self, run: _Run, index: int, item: Any) -> None:
        self.index = index
        self.item = item
        self.name = str(uuid.uuid4())
        self.arn = f"{run.child_prefix}:{self.name}"
        self.input: Any = item
        self.output: Any = None
        self.status = "PENDING"
        self.error: str | None = None
        self.cause: str | None = None
        self.start: datetime.datetime | None = None
        self.stop: datetime.datetime | None = None
        self.frame: Any = None

    def describe(self, state_machine_arn: str) -> dict[str, Any]:
        if self.status == "PENDING":
            return {"Input": json.dumps(self.input, default=str), "Status": "PENDING"}
        record: dict[str, Any] = {
            "ExecutionArn": self.arn,
            "Input": json.dumps(self.input, default=str),
            "InputDetails": {"Included": True},
            "Name": self.name,
        }
        if self.status == "SUCCEEDED":
            record["Output"] = json.dumps(self.output, default=str)
            record["OutputDetails"] = {"Included": True}
        record.update(
            RedriveCount=0,
            RedriveStatus="NOT_REDRIVABLE",
            RedriveStatusReason=f"Execution is {self.status} and cannot be redriven",
            StartDate=_iso(self.start or datetime.datetime.now(datetime.UTC)),
            StateMachineArn=state_machine_arn,
            Status=self.status,
            StopDate=_iso(self.stop or datetime.datetime.now(datetime.UTC)),
        )
        if self.status != "SUCCEEDED":
            record["Error"] = self.error
            record["Cause"] = self.cause
        return record


class _Run:
    """Per map run: its children, and whether the tolerated failure threshold was exceeded."""

    def __init__(self, record: Any) -> None:
        self.record = record
        self.lock = threading.Lock()
        self.children: dict[int, _Child] = {}
        self.total = 0
        self.failed = 0
        self.exceeded = False
        self.count_set = False
        self.percentage_set = False
        self.child_prefix = record.map_state_machine_arn.replace(":stateMachine:", ":execution:", 1)

    def child(self, index: int, item: Any) -> _Child:
        with self.lock:
            if index not in self.children:
                self.children[index] = _Child(self, index, item)
            return self.children[index]

    def threshold_exceeded(self) -> bool:
        """AWS: failed + timed-out items over ToleratedFailureCount or ToleratedFailurePercentage."""
        count = self.record.tolerated_failure_count
        percentage = self.record.tolerated_failure_percentage
        if not (self.count_set or self.percentage_set or count or percentage):
            return self.failed > 0  # both default to 0: any failed child fails the map run
        by_count = (self.count_set or bool(count)) and self.failed > int(count or 0)
        by_percentage = (self.percentage_set or bool(percentage)) and self.total > 0
        by_percentage = by_percentage and self.failed * 100.0 / self.total > float(percentage or 0)
        return bool(by_count or by_percentage)


def _run_of(record: Any) -> _Run:
    with _runs_lock:
        run = getattr(record, "_dmap_run", None)
        if run is None:
            run = _Run(record)
            record._dmap_run = run
        return run


# -- distributed_map_child_records -----------------------------------------------------------


def _child_execution_data(child: _Child, parent: dict[str, Any]) -> dict[str, Any]:
    data = dict(parent)
    data.update(Id=child.arn, Name=child.name, Input=child.input, StartTime=_iso(child.start))  # type: ignore[arg-type]
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


def _run_program(program: Any, env: Any) -> None:
    """Run a child's states in this thread when it has no top-level timeout (moto's
    ``Program.eval`` starts a second thread per child only to time it out)."""
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    if "distributed_map_concurrency" in _enabled and program.timeout_seconds is None:
        env.next_state_name = program.start_at.start_at_name
        EvalComponent.eval(program, env)
    else:
        program.eval(env)


def _eval_child(self: Any, env: Any, job: Any) -> None:
    """A child execution of a distributed map: record it as AWS reports it, keep the counts."""
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import EvalTimeoutError
    from moto.stepfunctions.parser.asl.eval.states import ItemData, MapData

    record = self._map_run_record
    run = _run_of(record)
    child = run.child(job.job_index, job.job_input)
    if run.exceeded:  # taken from the pool just before the map run failed: never started
        job.job_output = None
        return
    items, executions = record.item_counter, record.execution_counter
    items.pending.offset(-1)
    items.running.count()
    executions.total.count()
    executions.running.count()
    child.start = datetime.datetime.now(datetime.UTC)
    child.frame = env
    job_output = None
    try:
        context = env.states.context_object.context_object_data
        context["Map"] = MapData(Item=ItemData(Index=job.job_index, Value=job.job_input))
        env.states.reset(job.job_input)
        env.stack.append(env.states.get_input())
        self._eval_input(env_frame=env)  # ItemSelector: evaluated with the parent's context
        child.input = env.states.get_input()
        if "distributed_map_child_context" in _enabled:
            context["Execution"] = _child_execution_data(child, context["Execution"])
            context["StateMachine"] = dict(context["StateMachine"], Id=record.map_state_machine_arn)
            context.pop("Map", None)
        _run_program(job.job_program, env)
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
        child.frame = None
        counter = {"SUCCEEDED": "succeeded", "FAILED": "failed", "TIMED_OUT": "timed_out"}.get(
            child.status, "aborted"
        )
        for counts in (items, executions):
            counts.running.offset(-1)
            getattr(counts, counter).count()
        if child.status in ("FAILED", "TIMED_OUT"):
            with run.lock:
                run.failed += 1
        job.job_output = job_output
        if "distributed_map_tolerated_failures" in _enabled and not run.exceeded:
            _check_threshold(run, env)


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


def _map_run(self: Any, env: Any, eval_input: Any) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import JobPool

    items: list[Any] = env.stack.pop()
    record = eval_input.map_run_record
    run = _run_of(record)
    state = getattr(env, "_dmap_state", None)
    run.count_set = bool(getattr(state, "_dmap_count_set", False))
    run.percentage_set = bool(getattr(state, "_dmap_percentage_set", False))
    run.total = len(items)
    env._dmap_record = record
    for index, item in enumerate(items):
        run.child(index, item)
    record.item_counter.total.count(len(items))
    record.item_counter.pending.count(len(items))
    job_pool = JobPool(job_program=self._get_iteration_program(), job_inputs=items)
    run.job_pool = job_pool
    unbounded = MAX_CHILDREN if "distributed_map_concurrency" in _enabled else len(items)
    limit = record.max_concurrency or unbounded
    for _ in range(min(limit, len(items))):
        self._launch_worker(env=env, eval_input=eval_input, job_pool=job_pool)
    job_pool.await_jobs()
    worker_exception = job_pool.get_worker_exception()
    if worker_exception is not None:
        raise worker_exception
    outputs = [closed.job_output for closed in job_pool.get_closed_jobs()]
    if run.exceeded:
        _fail_map_run(env, state, outputs)
    env.stack.append(outputs)


def _patch_StateMap_eval_execution() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap

    if getattr(StateMap, "_dmap_wrapped", False):
        return
    original = StateMap._eval_execution

    def _eval_execution(self: Any, env: Any) -> None:
        env._dmap_state = self
        original(self, env)

    StateMap._eval_execution = _eval_execution  # type: ignore[method-assign]
    StateMap._dmap_wrapped = True  # type: ignore[attr-defined]


def _patch_distributed_map_child_records() -> None:
    """Record each child as AWS does and keep DescribeMapRun's counts right.

    moto keeps no per-child record (a failed child's output is just ``None``), leaves a failed
    child "running" in ``executionCounts``, never counts ``pending`` and counts ``total`` only as
    children start. AWS (API reference, ``DescribeMapRun``): ``itemCounts.total`` is every item
    read, ``pending`` the items not started yet, ``running`` the children running; each ended child
    counts once in succeeded/failed/timedOut/aborted.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as component,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        distributed_item_processor_worker as processor,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iterator import (
        distributed_iterator_worker as iterator,
    )

    _patch_StateMap_eval_execution()
    processor.DistributedItemProcessorWorker._eval_job = _eval_child  # type: ignore[method-assign]
    iterator.DistributedIteratorWorker._eval_job = _eval_child  # type: ignore[method-assign]
    component.DistributedIterationComponent._map_run = _map_run  # type: ignore[method-assign]


# -- distributed_map_child_context ------------------------------------------------------------


def _patch_distributed_map_child_context() -> None:
    """Inside a child, ``$$.Execution`` is the child execution and ``$$.StateMachine.Id`` the map
    run's state machine (``stateMachine:<name>/<label>``), as each child is its own execution on
    AWS ("Using Map state in Distributed mode"); moto hands the child the parent's. The
    ``ItemSelector`` is evaluated by the parent Map, so it still sees the parent's ``$$.Execution``.
    """
    _enabled.add("distributed_map_child_context")


# -- distributed_map_result_writer ------------------------------------------------------------


def _put_object(
    env: Any, resource_runtime_part: Any, state_credentials: Any
) -> None:  # replaces ResourceEvalS3._handle_put_object
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    parameters = env.stack.pop()
    env.stack.pop()  # the children's outputs: the files are built from the child records
    record = getattr(env, "_dmap_record", None) or env.map_run_record_pool_manager.get_all()[-1]
    run = _run_of(record)
    s3 = boto_client_for(
        service="s3", region=resource_runtime_part.region, state_credentials=state_credentials
    )
    bucket = parameters["Bucket"]
    prefix = parameters.get("Prefix", "") or ""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    folder = prefix + record.map_run_arn.split(":")[-1] + "/"
    by_status: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    with run.lock:
        children = sorted(run.children.values(), key=lambda c: c.index)
    for child in children:
        group = child.status if child.status in ("SUCCEEDED", "PENDING") else "FAILED"
        by_status[group].append(child.describe(record.map_state_machine_arn))
    files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    for status, records in by_status.items():
        if not records:
            continue
        body = json.dumps(records).encode("utf-8")
        key = f"{folder}{status}_0.json"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        files[status].append({"Key": key, "Size": len(body)})
    written = len(by_status["SUCCEEDED"]) + len(by_status["FAILED"])
    record.item_counter.results_written.count(written)
    record.execution_counter.results_written.count(written)
    manifest = {"DestinationBucket": bucket, "MapRunArn": record.map_run_arn, "ResultFiles": files}
    key = folder + "manifest.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest).encode("utf-8"))
    env.stack.append({"MapRunArn": record.map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": key}})


def _patch_distributed_map_result_writer() -> None:
    """moto's S3 ResultWriter writes only a manifest with empty ``ResultFiles``: write the
    ``SUCCEEDED_0.json``/``FAILED_0.json``/``PENDING_0.json`` files AWS writes ("ResultWriter
    (Map)"), one per status that has children, and list them in the manifest.

    The manifest has only FAILED, PENDING and SUCCEEDED lists, so TIMED_OUT and ABORTED children
    (``Status`` kept) go to ``FAILED_n.json``. A failed record has ``Error``/``Cause``, no
    ``Output``. ``resultsWritten`` counts the written children.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
        resource_eval_s3 as mod,
    )

    mod.ResourceEvalS3._handle_put_object = staticmethod(_put_object)  # type: ignore[method-assign]


# -- distributed_map_tolerated_failures -------------------------------------------------------

_THRESHOLD_ERROR = "States.ExceedToleratedFailureThreshold"
_THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"


def _check_threshold(run: _Run, env: Any) -> None:
    """Once exceeded: no new child starts (its item stays PENDING), running children are stopped."""
    with run.lock:
        if run.exceeded or not run.threshold_exceeded():
            return
        run.exceeded = True
        running = [c for c in run.children.values() if c.frame is not None and c.frame is not env]
    pool = getattr(run, "job_pool", None)
    if pool is not None:
        with pool._mutex:
            pending = list(pool._open_jobs)
            pool._open_jobs.clear()
        for job in pending:
            pool.close_job(job)  # job_output None; the child record stays PENDING
    now = datetime.datetime.now(datetime.UTC)
    for child in running:
        child.frame.set_stop(stop_date=now, cause=_THRESHOLD_CAUSE, error=_THRESHOLD_ERROR)


def _fail_map_run(env: Any, state: Any, outputs: list[Any]) -> None:
    """Write the results (AWS writes them for a failed map run too), then fail the Map state."""
    from moto.stepfunctions.parser.api import EvaluationFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    writer = getattr(state, "result_writer", None)
    if writer is not None:
        env.stack.append(outputs)
        writer.eval(env)
        env.stack.pop()
    name = StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold)
    raise FailureEventException(
        failure_event=FailureEvent(
            env=env,
            error_name=name,
            event_type=HistoryEventType.MapRunFailed,
            event_details=EventDetails(
                evaluationFailedEventDetails=EvaluationFailedEventDetails(
                    error=name.error_name, cause=_THRESHOLD_CAUSE
                )
            ),
        )
    )


def _patch_distributed_map_tolerated_failures() -> None:
    """moto ignores ``ToleratedFailureCount``/``ToleratedFailurePercentage``: a distributed map
    whose children all fail succeeds. AWS ("Tolerated failure threshold for Distributed Map
    state") fails the Map Run, and so the Map state, with ``States.ExceedToleratedFailureThreshold``
    (a Catch can match it) once failed + timed-out items exceed either threshold; with neither
    set, any failure does; ``ToleratedFailurePercentage: 100`` never fails. The results are
    written first; items not started stay PENDING, running children are stopped (ABORTED).
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.tolerated_failure import (
        ToleratedFailureCountDecl,
        ToleratedFailurePercentageDecl,
    )

    original = StateMap.from_state_props

    def from_state_props(self: Any, state_props: Any) -> None:
        original(self, state_props)
        self._dmap_count_set = state_props.get(ToleratedFailureCountDecl) is not None
        self._dmap_percentage_set = state_props.get(ToleratedFailurePercentageDecl) is not None

    StateMap.from_state_props = from_state_props  # type: ignore[method-assign]
    _enabled.add("distributed_map_tolerated_failures")


# -- tolerated_failure_percentage_integer ------------------------------------------------------


def _floats_for_percentages(value: Any) -> Any:
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "ToleratedFailurePercentage" and type(inner) is int:
                value[key] = float(inner)
            else:
                _floats_for_percentages(inner)
    elif isinstance(value, list):
        for inner in value:
            _floats_for_percentages(inner)
    return value


def _patch_tolerated_failure_percentage_integer() -> None:
    """moto's ASL grammar takes only a decimal ``ToleratedFailurePercentage`` (``100.0``) and
    rejects the definition with ``"ToleratedFailurePercentage": 100`` (ASLParserException), which
    AWS accepts ("Tolerated failure threshold for Distributed Map state": a number from 0 to 100).
    """
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    original = AmazonStateLanguageParser.parse

    def parse(definition: str) -> Any:
        if "ToleratedFailurePercentage" in definition:
            with contextlib.suppress(ValueError):  # not JSON: let moto report it
                definition = json.dumps(_floats_for_percentages(json.loads(definition)))
        return original(definition)

    AmazonStateLanguageParser.parse = staticmethod(parse)  # type: ignore[method-assign]


# -- jsonpath_parse_cache ---------------------------------------------------------------------


def _patch_jsonpath_parse_cache() -> None:
    """moto parses every JSONPath again at each use, and jsonpath_ng rebuilds its ply parser each
    time (~10 ms): an ItemSelector of 3 paths cost ~30 ms a child, 2,500 children over a minute.
    Parsed expressions are not mutated by ``find``/``update``, so they are cached by path."""
    import functools

    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    json_path.parse = functools.lru_cache(maxsize=4096)(json_path.parse)
    result_path.parse = functools.lru_cache(maxsize=4096)(result_path.parse)


# -- distributed_map_concurrency --------------------------------------------------------------


def _patch_distributed_map_concurrency() -> None:
    """MaxConcurrency 0 (unset) started one worker per item without bound; AWS runs at most
    10,000 children at once ("Using Map state in Distributed mode"). Each child now runs in its
    worker's thread (moto started a second thread per child to time the program out, which an
    ItemProcessor never needs), and a worker loops over its jobs instead of recursing per job.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        distributed_item_processor_worker as processor,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iterator import (
        distributed_iterator_worker as iterator,
    )

    processor.DistributedItemProcessorWorker._eval_pool = _eval_pool  # type: ignore[method-assign]
    iterator.DistributedIteratorWorker._eval_pool = _eval_pool  # type: ignore[method-assign]
    _enabled.add("distributed_map_concurrency")


PATCHES: dict[str, Callable[[], None]] = {
    "distributed_map_child_records": _patch_distributed_map_child_records,
    "distributed_map_child_context": _patch_distributed_map_child_context,
    "distributed_map_result_writer": _patch_distributed_map_result_writer,
    "distributed_map_tolerated_failures": _patch_distributed_map_tolerated_failures,
    "distributed_map_concurrency": _patch_distributed_map_concurrency,
    "tolerated_failure_percentage_integer": _patch_tolerated_failure_percentage_integer,
    "jsonpath_parse_cache": _patch_jsonpath_parse_cache,
}
