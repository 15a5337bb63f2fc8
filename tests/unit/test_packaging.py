"""``pyproject.toml`` declares what the operator CLI needs at run time (``pip install .`` gives a working
``orchestrator``), pinned exactly as the requirements files pin it."""

from __future__ import annotations

import importlib.metadata as metadata
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9_.-]+", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match.group(0)).lower()


def _declared() -> dict[str, str]:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "dependencies"
    ]
    return {_name(d): d.split("==", 1)[1] for d in dependencies}


def _pinned() -> dict[str, str]:
    pins: dict[str, str] = {}
    for path in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / path).read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if "==" in line:
                pins[_name(line)] = line.split("==", 1)[1]
    return pins


def _with_their_dependencies(names: set[str]) -> set[str]:
    found, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        for requirement in metadata.requires(name) or []:
            if "extra ==" not in requirement:
                todo.append(_name(requirement))
    return found


def test_every_declared_dependency_is_pinned_as_the_requirements_files_pin_it() -> None:
    declared, pinned = _declared(), _pinned()

    assert {name: pinned.get(name) for name in declared} == declared


def test_every_distribution_the_cli_loads_is_declared_or_a_dependency_of_one() -> None:
    # The modules ``import ops.cli`` adds (not those the interpreter's site hooks loaded before it).
    script = (
        "import json, sys, importlib.metadata as m; before = set(sys.modules); import ops.cli; "
        "owners = m.packages_distributions(); "
        "print(json.dumps(sorted({d for mod in set(sys.modules) - before "
        "for d in owners.get(mod.split('.')[0], [])})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    ours = {"fivetran-orchestrator"}

    missing = (
        {_name(d) for d in json.loads(loaded.stdout)} - ours - _with_their_dependencies(set(_declared()))
    )

    assert missing == set()


def test_every_module_the_cli_loads_from_this_repository_is_in_a_package_the_build_includes() -> None:
    # ``pip install .`` ships only the packages ``[tool.setuptools.packages.find]`` includes: a module the
    # CLI imports from outside them is missing from the install (``chalicelib.safety_net`` once was).
    from setuptools import find_packages

    include = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "packages"
    ]["find"]["include"]
    shipped = set(find_packages(where=str(ROOT), include=include))
    script = (
        "import json, sys; from pathlib import Path; root = Path.cwd().resolve(); import ops.cli; "
        "print(json.dumps(sorted(m.__name__ if hasattr(m, '__path__') else m.__name__.rpartition('.')[0] "
        "for m in list(sys.modules.values()) if getattr(m, '__file__', None) "
        "and Path(m.__file__).resolve().is_relative_to(root) and 'site-packages' not in m.__file__)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    packages = {name for name in json.loads(loaded.stdout) if name}

    assert packages and packages - shipped == set()
