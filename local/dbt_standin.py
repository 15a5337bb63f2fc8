"""A fast stand-in for dbt in the local ECS task, for the tests whose subject is not dbt.

It is ``dbt_container/entrypoint.py`` itself (its settings, the exclusions it reads from
``DBT_EXCLUDE_SOURCES_URI``, the one-line summary on stdout, the artifacts and ``summary.json`` it
keeps in S3, its exit code and its stop on SIGTERM) with one part replaced: the dbt process. In its
place, each dbt command writes at once what dbt writes (``run_results.json`` with one successful
result per model of the project, ``manifest.json``, ``dbt.log``, in the ``--target-path`` and
``--log-path`` the entrypoint passes) and exits 0. No dbt import, no warehouse query: a run takes
well under a second instead of several.

Run as a script by the app's interpreter (``python local/dbt_standin.py``), which has boto3: the
local ECS runner does so when a run asks for it (``local/ecs_runner.py``, ``LOCAL_DBT=stand-in``).
The real dbt stays where dbt is the subject: the entrypoint's and the warehouse's tests, the dbt
failure scenarios, ``python -m local demo``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["main", "model_ids", "standin_artifacts"]

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "dbt_container" / "entrypoint.py"


def _option(argv: list[str], name: str) -> str | None:
    """The value after ``name`` in a dbt command line (``--target-path DIR``), or None."""
    return argv[argv.index(name) + 1] if name in argv[:-1] else None


def model_ids(project_dir: Path) -> list[str]:
    """``model.<project>.<name>`` of every model file of the dbt project, in name order."""
    text = (project_dir / "dbt_project.yml").read_text(encoding="utf-8")
    project = next(
        line.split(":", 1)[1].strip().strip("'\"") for line in text.splitlines() if line.startswith("name:")
    )
    return sorted(f"model.{project}.{path.stem}" for path in (project_dir / "models").rglob("*.sql"))


def standin_artifacts(argv: list[str]) -> dict[str, Any]:
    """What the stand-in writes for one dbt command line (``argv`` after ``dbt``): the artifacts' paths
    and contents, by file name. Every model succeeds."""
    project_dir = Path(_option(argv, "--project-dir") or ROOT / "dbt_container" / "project")
    results = [
        {"unique_id": node, "status": "success", "execution_time": 0.0, "message": "stand-in"}
        for node in model_ids(project_dir)
    ]
    return {
        "run_results.json": {"metadata": {"dbt_standin": True}, "args": argv, "results": results},
        "manifest.json": {"metadata": {"dbt_standin": True}, "nodes": {r["unique_id"]: {} for r in results}},
    }


def _write(argv: list[str]) -> int:
    target = Path(_option(argv, "--target-path") or "target")
    logs = Path(_option(argv, "--log-path") or target.parent / "logs")
    target.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    if argv and argv[0] == "deps":
        return 0
    for name, content in standin_artifacts(argv).items():
        (target / name).write_text(json.dumps(content), encoding="utf-8")
    (logs / "dbt.log").write_text(f"dbt stand-in: {' '.join(argv)}\n", encoding="utf-8")
    return 0


def _entrypoint() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dbt_entrypoint", ENTRYPOINT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    """Run the entrypoint with the stand-in in dbt's place; its exit code."""
    entrypoint = _entrypoint()

    class StandInProcess(entrypoint.DbtProcess):  # type: ignore[name-defined]
        """The entrypoint's dbt process, the command written by ``_write`` instead of run."""

        def run(self, argv: list[str], env: Mapping[str, str]) -> int:
            if self.stop_signal is not None:
                return 128 + int(self.stop_signal)
            entrypoint.log_event("dbt_started", args=" ".join(argv), standin=True)
            return _write(argv)

    entrypoint.DbtProcess = StandInProcess  # type: ignore[attr-defined]
    return int(entrypoint.main([]))


if __name__ == "__main__":
    sys.exit(main())
