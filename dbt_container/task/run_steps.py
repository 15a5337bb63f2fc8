"""The run's dbt commands, in order: the one command of ``DBT_COMMAND``, or each step of ``DBT_STEPS``
(``task/options.py``), a failing step stopping the rest.

Each step runs as a one-command run would: with its own ``select`` and ``exclude`` (plus ``DBT_EXCLUDE``
and the failed connections' sources), ``DBT_VARS`` and, where the command takes it, ``--full-refresh``;
a ``build`` or ``run`` step without a ``select`` of its own selects by new data when ``DBT_MODE=new_data``
(``task/new_data_run.py``). The run's counts, failed nodes and models built add up every step's; each
step's command, selection, exit code (``None``: not run, an earlier step failed) and counts are listed
for the summary's ``steps``. dbt writes ``run_results.json`` again at each command: each step's is kept
as ``run_results.step-<n>.json`` (n from 1) beside the artifacts, and ``run_results.json`` is the last's.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from task.artifacts import ARTIFACT_FILES, STEP_RESULTS, models_built, read_results
from task.command_line import dbt_args
from task.events import log_event
from task.new_data_run import build_new_data
from task.process import DbtProcess
from task.retry_state import retry_state
from task.settings import ConfigError, Settings

__all__ = ["CommandsResult", "run_commands", "step_settings"]


@dataclass
class CommandsResult:
    """What the run's commands did, summed over its steps."""

    exit_code: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    failed_nodes: list[str] = field(default_factory=list)
    models_built: list[str] = field(default_factory=list)
    selection: dict[str, Any] | None = None  # the last selection by new data, if any step made one
    steps: list[dict[str, Any]] = field(default_factory=list)


def step_settings(settings: Settings) -> list[Settings]:
    """One ``Settings`` per dbt command of the run: ``settings`` itself without steps."""
    if not settings.steps:
        return [settings]
    return [
        replace(
            settings,
            command=step.command,
            select=step.select,
            exclude=" ".join(dict.fromkeys(f"{step.exclude} {settings.exclude}".split())),
            steps=(),
        )
        for step in settings.steps
    ]


def run_commands(settings: Settings, dbt_env: Mapping[str, str], runner: DbtProcess) -> CommandsResult:
    """Run the run's commands in order until one fails; what they did."""
    result = CommandsResult()
    for index, step in enumerate(step_settings(settings)):
        entry: dict[str, Any] = {"command": step.command, "select": step.select, "exclude": step.exclude}
        result.steps.append(entry)
        if result.exit_code != 0:
            entry["exit_code"] = None  # not run: an earlier step failed
            continue
        if index:  # the results read next must be this step's, not an earlier one's
            for name in ARTIFACT_FILES:
                (step.target_path / name).unlink(missing_ok=True)
        selection = None
        if step.selects_new_data:
            code, selection = build_new_data(step, dbt_env, runner)
            result.selection = selection
        else:
            try:
                state = retry_state(step)  # a retry's result:/state: selectors compare with its run
            except ConfigError as exc:
                log_event("retry_state_unreadable", level="error", error=str(exc))
                code = exc.exit_code
            else:
                code = runner.run(dbt_args(step, state), dbt_env)
        skipped = bool(selection and selection.get("skipped"))
        counts, failed = read_results(step.target_path, "build" if skipped else step.command)
        entry.update(exit_code=code, counts=counts)
        result.exit_code = code
        for status, count in counts.items():
            result.counts[status] = result.counts.get(status, 0) + count
        result.failed_nodes += failed
        if not skipped:
            result.models_built = sorted(set(result.models_built) | set(models_built(step.target_path)))
        results = step.target_path / "run_results.json"
        if settings.steps and results.is_file():
            shutil.copyfile(results, step.target_path / STEP_RESULTS.format(n=index + 1))
    return result
