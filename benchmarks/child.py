"""Benchmark runs in child processes: ``python -m benchmarks.<module> ...`` from the repository root,
so that moto starts empty and the peak RSS is the run's own, with the dbt interpreter the local
runtime is given (``dbt_python``). ``scale`` and ``sidebyside`` start their runs through ``run_child``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks import ROOT

__all__ = ["dbt_python", "run_child"]


def dbt_python() -> Path:
    """The interpreter the local runtime runs dbt with: ``$DBT_PYTHON``, else ``.venv-dbt``'s."""
    return Path(os.environ.get("DBT_PYTHON") or ROOT / ".venv-dbt" / "bin" / "python")


def run_child(module: str, args: list[str], *, log: Path, timeout_s: float) -> int:
    """Run ``python -m benchmarks.<module> *args``, its output appended to ``log``; its exit code.

    Raises ``subprocess.TimeoutExpired`` past ``timeout_s``."""
    env = dict(os.environ)
    if not dbt_python().exists():
        env["DBT_PYTHON"] = sys.executable  # dbt never runs in these runs; the runtime only checks it exists
    with log.open("a", encoding="utf-8") as out:
        done = subprocess.run(
            [sys.executable, "-m", f"benchmarks.{module}", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=timeout_s,
            check=False,
        )
    return done.returncode
