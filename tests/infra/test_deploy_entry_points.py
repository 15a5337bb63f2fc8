"""The documented commands: ``python -m deploy`` and the older ``python -m scripts.deploy`` (a shim) are one
command, and nothing in ``ops/`` imports the deploy package (it reads ``infra.outputs`` instead)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_python_m_scripts_deploy_forwards_to_python_m_deploy() -> None:
    new = run("-m", "deploy", "render")
    old = run("-m", "scripts.deploy", "render")

    assert new.returncode == 0, new.stderr
    assert old.returncode == 0, old.stderr
    assert old.stdout == new.stdout
    assert '"StateMachine"' in new.stdout


def test_a_bad_command_fails_the_same_way_under_both_names() -> None:
    new = run("-m", "deploy", "deploy", "--stage", "nowhere")
    old = run("-m", "scripts.deploy", "deploy", "--stage", "nowhere")

    assert new.returncode == old.returncode == 2
    assert "invalid choice: 'nowhere'" in old.stderr


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_operator_cli_and_the_local_runtime_keep_to_their_own_side() -> None:
    """ops/ never imports deploy internals or scripts; local/ never imports ops/."""
    for path in sorted((ROOT / "ops").glob("*.py")):
        leaks = {m for m in _imports(path) if m.split(".")[0] in {"deploy", "scripts"}}
        assert not leaks, f"{path.name} imports {sorted(leaks)}"
    for path in sorted((ROOT / "local").glob("*.py")):
        leaks = {m for m in _imports(path) if m.split(".")[0] == "ops"}
        assert not leaks, f"{path.name} imports {sorted(leaks)}"
