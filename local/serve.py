"""``python -m local serve``: a ``LocalRuntime`` kept running for ``orchestrator --local``.

It starts moto, the Fivetran simulator (playing the scenario's connections), ``chalice local``
and the reconcile loop, writes the state file (``contracts.state_file``: endpoints and local-only
secrets) and waits until Ctrl-C or SIGTERM, then stops everything and removes the file. Each
run's files are copied to ``<runs dir>/<run>/`` (``local.run_folders``), which stays.
Executions started by the CLI run here: moto executes the state machine in this process and
invokes the real handlers in-process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from contracts.state_file import (
    LocalState,
    StateFileError,
    process_alive,
    read_state,
    remove_state,
    write_state,
)

if TYPE_CHECKING:
    from local.runtime import LocalRuntime

__all__ = ["DEFAULT_RUNS_DIR", "RUNS_DIR_ENV", "ServeError", "local_state", "runs_dir_path", "serve"]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RUNS_DIR = ".local-runs"
RUNS_DIR_ENV = "ORCHESTRATOR_LOCAL_RUNS_DIR"


class ServeError(Exception):
    """The runtime cannot start or stopped by itself; the message says why."""


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _check_free(path: Path) -> None:
    """Refuse to take over the state file of a runtime that is still running."""
    try:
        current = read_state(path, check_alive=False)
    except StateFileError:
        return
    if process_alive(current.pid):
        raise ServeError(
            f"a local runtime is already running (pid {current.pid}, state file {path}): "
            "stop it first, or pass another --state-file"
        )


def local_state(runtime: LocalRuntime, pid: int) -> LocalState:
    """The state file's content for a started ``LocalRuntime``."""
    from local.runtime import API_KEY, API_SECRET, REGION, WEBHOOK_SECRET

    assert runtime.stack and runtime.simulator and runtime.chalice
    return LocalState(
        aws_endpoint_url=runtime.aws_endpoint,
        region=REGION,
        state_machine_arn=runtime.stack.state_machine_arn,
        token_table=runtime.stack.table_name,
        fivetran_api_url=runtime.simulator.url,
        fivetran_api_key=API_KEY,
        fivetran_api_secret=API_SECRET,
        webhook_url=f"{runtime.chalice.url}/webhooks/fivetran",
        webhook_secret=WEBHOOK_SECRET,
        group_id=runtime.scenario.group_id,
        pid=pid,
        log_dir=str(runtime.workdir),
        runs_dir=str(runtime.runs_dir or ""),
    )


def runs_dir_path(explicit: Path | None, state_path: Path) -> Path:
    """``--runs-dir``, else ``$ORCHESTRATOR_LOCAL_RUNS_DIR``, else ``.local-runs`` beside the state file."""
    if explicit is not None:
        return explicit
    from_env = os.environ.get(RUNS_DIR_ENV)
    return Path(from_env) if from_env else state_path.parent / DEFAULT_RUNS_DIR


def serve(
    scenario_path: Path,
    state_path: Path,
    echo: Callable[[str], None],
    pid: int,
    runs_dir: Path | None = None,
) -> int:
    """Run until interrupted; returns the exit code (0 on Ctrl-C/SIGTERM, 1 if a part died).
    Each run's files are kept in ``runs_dir`` (``runs_dir_path``), which outlives the runtime."""
    _check_free(state_path)
    from local.runtime import LocalRuntime
    from local.scenario import load_scenario

    scenario = load_scenario(scenario_path)
    # moto invokes the Lambda handlers in this process by importing `app`: the repo root must be importable.
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    echo(f"starting the local runtime (scenario {scenario.name}, {len(scenario.connectors)} connections) …")
    runtime = LocalRuntime(scenario, runs_dir=runs_dir_path(runs_dir, state_path).resolve())
    try:
        _start(runtime)
        try:
            state = local_state(runtime, pid)
            write_state(state_path, state)
            _banner(state, state_path, echo)
            return _wait(runtime, echo)
        finally:
            remove_state(state_path, pid)
            runtime.close()
    except KeyboardInterrupt:
        return 0
    finally:
        echo("stopped")


def _start(runtime: LocalRuntime) -> None:
    """Start every part; a part that cannot start (no dbt interpreter, a port) is a ServeError."""
    try:
        runtime.__enter__()
    except (OSError, RuntimeError, TimeoutError) as exc:
        raise ServeError(f"the local runtime did not start: {exc}") from exc


def _banner(state: LocalState, state_path: Path, echo: Callable[[str], None]) -> None:
    echo(f"AWS (moto)      {state.aws_endpoint_url}  state machine {state.state_machine_arn.split(':')[-1]}")
    echo(f"Fivetran (sim)  {state.fivetran_api_url}  group {state.group_id}")
    echo(f"webhook         POST {state.webhook_url}  (secret {state.webhook_secret})")
    echo(f"state file      {state_path}")
    if state.runs_dir:
        echo(f"run files       {state.runs_dir}/<run>/  (outcomes, dbt artifacts, logs; kept after Ctrl-C)")
    echo(f"try:            orchestrator start-run --local --group {state.group_id} --wait")
    echo("Ctrl-C stops everything.")


def _wait(runtime: LocalRuntime, echo: Callable[[str], None]) -> int:
    """Sleep until interrupted (KeyboardInterrupt) or until chalice local dies (exit code 1); every
    second, copy the runs' files to their folders (a failed copy is tried again the next second)."""
    while True:
        process = runtime.chalice.process if runtime.chalice is not None else None
        if process is not None and process.poll() is not None:
            echo(f"chalice local exited with code {process.returncode}; stopping")
            return 1
        if runtime.run_folders is not None:
            with contextlib.suppress(Exception):  # best effort: the runtime goes on without it
                runtime.run_folders.refresh()
        time.sleep(1.0)
