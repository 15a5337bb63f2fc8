"""The polling peer's own virtualenv (``.venv-bench``, git-ignored), created on first use.

``dagster-fivetran`` and its dependencies (``requirements-peer.txt``) are installed there with pip
from PyPI, never into the app's ``.venv``. A stamp file records the requirements it was built from,
so an unchanged venv is reused and a changed requirements file rebuilds it. Every step is bounded
in time; when one fails the caller gets the reason and measures the labelled re-implementation.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks import ROOT

__all__ = ["PEER_REQUIREMENTS", "PEER_VENV", "PeerEnv", "ensure_peer_env"]

PEER_VENV = ROOT / ".venv-bench"
PEER_REQUIREMENTS = Path(__file__).resolve().with_name("requirements-peer.txt")
STAMP = ".installed"


@dataclass(frozen=True)
class PeerEnv:
    python: Path | None
    note: str  # how the environment was obtained, or why it could not be


def _digest() -> str:
    return hashlib.sha256(PEER_REQUIREMENTS.read_bytes()).hexdigest()


def _imports(python: Path) -> bool:
    probe = subprocess.run(
        [str(python), "-c", "import dagster_fivetran"], capture_output=True, timeout=120, check=False
    )
    return probe.returncode == 0


def _tail(log: Path) -> str:
    try:
        return log.read_text(encoding="utf-8", errors="replace").strip()[-400:]
    except OSError:
        return ""


def ensure_peer_env(
    *, log: Path, venv: Path = PEER_VENV, install: bool = True, timeout_s: float = 600
) -> PeerEnv:
    """A Python with ``dagster_fivetran`` importable, creating ``venv`` when needed."""
    python = venv / "bin" / "python"
    stamp = venv / STAMP
    if python.exists() and stamp.exists() and stamp.read_text().strip() == _digest() and _imports(python):
        return PeerEnv(python, f"reused {venv.name}")
    if not install:
        return PeerEnv(None, f"{venv.name} is missing or stale and --no-peer-install was given")
    if venv.exists():
        shutil.rmtree(venv)
    out = log.open("w", encoding="utf-8")
    try:
        steps = [
            [sys.executable, "-m", "venv", str(venv)],
            [str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip<26.3"],
            [str(python), "-m", "pip", "install", "--quiet", "-r", str(PEER_REQUIREMENTS)],
        ]
        for step in steps:
            done = subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, timeout=timeout_s, check=False)
            if done.returncode != 0:
                out.flush()
                return PeerEnv(None, f"`{' '.join(step[-3:])}` failed (exit {done.returncode}): {_tail(log)}")
    except subprocess.TimeoutExpired as exc:
        return PeerEnv(None, f"installing the peer took longer than {timeout_s:.0f} s ({exc.cmd[-1]})")
    except OSError as exc:
        return PeerEnv(None, f"could not create {venv.name}: {exc}")
    finally:
        out.close()
    if not _imports(python):
        return PeerEnv(None, f"dagster_fivetran does not import in {venv.name}")
    stamp.write_text(_digest() + "\n")
    return PeerEnv(python, f"created {venv.name} from {PEER_REQUIREMENTS.name}")
