"""The layout rules of the house hold for every tracked module: small modules, no import cycle,
and each tier imports only from the tiers below it."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 400
# What each tier must never import: the Lambda code stands alone; the operator CLI reads what a
# deploy leaves through infra.outputs, never the deploy package itself.
FORBIDDEN = {
    "chalicelib": {"local", "ops", "benchmarks", "deploy", "scripts", "tests"},
    "app": {"local", "ops", "benchmarks", "deploy", "scripts", "tests"},
    "ops": {"deploy", "benchmarks", "tests"},
    "deploy": {"local", "ops", "benchmarks", "tests"},
}


def modules() -> dict[str, Path]:
    """Every tracked Python module outside tests/, by dotted name."""
    files = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    found = {}
    for name in files:
        if name.startswith("tests/") or not (ROOT / name).exists():
            continue
        dotted = name[: -len(".py")].replace("/", ".").removesuffix(".__init__")
        found[dotted] = ROOT / name
    return found


def imports_at_import_time(module: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``module`` imports while it is being imported (the module body, not
    functions; ``if TYPE_CHECKING:`` blocks left out)."""
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                break
            names: list[str] = []
            if isinstance(inner, ast.Import):
                names = [alias.name for alias in inner.names]
            elif isinstance(inner, ast.ImportFrom):
                base = inner.module or ""
                if inner.level:
                    parent = package.rsplit(".", inner.level - 1)[0] if inner.level > 1 else package
                    base = f"{parent}.{base}".strip(".")
                names = [f"{base}.{alias.name}" for alias in inner.names] + [base]
            for name in names:
                while name and name not in known:
                    name = name.rpartition(".")[0]
                if name and name != module:
                    found.add(name)
    return found


def test_no_product_or_tooling_module_is_over_the_line_limit() -> None:
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules().items()}

    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_no_two_modules_import_each_other_even_through_others() -> None:
    found = modules()
    graph = {name: imports_at_import_time(name, path, set(found)) for name, path in found.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(name: str, stack: list[str]) -> None:
        state[name] = 1
        for target in sorted(graph.get(name, ())):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target] if target in stack else [name, target])
            elif target not in state:
                visit(target, [*stack, target])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])

    assert cycles == []


def test_each_tier_imports_nothing_from_the_tiers_above_it() -> None:
    found = modules()
    wrong = []
    for name, path in found.items():
        banned = FORBIDDEN.get(name.split(".")[0], set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [node.module]
            wrong += [f"{name} imports {t}" for t in targets if t.split(".")[0] in banned]

    assert wrong == []
