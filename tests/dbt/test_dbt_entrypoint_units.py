"""The entrypoint's pure parts, imported in-process (it needs only the standard library at import time):
settings, the dbt command line, reading results, the S3 key layout."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.dbt.support import ENTRYPOINT, PROJECT


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dbt_container_entrypoint", ENTRYPOINT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their annotations through sys.modules
    spec.loader.exec_module(module)
    return module


ep = _load()


def settings(**env: str) -> object:
    return ep.load_settings({"DBT_TARGET": "duckdb", "DUCKDB_PATH": "/tmp/w.duckdb", **env})


def test_importing_the_entrypoint_loads_neither_dbt_nor_boto3() -> None:
    source = ENTRYPOINT.read_text()
    top_level_imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert not [line for line in top_level_imports if "dbt" in line or "boto" in line]


def test_settings_default_to_a_build_of_the_bundled_project() -> None:
    s = settings(RUN_ID="r-1")
    assert (s.command, s.select, s.exclude, s.target, s.run_id) == ("build", "", "", "duckdb", "r-1")
    assert s.project_dir == PROJECT and s.profiles_dir == PROJECT
    assert s.prefix == "dbt-runs" and s.bucket is None and s.artifacts_uri is None
    assert s.target_path.parts[-3:] == ("orchestrator-dbt", "r-1", "target")


def test_the_default_artifacts_folder_is_removed_after_the_run_and_a_given_one_is_kept(
    tmp_path: Path,
) -> None:
    default = settings(RUN_ID="r-2")
    assert default.scratch_dir is not None and default.target_path.is_relative_to(default.scratch_dir)
    assert settings(DBT_TARGET_PATH=str(tmp_path / "t")).scratch_dir is None


def test_a_run_without_run_id_gets_a_manual_one() -> None:
    assert settings().run_id.startswith("manual-")


@pytest.mark.parametrize(
    "raw", ["build", "run", "test", "seed", "snapshot", "source freshness", " source   freshness "]
)
def test_every_allowed_command_is_accepted(raw: str) -> None:
    assert ep.parse_command(raw) == " ".join(raw.split())


@pytest.mark.parametrize("raw", ["compile", "run-operation x", "build --full-refresh", "source", "debug"])
def test_any_other_command_is_refused(raw: str) -> None:
    with pytest.raises(ep.ConfigError, match="not allowed"):
        ep.parse_command(raw)


@pytest.mark.parametrize(
    ("raw", "names"),
    [
        (None, []),
        ("", []),
        ("[]", []),
        ('["a","b","a"]', ["a", "b"]),
        ('["stripe","sheets.budget"]', ["stripe", "sheets.budget"]),
    ],
)
def test_exclude_sources_is_a_json_array_of_names(raw: str | None, names: list[str]) -> None:
    assert ep.parse_exclude_sources(raw) == names


@pytest.mark.parametrize(
    "raw",
    ["stripe", '{"stripe": 1}', "[1]", '["a b"]', '["x+"]', '["a.b.c"]', '[".b"]', '["a."]', '["a.b+"]'],
)
def test_exclude_sources_refuses_anything_else(raw: str) -> None:
    with pytest.raises(ep.ConfigError):
        ep.parse_exclude_sources(raw)


def test_excluded_sources_are_appended_to_the_exclude_with_their_descendants() -> None:
    s = settings(DBT_EXCLUDE=" tag:slow  customer_360 ", DBT_EXCLUDE_SOURCES='["stripe", "zendesk"]')
    assert s.exclude == "tag:slow customer_360 source:stripe+ source:zendesk+"
    args = ep.dbt_args(s)
    assert [a for a in args if a.startswith("--exclude")] == [
        "--exclude=tag:slow",
        "--exclude=customer_360",
        "--exclude=source:stripe+",
        "--exclude=source:zendesk+",
    ]


def test_a_schema_table_source_is_excluded_as_dbt_selects_that_table() -> None:
    s = settings(DBT_EXCLUDE_SOURCES='["stripe", "finance_sheets.budget"]')
    assert s.exclude == "source:stripe+ source:finance_sheets.budget+"


def test_dbt_args_carry_the_command_target_paths_and_selection() -> None:
    s = settings(DBT_COMMAND="source freshness", DBT_SELECT="source:stripe source:hubspot", RUN_ID="r")
    args = ep.dbt_args(s)
    assert args[:2] == ["source", "freshness"]
    assert args[args.index("--target") + 1] == "duckdb"
    assert args[args.index("--project-dir") + 1] == str(PROJECT)
    assert args[args.index("--target-path") + 1] == str(s.target_path)
    assert args[-2:] == ["--select=source:stripe", "--select=source:hubspot"]
    assert not [a for a in args if a.startswith("--exclude")]


def test_snowflake_target_names_the_missing_connection_settings() -> None:
    with pytest.raises(ep.ConfigError, match="SNOWFLAKE_ROLE") as raised:
        ep.load_settings({"DBT_TARGET": "snowflake", "SNOWFLAKE_ACCOUNT": "a", "SNOWFLAKE_PRIVATE_KEY": "k"})
    assert "SNOWFLAKE_ACCOUNT" not in str(raised.value)


def test_run_ids_become_one_safe_key_segment() -> None:
    assert ep.artifacts_key_prefix("/dbt-runs/", "exec-1") == "dbt-runs/exec-1/"
    assert ep.artifacts_key_prefix("", "a/b c") == "a-b-c/"
    arn = "arn:aws:states:us-east-1:123:execution:orchestrator:run-7"
    assert ep.artifacts_key_prefix("x/y", arn) == f"x/y/{arn}/"


def test_results_are_counted_by_status_and_failures_named(tmp_path: Path) -> None:
    statuses = ["success", "pass", "warn", "error", "fail", "skipped", "no-op", "runtime error"]
    results = [{"unique_id": f"n{i}", "status": s} for i, s in enumerate(statuses)]
    (tmp_path / "run_results.json").write_text(json.dumps({"results": results}))
    counts, failed = ep.read_results(tmp_path, "build")
    assert counts == {"pass": 2, "warn": 1, "error": 3, "skip": 1}
    assert failed == ["n3", "n4", "n7"]


def test_missing_results_count_nothing(tmp_path: Path) -> None:
    assert ep.read_results(tmp_path, "source freshness") == (
        {"pass": 0, "warn": 0, "error": 0, "skip": 0},
        [],
    )


def test_deps_run_only_for_a_project_with_packages_not_yet_installed(tmp_path: Path) -> None:
    (tmp_path / "dbt_project.yml").write_text("name: x\npackages-install-path: vendor\n")
    assert not ep.needs_deps(tmp_path)
    (tmp_path / "packages.yml").write_text("packages: []\n")
    assert ep.needs_deps(tmp_path)
    (tmp_path / "vendor" / "dbt_utils").mkdir(parents=True)
    assert not ep.needs_deps(tmp_path)
    assert not ep.needs_deps(PROJECT)


def test_the_summary_kept_beside_the_artifacts_names_at_most_50_failed_nodes(monkeypatch) -> None:
    put: list[dict] = []

    class S3:
        def put_object(self, **kwargs) -> None:
            put.append(kwargs)

    monkeypatch.setattr(ep, "_s3_client", S3)
    s = settings(ARTIFACTS_BUCKET="b", RUN_ID="run-1")
    failed = [f"model.p.m{i}" for i in range(120)]
    summary = {"event": "dbt_summary", "exit_code": 1, "counts": {"error": 120}, "failed_nodes": failed}

    ep.upload_summary(s, summary)

    (call,) = put
    assert (call["Bucket"], call["Key"], call["ContentType"]) == (
        "b",
        "dbt-runs/run-1/summary.json",
        "application/json",
    )
    kept = json.loads(call["Body"])
    assert kept["failed_nodes"] == failed[:50]
    assert kept["counts"] == {"error": 120}  # the total stays
    assert summary["failed_nodes"] == failed  # the summary line itself is not cut


def test_dbt_mode_defaults_to_all_so_a_manual_run_builds_as_before():
    assert settings().mode == "all"
    assert not settings().selects_new_data


def test_new_data_selects_for_build_and_run_without_an_explicit_selection():
    assert settings(DBT_MODE="new_data").selects_new_data
    assert settings(DBT_MODE="new_data", DBT_COMMAND="run").selects_new_data
    assert not settings(DBT_MODE="new_data", DBT_SELECT="tag:daily").selects_new_data  # select wins
    assert not settings(DBT_MODE="new_data", DBT_COMMAND="test").selects_new_data


def test_an_unknown_dbt_mode_is_a_config_error_naming_it():
    with pytest.raises(ep.ConfigError, match="DBT_MODE='fresh' is not allowed"):
        settings(DBT_MODE="fresh")


@pytest.mark.parametrize(
    ("select", "needed"),
    [
        ("result:error+ result:skipped+", True),
        ("tag:daily,state:modified", True),
        ("2+result:fail", True),
        ("tag:daily source:stripe+", False),
        ("", False),
    ],
)
def test_only_result_and_state_selectors_need_a_retried_runs_artifacts(select: str, needed: bool) -> None:
    from task.retry_state import needs_state  # importable once the entrypoint is loaded (its folder)

    assert needs_state(select) is needed


def test_a_retry_passes_the_retried_runs_artifacts_as_dbt_state(tmp_path: Path) -> None:
    s = settings(RUN_ID="r-2", DBT_SELECT="result:error+")

    args = ep.dbt_args(s, tmp_path)

    assert args[-2:] == ["--state", str(tmp_path)]
    assert "--state" not in ep.dbt_args(s)
