"""Runs the dbt ECS task as a local process: ``dbt_container/entrypoint.py`` in ``.venv-dbt``
against the local DuckDB file, with the task's environment overrides as its environment."""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["DbtProcessRunner", "default_dbt_python"]

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "dbt_container" / "entrypoint.py"


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
    runs: list[DbtRun] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not Path(self.python).exists():
            raise FileNotFoundError(
                f"no dbt interpreter at {self.python}: run `make install` (or set DBT_PYTHON)"
            )

    def __call__(self, task: Any, environment: dict[str, str]) -> DbtRun:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(self.log_dir)),
            **self.aws_env,
            **environment,
            **self.project_env,
            "DBT_TARGET": "duckdb",
            "DUCKDB_PATH": str(self.duckdb_path),
        }
        with self._lock:
            log_path = self.log_dir / f"dbt-{len(self.runs) + 1}.log"
            handle = log_path.open("w", encoding="utf-8")
            process = subprocess.Popen(  # noqa: S603 - our own entrypoint, no shell
                [str(self.python), str(ENTRYPOINT)],
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
