"""Runs the dbt ECS task as a local process: ``dbt_container/entrypoint.py`` in ``.venv-dbt``
against the local DuckDB file, with the task's environment overrides as its environment.

Which dbt runs is the runner's ``dbt`` (``real`` or ``stand-in``), by default ``$LOCAL_DBT``, else
``real``: ``python -m local demo`` runs the real dbt; tests whose subject is not dbt choose the
stand-in (``local/dbt_standin.py``: the same entrypoint, exit code, ``run_results.json``, summary line
and artifacts in S3, in well under a second). Each run gets its own folder in the log directory
(``dbt-N/target``, ``dbt-N/logs``), so runs side by side never share dbt's artifacts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["DBT_CHOICES", "DBT_ENV", "DbtProcessRunner", "dbt_choice", "default_dbt_python"]

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "dbt_container" / "entrypoint.py"
STANDIN = Path(__file__).resolve().with_name("dbt_standin.py")
DBT_ENV = "LOCAL_DBT"
DBT_CHOICES = ("real", "stand-in")


def dbt_choice(explicit: str | None = None) -> str:
    """``explicit``, else ``$LOCAL_DBT``, else ``real``; a ValueError names anything else."""
    chosen = explicit or os.environ.get(DBT_ENV) or "real"
    if chosen not in DBT_CHOICES:
        raise ValueError(f"{DBT_ENV}={chosen!r}: expected one of {', '.join(DBT_CHOICES)}")
    return chosen


def default_dbt_python() -> Path:
    """``$DBT_PYTHON``, else ``.venv-dbt/bin/python`` (what ``make install`` creates)."""
    return Path(os.environ.get("DBT_PYTHON") or ROOT / ".venv-dbt" / "bin" / "python")


@dataclass
class DbtRun:
    environment: dict[str, str]
    process: subprocess.Popen
    log_path: Path
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))  # the process started
    ended_at: datetime | None = None  # the process exited (None while it runs)

    def watch(self) -> None:
        """Note when the process exits (a daemon thread waits for it)."""

        def wait() -> None:
            self.process.wait()
            self.ended_at = datetime.now(UTC)

        threading.Thread(target=wait, name="dbt-run-watch", daemon=True).start()

    def poll(self) -> int | None:
        return self.process.poll()

    def stop(self) -> None:
        """``ecs:StopTask``: SIGTERM to the process, as ECS sends the container (the entrypoint stops dbt)."""
        if self.process.poll() is None:
            self.process.terminate()

    @property
    def summary(self) -> dict[str, Any] | None:
        import json

        try:
            lines = self.log_path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return None
        for line in reversed(lines):
            if line.startswith('{"event": "dbt_summary"'):
                return json.loads(line)
        return None


@dataclass
class DbtProcessRunner:
    duckdb_path: Path
    log_dir: Path
    python: Path = field(default_factory=default_dbt_python)
    aws_env: dict[str, str] = field(default_factory=dict)  # the local AWS endpoint and its credentials
    project_env: dict[str, str] = field(default_factory=dict)  # --dbt-project: its folder and profile
    dbt: str = field(default_factory=dbt_choice)  # real | stand-in
    runs: list[DbtRun] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.dbt = dbt_choice(self.dbt)
        if self.dbt == "real" and not Path(self.python).exists():
            raise FileNotFoundError(
                f"no dbt interpreter at {self.python}: run `make install` (or set DBT_PYTHON)"
            )

    def command(self) -> list[str]:
        """The task's process: the entrypoint in the dbt interpreter, or the stand-in in this one."""
        if self.dbt == "stand-in":
            return [sys.executable, str(STANDIN)]
        return [str(self.python), str(ENTRYPOINT)]

    def __call__(self, task: Any, environment: dict[str, str]) -> DbtRun:
        with self._lock:
            number = len(self.runs) + 1
            folder = self.log_dir / f"dbt-{number}"
            env = {
                "PATH": os.environ.get("PATH", ""),
                "HOME": os.environ.get("HOME", str(self.log_dir)),
                # This run's own artifacts and dbt.log, never the project's target/ or logs/.
                "DBT_TARGET_PATH": str(folder / "target"),
                "DBT_LOG_PATH": str(folder / "logs"),
                **self.aws_env,
                **environment,
                **self.project_env,
                "DBT_TARGET": "duckdb",
                "DUCKDB_PATH": str(self.duckdb_path),
            }
            log_path = self.log_dir / f"dbt-{number}.log"
            handle = log_path.open("w", encoding="utf-8")
            process = subprocess.Popen(  # noqa: S603 - our own entrypoint, no shell
                self.command(),
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
                cwd=str(self.log_dir),
            )
            run = DbtRun(environment=environment, process=process, log_path=log_path)
            run.watch()
            self.runs.append(run)
        return run

    def stop(self) -> None:
        for run in self.runs:
            if run.process.poll() is None:
                run.process.terminate()
                try:
                    run.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    run.process.kill()
