"""Helpers for the dbt container's tests: where things are, a clean environment for the entrypoint, running
it as a subprocess (under the dbt venv's interpreter, as the image runs it) and reading what it printed
and wrote, copying the dbt project, seeding DuckDB files with local/warehouse/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3

from local import warehouse
from local.dbt_env import dbt_task_env

REPO = Path(__file__).resolve().parents[2]
ENTRYPOINT = REPO / "dbt_container" / "entrypoint.py"
PROJECT = REPO / "dbt_container" / "project"
BUCKET = "dbt-artifacts"
ROWS = 20
SEED = 7
RUN_TIMEOUT_S = 120
FULL_BUILD_RUN_ID = "run-full-build"


@dataclass
class Run:
    """One finished entrypoint process: its exit code, output, summary and dbt's artifacts folder."""

    returncode: int
    stdout: str
    stderr: str
    target_path: Path

    @property
    def summary(self) -> dict[str, Any]:
        lines = self.stdout.strip().splitlines()
        assert lines, f"no summary on stdout; stderr ends with:\n{self.stderr[-3000:]}"
        return json.loads(lines[-1])

    def results(self, name: str = "run_results.json") -> list[dict[str, Any]]:
        return json.loads((self.target_path / name).read_text())["results"]

    def nodes(self) -> set[str]:
        """The unique ids of the nodes dbt ran."""
        return {result["unique_id"] for result in self.results()}

    def events(self, name: str) -> list[dict[str, Any]]:
        """The entrypoint's own JSON events of that name, from stderr."""
        marker = f'"event": "{name}"'
        return [
            json.loads(line) for line in self.stderr.splitlines() if line.startswith("{") and marker in line
        ]

    def explain(self) -> str:
        return f"exit {self.returncode}\nstdout:\n{self.stdout}\nstderr (end):\n{self.stderr[-4000:]}"


@dataclass
class FullBuild:
    """The whole project's build on the seeded file, and the objects it left in the bucket (read at once,
    so nothing that resets moto's state later in the session can hide them)."""

    run: Run
    db_path: Path
    objects: dict[str, bytes]


def dbt_python_path() -> Path:
    """The dbt venv's interpreter: DBT_PYTHON, else .venv-dbt/bin/python (which `make install` creates)."""
    return Path(os.environ.get("DBT_PYTHON") or REPO / ".venv-dbt" / "bin" / "python")


def base_env(**overrides: str) -> dict[str, str]:
    """A small, predictable environment for the entrypoint (``local/dbt_env.py``): nothing leaks in from
    the test runner's."""
    return dbt_task_env(**overrides)


def start_entrypoint(dbt_python: Path, env: Mapping[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(dbt_python), str(ENTRYPOINT)],
        env=dict(env),
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_entrypoint(dbt_python: Path, workdir: Path, **env: str) -> Run:
    """Run the entrypoint to its end with ``env`` on top of ``base_env``; dbt writes under ``workdir``."""
    target_path = workdir / "target"
    full_env = base_env(DBT_TARGET_PATH=str(target_path), DBT_LOG_PATH=str(workdir / "logs"), **env)
    proc = start_entrypoint(dbt_python, full_env)
    stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
    return Run(proc.returncode, stdout, stderr, target_path)


def copy_project(destination: Path) -> Path:
    """A copy of the dbt project that a test may change (add a broken or slow model)."""
    ignore = shutil.ignore_patterns("target", "logs", "dbt_packages")
    return Path(shutil.copytree(PROJECT, destination, ignore=ignore))


def seed_all(db_path: Path, *, rows: int = ROWS, synced_at: datetime | None = None) -> Path:
    """One sync of every demo connection into ``db_path``, as the Fivetran simulator lands them."""
    for service, schema in warehouse.DEMO_SCHEMAS.items():
        warehouse.write_sync(
            db_path, schema=schema, service=service, rows=rows, seed=SEED, synced_at=synced_at
        )
    return db_path


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
