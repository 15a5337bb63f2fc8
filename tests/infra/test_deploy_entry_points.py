"""The documented command ``python -m deploy`` (what ``make deploy`` runs), and nothing in ``ops/`` imports
the deploy package (it reads ``infra.outputs`` instead)."""

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


def test_python_m_deploy_renders_the_template_with_the_definition() -> None:
    rendered = run("-m", "deploy", "render")

    assert rendered.returncode == 0, rendered.stderr
    assert '"StateMachine"' in rendered.stdout


def test_an_unknown_stage_is_refused_with_a_usage_error() -> None:
    refused = run("-m", "deploy", "deploy", "--stage", "nowhere")

    assert refused.returncode == 2
    assert "invalid choice: 'nowhere'" in refused.stderr


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
