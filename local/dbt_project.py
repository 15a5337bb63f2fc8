"""``python -m local demo --dbt-project PATH``: a dbt project from outside the repository, on DuckDB.

``prepare`` builds the task's project folder from PATH exactly as the image build does
(``dbt_container/stage_project.py``: copied, given the managed profile when it brings none, packages
installed), and writes a second, managed profile for the local run (the project's profile name, target
``duckdb``), so a project whose own profiles.yml knows only its warehouse still runs here. ``parse`` runs
``dbt parse`` on DuckDB first: a project that does not parse stops the demo with dbt's message; one that
parses but whose SQL is its warehouse's dialect runs, and the demo then says DuckDB could not run it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
STAGE_SCRIPT = ROOT / "dbt_container" / "stage_project.py"
PROFILE_TEMPLATE = ROOT / "dbt_container" / "project" / "profiles.yml"
TIMEOUT_S = 300


class ProjectError(Exception):
    """The project cannot be staged or does not parse; the message says which and dbt's last words."""


@dataclass(frozen=True)
class LocalProject:
    source: Path
    project_dir: Path  # the staged project: what the image's /app/project would hold
    profiles_dir: Path  # the managed profile, target duckdb

    def env(self) -> dict[str, str]:
        """What the dbt task's environment gets on top of the run's overrides."""
        return {"DBT_PROJECT_DIR": str(self.project_dir), "DBT_PROFILES_DIR": str(self.profiles_dir)}


def prepare(source: Path, workdir: Path, python: Path) -> LocalProject:
    project_dir = workdir / "dbt-project"
    shutil.rmtree(project_dir, ignore_errors=True)
    staged = _run([str(python), str(STAGE_SCRIPT), str(source), str(project_dir)], {})
    if staged.returncode != 0:
        raise ProjectError(f"{source} could not be staged as the image stages it: {_tail(staged)}")
    project = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8")) or {}
    profile = str(project.get("profile") or "default")
    profiles_dir = workdir / "dbt-profiles"
    profiles_dir.mkdir(parents=True, exist_ok=True)
    lines = PROFILE_TEMPLATE.read_text(encoding="utf-8").splitlines()
    text = "\n".join(f"{profile}:" if line.rstrip() == "orchestrator:" else line for line in lines)
    (profiles_dir / "profiles.yml").write_text(text + "\n", encoding="utf-8")
    return LocalProject(source, project_dir, profiles_dir)


def parse(project: LocalProject, python: Path, duckdb_path: Path, workdir: Path) -> None:
    """``dbt parse`` on the duckdb target; raises ProjectError with dbt's message when it fails."""
    command = [str(python), "-c", "from dbt.cli.main import cli; cli(prog_name='dbt')", "parse"]
    command += ["--project-dir", str(project.project_dir), "--profiles-dir", str(project.profiles_dir)]
    command += ["--target", "duckdb", "--target-path", str(workdir / "dbt-parse")]
    command += ["--log-path", str(workdir / "dbt-parse")]
    parsed = _run(command, {"DBT_TARGET": "duckdb", "DUCKDB_PATH": str(duckdb_path)})
    if parsed.returncode != 0:
        raise ProjectError(
            f"dbt parse failed for {project.source}, so the demo cannot run it: {_tail(parsed)}"
        )


def _run(command: list[str], extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME") or tempfile.gettempdir(),  # dbt's home when none is set
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DO_NOT_TRACK": "1",
        **extra,
    }
    return subprocess.run(  # noqa: S603 - our own script and dbt, no shell
        command, env=env, capture_output=True, text=True, check=False, timeout=TIMEOUT_S
    )


def _tail(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in (done.stdout + "\n" + done.stderr).splitlines() if line.strip()]
    return " / ".join(lines[-5:]) or f"exit {done.returncode}"
