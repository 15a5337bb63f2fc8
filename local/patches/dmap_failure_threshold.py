"""Patches ``distributed_map_tolerated_failures`` and ``tolerated_failure_percentage_integer``.

AWS ("Tolerated failure threshold for Distributed Map state", AWS Step Functions Developer Guide):
the Map Run fails with ``States.ExceedToleratedFailureThreshold`` when failed or timed-out items
exceed ``ToleratedFailureCount`` or ``ToleratedFailurePercentage`` (failed+timed out / total
items); either threshold when both are set; the default 0 fails on any failed child; 100 never
fails. The percentage is a number from 0 to 100.

- ``distributed_map_tolerated_failures``: moto ignores both thresholds: a distributed map whose
  children all fail succeeds. Now the Map Run, and so the Map state, fails with that error (a
  Catch can match it) once the threshold is exceeded. The results are written first (AWS writes
  them for a failed map run too); items not started stay PENDING, running children are stopped
  (ABORTED).
- ``tolerated_failure_percentage_integer``: moto's ASL grammar takes only a decimal
  ``ToleratedFailurePercentage`` (``100.0``) and rejected a definition with
  ``"ToleratedFailurePercentage": 100`` (ASLParserException), which AWS accepts.

Not verified against AWS (no account used): the threshold error's ``Cause`` text.
"""

from __future__ import annotations

import contextlib
import datetime
import json
from typing import Any

from local.patches.dmap_runs import ENABLED, Run

__all__ = [
    "check_threshold",
    "fail_map_run",
    "patch_distributed_map_tolerated_failures",
    "patch_tolerated_failure_percentage_integer",
]

_THRESHOLD_ERROR = "States.ExceedToleratedFailureThreshold"
_THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"


def _threshold_exceeded(run: Run) -> bool:
    """AWS: failed + timed-out items over ToleratedFailureCount or ToleratedFailurePercentage."""
    count = run.record.tolerated_failure_count
    percentage = run.record.tolerated_failure_percentage
    if not (run.count_set or run.percentage_set or count or percentage):
        return run.failed > 0  # both default to 0: any failed child fails the map run
    by_count = (run.count_set or bool(count)) and run.failed > int(count or 0)
    by_percentage = (run.percentage_set or bool(percentage)) and run.total > 0
    by_percentage = by_percentage and run.failed * 100.0 / run.total > float(percentage or 0)
    return bool(by_count or by_percentage)


def check_threshold(run: Run, env: Any) -> None:
    """Once exceeded: no new child starts (its item stays PENDING), running children are stopped."""
    with run.lock:
        if run.exceeded or not _threshold_exceeded(run):
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


def fail_map_run(env: Any, state: Any, outputs: list[Any]) -> None:
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


def patch_distributed_map_tolerated_failures() -> None:
    """A Map state remembers which thresholds its definition sets (either may be set to 0)."""
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
    ENABLED.add("distributed_map_tolerated_failures")


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


def patch_tolerated_failure_percentage_integer() -> None:
    """A definition's integer percentages are parsed as the decimals moto's grammar takes."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    original = AmazonStateLanguageParser.parse

    def parse(definition: str) -> Any:
        if "ToleratedFailurePercentage" in definition:
            with contextlib.suppress(ValueError):  # not JSON: let moto report it
                definition = json.dumps(_floats_for_percentages(json.loads(definition)))
        return original(definition)

    AmazonStateLanguageParser.parse = staticmethod(parse)  # type: ignore[method-assign]
