"""A scenario's runs, played on one local runtime (one warehouse, token table and artifacts bucket).

A scenario with a ``runs`` list starts one execution per item: at its ``start_s`` (seconds from
the scenario's zero), or, without one, once the previous run has ended. Just before a run starts,
the simulator plays its ``connectors`` changes (``FivetranSimulator.play_run``). Runs started
together on one group share their syncs as on AWS: a trigger while a sync runs answers 409, and
that run waits for the running sync. A scenario without ``runs`` is one run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from local.runtime import LocalRuntime, RunResult
from local.scenario import RunSpec

__all__ = ["PlayedRun", "play_runs", "scenario_runs"]


@dataclass(frozen=True)
class PlayedRun:
    spec: RunSpec
    result: RunResult


def scenario_runs(runtime: LocalRuntime) -> tuple[RunSpec, ...]:
    """The scenario's ``runs``, or its one run (its own input and ``expect``)."""
    scenario = runtime.scenario
    return scenario.runs or (RunSpec(expect=scenario.expect),)


def play_runs(runtime: LocalRuntime, *, on_start: Any = None, on_tick: Any = None) -> list[PlayedRun]:
    """Start every run of the scenario at its time and wait for each to end.

    ``on_start(index, arn)`` is called as each run starts; ``on_tick(arn, described)`` while the
    runtime waits for one. Each run may take the scenario's ``settings.timeout_s`` from the moment
    the runtime begins to wait for it (``TimeoutError`` past that)."""
    assert runtime.simulator is not None
    specs = scenario_runs(runtime)
    started: list[tuple[str, float]] = []
    results: dict[int, RunResult] = {}
    for index, spec in enumerate(specs):
        if spec.start_s is None:
            if index > 0:
                results[index - 1] = runtime.finish(*started[index - 1], on_tick=on_tick)
        else:
            delay = spec.start_s - runtime.simulator.elapsed_s()
            if delay > 0:
                time.sleep(delay)
        runtime.simulator.play_run(spec.connectors)
        arn = runtime.start_execution(runtime.scenario.execution_input(spec))
        started.append((arn, time.monotonic()))
        if on_start is not None:
            on_start(index, arn)
    for index, (arn, at) in enumerate(started):
        if index not in results:
            results[index] = runtime.finish(arn, at, on_tick=on_tick)
    return [PlayedRun(spec, results[index]) for index, spec in enumerate(specs)]
