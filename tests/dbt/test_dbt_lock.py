"""The dbt locks: dbt_container/requirements.lock (.venv-dbt: Snowflake and DuckDB) and one
requirements-<adapter>.lock per warehouse adapter (what the image installs, `make image DBT_ADAPTER=...`).

Each must hold every package it installs (its requirements file's pins and everything they pull in), each
pinned to one version with sha256 hashes, and nothing may install outside it (pip's --require-hashes and
--no-deps in the Dockerfile and the Makefile). `make lock` regenerates them all with uv (universal
resolution: the same lock serves x86_64 and aarch64 images). A lock is checked closed against the venv
installed from it (.venv-dbt, .venv-dbt-postgres: every declared dependency locked); every lock is checked
closed against its own record of why each package is there (uv's ``# via`` lines).
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.dbt.support import REPO
from tests.dbt.test_dbt_dockerfile import stages

DBT_DIR = REPO / "dbt_container"
LOCK = DBT_DIR / "requirements.lock"
INPUT = DBT_DIR / "requirements.txt"
ADAPTERS = ("snowflake", "bigquery", "redshift", "databricks", "postgres", "duckdb")
# (input, lock) of every lock `make lock` makes.
LOCKS = [(INPUT, LOCK)] + [
    (DBT_DIR / f"requirements-{name}.txt", DBT_DIR / f"requirements-{name}.lock") for name in ADAPTERS
]
LOCK_IDS = [lock.name for _, lock in LOCKS]
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")
# The image's platform, for the lock's environment markers (both architectures evaluate alike).
IMAGE_ENVIRONMENTS = [
    {
        "sys_platform": "linux",
        "platform_machine": machine,
        "python_version": "3.11",
        "python_full_version": "3.11.14",
    }
    for machine in ("x86_64", "aarch64")
]


def lock_entries(lock: Path = LOCK) -> list[tuple[Requirement, list[str]]]:
    """(requirement, hashes) per entry; comments dropped and continuation lines joined."""
    text = re.sub(r"\\\n", " ", lock.read_text(encoding="utf-8"))
    entries = []
    for line in text.splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        hashes = HASH.findall(line)
        spec = HASH.sub("", line).strip()
        entries.append((Requirement(spec), hashes))
    return entries


def pins(entries: list[tuple[Requirement, list[str]]], environment: dict[str, str]) -> dict[str, str]:
    """name -> the exact version the lock installs in ``environment``."""
    found = {}
    for requirement, _ in entries:
        if requirement.marker is None or requirement.marker.evaluate(environment):
            (specifier,) = requirement.specifier
            found[canonicalize_name(requirement.name)] = specifier.version
    return found


@pytest.mark.parametrize("lock", [lock for _, lock in LOCKS], ids=LOCK_IDS)
def test_every_entry_is_one_exact_version_with_sha256_hashes(lock: Path) -> None:
    entries = lock_entries(lock)

    assert len(entries) > 50  # every transitive package, not only the five direct ones
    for requirement, hashes in entries:
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", requirement
        assert hashes, f"{requirement} has no hash"


@pytest.mark.parametrize("environment", IMAGE_ENVIRONMENTS, ids=lambda e: e["platform_machine"])
@pytest.mark.parametrize(("source", "lock"), LOCKS, ids=LOCK_IDS)
def test_the_lock_pins_every_input_requirement_at_its_version(
    source: Path, lock: Path, environment: dict[str, str]
) -> None:
    locked = pins(lock_entries(lock), environment)
    lines = source.read_text(encoding="utf-8").splitlines()
    inputs = [Requirement(line) for line in lines if line and line[0] != "#"]

    assert inputs
    for requirement in inputs:
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in the lock"
        assert requirement.specifier.contains(locked[name]), (name, locked[name])
    assert Version(locked["dbt-core"]) < Version("1.12")


@pytest.mark.parametrize(("source", "lock"), LOCKS, ids=LOCK_IDS)
def test_every_package_the_lock_says_pulls_another_in_is_itself_locked(source: Path, lock: Path) -> None:
    # uv writes, under each entry, the packages (or the input file) that need it: each must be locked too.
    locked = {canonicalize_name(requirement.name) for requirement, _ in lock_entries(lock)}
    text = lock.read_text(encoding="utf-8")
    parents = set(re.findall(r"^    #   ([A-Za-z0-9_.\-]+)$", text, flags=re.MULTILINE))
    parents |= set(re.findall(r"^    # via ([A-Za-z0-9_.\-]+)$", text, flags=re.MULTILINE))

    assert parents, "the lock records no reasons: regenerate it with make lock"
    assert {canonicalize_name(p) for p in parents if p != "-r"} <= locked | {canonicalize_name(source.name)}
    assert f"-r {source.name}" in text


@pytest.mark.parametrize(
    ("lock_name", "venv"),
    [("requirements.lock", ".venv-dbt"), ("requirements-postgres.lock", ".venv-dbt-postgres")],
)
def test_the_lock_is_closed_every_dependency_of_every_locked_package_is_locked(
    lock_name: str, venv: str
) -> None:
    dbt_python = REPO / venv / "bin" / "python"
    if not dbt_python.exists():
        pytest.fail(f"{dbt_python} does not exist: run make install")
    # .venv-dbt is installed from the lock (--require-hashes --no-deps): read each package's declared
    # dependencies there and check that the lock holds each one that applies on the image's platform.
    script = (
        "import json, importlib.metadata as m\n"
        "print(json.dumps({d.metadata['Name']: [d.version, d.requires or []] for d in m.distributions()}))"
    )
    # -I: isolated, so the checkout (with the app's own egg-info) is not on the path.
    listed = subprocess.run([str(dbt_python), "-I", "-c", script], capture_output=True, check=True)
    installed = json.loads(listed.stdout)
    environment = {**IMAGE_ENVIRONMENTS[0], "python_version": "3.11"}
    locked = pins(lock_entries(DBT_DIR / lock_name), environment)

    tools = {"pip", "setuptools", "wheel"}
    names = {canonicalize_name(n): v for n, (v, _) in installed.items()}
    packages = {n: v for n, v in names.items() if n not in tools}
    assert packages == {name: locked[name] for name in packages}, "the dbt venv differs from the lock"
    assert set(locked) == set(packages), "the lock names packages the dbt venv lacks"
    for name, (_, requires) in installed.items():
        for raw in requires:
            requirement = Requirement(raw)
            marker = requirement.marker
            if marker is not None and not Marker(str(marker)).evaluate({**environment, "extra": ""}):
                continue
            assert canonicalize_name(requirement.name) in locked, f"{name} needs {raw}, not in the lock"


def test_the_image_installs_only_from_the_lock_with_hashes() -> None:
    build = [(k, r) for stage in stages() for k, r in stage]
    assert any(k == "COPY" and r.startswith("requirements-${DBT_ADAPTER}.lock ") for k, r in build)
    (words,) = [shlex.split(r) for k, r in build if k == "RUN" and "pip install" in r]

    assert {"--require-hashes", "--no-deps", "--only-binary=:all:"} <= set(words)
    assert words[words.index("-r") + 1].endswith("requirements.lock")


def test_make_installs_the_dbt_venv_from_the_lock_with_hashes() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    lines = makefile.splitlines()
    (install,) = [line for line in lines if "$(DBT_VENV)/bin/pip install" in line and " -r " in line]

    assert "--require-hashes" in install and "--no-deps" in install
    assert install.rstrip().endswith("-r dbt_container/requirements.lock")
    assert "$(DBT_VENV)/.installed: dbt_container/requirements.lock" in makefile


@pytest.mark.parametrize("lock", [lock for _, lock in LOCKS], ids=LOCK_IDS)
def test_the_lock_says_how_it_was_made_and_the_tool_is_pinned(lock: Path) -> None:
    header = lock.read_text(encoding="utf-8").splitlines()[:2]
    tools = (REPO / "requirements-tools.txt").read_text(encoding="utf-8")

    assert header == ["# This file was autogenerated by uv via the following command:", "#    make lock"]
    assert re.search(r"^uv==\d+\.\d+\.\d+$", tools, flags=re.MULTILINE)
    assert "--universal --generate-hashes" in (REPO / "Makefile").read_text(encoding="utf-8")


def test_make_lock_makes_every_adapters_lock_and_the_image_can_pick_each() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    (adapters,) = re.findall(r"^ADAPTERS := (.+)$", makefile, flags=re.MULTILINE)

    assert tuple(adapters.split()) == ADAPTERS
    assert "requirements-$$adapter.txt -o requirements-$$adapter.lock" in makefile
    assert "$(LOCK_COMPILE) requirements.txt -o requirements.lock" in makefile
