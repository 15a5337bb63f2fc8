"""The layout rules of the house hold for every tracked module: small modules, no import cycle,
each tier imports only from the tiers below it, and inside the Lambda code each floor only from its
own floor and the floors below."""

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

# The floors of the Lambda code, bottom first: a module may import its own floor and the floors below,
# never one above. ``platform`` stands on nothing of ours; the composition root (``chalicelib.wiring``)
# builds every client; ``app`` (the Chalice entry points) only wires events to it.
FLOORS: list[set[str]] = [
    {"chalicelib.platform"},
    {"chalicelib.fivetran"},
    {"chalicelib.tokens"},
    {"chalicelib.webhook", "chalicelib.run", "chalicelib.safety_net", "chalicelib.notify"},
    {"chalicelib.wiring"},
    {"app"},
]


def floor_of(module: str) -> int | None:
    """The floor a dotted module name stands on (None: not Lambda code, or the package's own ``__init__``)."""
    for level, packages in enumerate(FLOORS):
        if any(module == package or module.startswith(f"{package}.") for package in packages):
            return level
    return None


def imported_names(module: str, path: Path) -> set[str]:
    """Every module ``module`` imports anywhere in its body (functions included), relative imports
    resolved to dotted names."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}".strip(".")
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return found


def upward_imports(found: dict[str, Path]) -> list[str]:
    wrong = []
    for name, path in found.items():
        level = floor_of(name)
        if level is None:
            continue
        for target in sorted(imported_names(name, path)):
            target_level = floor_of(target)
            if target_level is not None and target_level > level:
                wrong.append(f"{name} (floor {level}) imports {target} (floor {target_level})")
    return wrong


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


def test_every_module_of_the_lambda_code_stands_on_a_floor() -> None:
    lambda_code = [name for name in modules() if name == "app" or name.startswith("chalicelib.")]

    assert [name for name in lambda_code if floor_of(name) is None] == []


def test_no_module_of_the_lambda_code_imports_a_floor_above_its_own() -> None:
    assert upward_imports(modules()) == []


def test_the_lambda_code_never_imports_the_local_runtime() -> None:
    found = modules()
    wrong = [
        f"{name} imports {target}"
        for name, path in found.items()
        if name == "app" or name.startswith("chalicelib.")
        for target in sorted(imported_names(name, path))
        if target == "local" or target.startswith("local.")
    ]
    named = [
        f"{name} names {node.value!r}"
        for name, path in found.items()
        if name == "app" or name.startswith("chalicelib.")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("local.")
    ]

    assert wrong + named == []


def test_the_floor_check_catches_an_upward_import(tmp_path: Path) -> None:
    bad = tmp_path / "store.py"
    bad.write_text("from chalicelib.run.syncs import start_sync\nfrom . import identity\n", encoding="utf-8")

    assert upward_imports({"chalicelib.tokens.store": bad}) == [
        "chalicelib.tokens.store (floor 2) imports chalicelib.run.syncs (floor 3)",
        "chalicelib.tokens.store (floor 2) imports chalicelib.run.syncs.start_sync (floor 3)",
    ]
