"""Every warehouse's profile and secret keys, without a warehouse: the managed profile's target for each
adapter reads exactly the keys task/warehouses.py documents (required ones without a default), a run
missing any stops with one line naming them (exit 78) before dbt starts, and stage_project.py gives a
project that brings no profile the managed one under its own profile name."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.dbt.external_project import FILES, PROFILE, write_project
from tests.dbt.support import PROJECT, REPO

sys.path.insert(0, str(REPO / "dbt_container"))
from task import settings as task_settings
from task.warehouses import MANAGED_PROFILE_MARKER, WAREHOUSE_KEYS, is_managed_profile

_spec = importlib.util.spec_from_file_location("stage_project", REPO / "dbt_container" / "stage_project.py")
assert _spec and _spec.loader
stage_project = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(stage_project)

ENV_VAR = re.compile(r"env_var\('([A-Z_]+)'(, '[^']*')?\)")


def outputs() -> dict[str, Any]:
    return yaml.safe_load((PROJECT / "profiles.yml").read_text())["orchestrator"]["outputs"]


def full_keys(adapter: str) -> dict[str, str]:
    required, _ = WAREHOUSE_KEYS[adapter]
    return {name: "x" for name in required}


@pytest.mark.parametrize("adapter", list(WAREHOUSE_KEYS))
def test_each_adapters_target_reads_exactly_its_documented_keys(adapter: str) -> None:
    target = outputs()[adapter]
    read = {
        match.group(1): match.group(2) is not None
        for value in target.values()
        if isinstance(value, str)
        for match in ENV_VAR.finditer(value)
    }
    required, optional = WAREHOUSE_KEYS[adapter]

    assert target["type"] == adapter
    assert {name for name, has_default in read.items() if not has_default} == set(required)
    assert {name for name, has_default in read.items() if has_default} - {"DBT_THREADS", "RUN_ID"} == set(
        optional
    )


def test_the_bundled_profile_is_managed() -> None:
    assert (PROJECT / "profiles.yml").read_text().splitlines()[0] == MANAGED_PROFILE_MARKER
    assert is_managed_profile(PROJECT)


@pytest.mark.parametrize("adapter", list(WAREHOUSE_KEYS))
def test_a_missing_key_is_one_line_naming_it_and_exit_78(adapter: str) -> None:
    required, _ = WAREHOUSE_KEYS[adapter]
    env = {**full_keys(adapter), "DBT_TARGET": adapter, required[0]: "", required[-1]: ""}
    env.pop(required[-1])

    with pytest.raises(task_settings.WarehouseKeysMissing) as raised:
        task_settings.load_settings(env)

    assert str(raised.value).startswith(f"DBT_TARGET={adapter} needs {required[0]}, {required[-1]} (")
    assert "\n" not in str(raised.value)
    assert raised.value.exit_code == 78


@pytest.mark.parametrize("adapter", list(WAREHOUSE_KEYS))
def test_every_key_present_loads_the_settings(adapter: str) -> None:
    settings = task_settings.load_settings({**full_keys(adapter), "DBT_TARGET": adapter})
    assert settings.target == adapter


def test_a_project_with_its_own_profile_is_not_checked_for_our_keys(tmp_path: Path) -> None:
    project = write_project(tmp_path / "analytics")
    (project / "profiles.yml").write_text("analytics:\n  target: prod\n  outputs: {}\n")

    settings = task_settings.load_settings({"DBT_TARGET": "postgres", "DBT_PROJECT_DIR": str(project)})

    assert settings.profiles_dir == project


def test_staging_a_project_without_a_profile_writes_the_managed_one_under_its_profile_name(
    tmp_path: Path,
) -> None:
    source = write_project(tmp_path / "analytics")
    (source / "target").mkdir()
    (source / "target" / "manifest.json").write_text("{}")

    has_packages = stage_project.stage(source, tmp_path / "task")

    profile = yaml.safe_load((tmp_path / "task" / "profiles.yml").read_text())
    assert has_packages is False
    assert set(profile) == {PROFILE}
    assert set(profile[PROFILE]["outputs"]) == {*WAREHOUSE_KEYS, "duckdb"}
    assert is_managed_profile(tmp_path / "task")
    assert not (tmp_path / "task" / "target").exists()
    assert {str(p.relative_to(tmp_path / "task")) for p in (tmp_path / "task").rglob("*.*")} == {
        *FILES,
        "profiles.yml",
    }


def test_staging_keeps_a_profile_the_project_brings_and_refuses_a_folder_that_is_no_project(
    tmp_path: Path,
) -> None:
    source = write_project(tmp_path / "analytics")
    (source / "profiles.yml").write_text("analytics: {target: dev, outputs: {}}\n")
    (source / "packages.yml").write_text("packages: []\n")

    assert stage_project.stage(source, tmp_path / "task") is True
    assert (tmp_path / "task" / "profiles.yml").read_text() == "analytics: {target: dev, outputs: {}}\n"
    assert stage_project.main([str(tmp_path), str(tmp_path / "other")]) == 2
