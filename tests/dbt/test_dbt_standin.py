"""dbt's stand-in (local/dbt_standin.py), which the local runtime runs where dbt is not the subject, keeps
the real entrypoint's contract: the exit code, the summary line, run_results.json and the same artifacts
in S3 as the whole project's real build (``full_build``), and the exclusions it was given."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from local.dbt_standin import model_ids
from local.ecs_runner import DBT_ENV, DbtProcessRunner, dbt_choice
from tests.dbt.support import BUCKET, FULL_BUILD_RUN_ID, PROJECT, FullBuild, Run, base_env, s3_client

STANDIN = Path(__file__).resolve().parents[2] / "local" / "dbt_standin.py"
RUN_ID = "run-standin"


def run_standin(workdir: Path, **env: str) -> Run:
    """The stand-in as the local ECS runner starts it: this interpreter, the entrypoint's environment."""
    target_path = workdir / "target"
    full_env = base_env(DBT_TARGET_PATH=str(target_path), DBT_LOG_PATH=str(workdir / "logs"), **env)
    done = subprocess.run(
        [sys.executable, str(STANDIN)], env=full_env, capture_output=True, text=True, timeout=60, check=False
    )
    return Run(done.returncode, done.stdout, done.stderr, target_path)


def _objects(endpoint: str, prefix: str) -> dict[str, bytes]:
    client = s3_client(endpoint)
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {
        o["Key"].removeprefix(prefix): client.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
        for o in listed
    }


def test_the_standin_leaves_what_the_real_build_leaves_in_s3_and_says_the_same_summary(
    full_build: FullBuild, s3_endpoint: str, tmp_path: Path
) -> None:
    run = run_standin(
        tmp_path,
        DUCKDB_PATH=str(tmp_path / "w.duckdb"),
        RUN_ID=RUN_ID,
        ARTIFACTS_BUCKET=BUCKET,
        AWS_ENDPOINT_URL=s3_endpoint,
    )

    assert run.returncode == 0, run.explain()
    assert set(run.summary) == set(full_build.run.summary)
    assert run.summary["exit_code"] == 0 and run.summary["artifacts"] == f"s3://{BUCKET}/dbt-runs/{RUN_ID}/"
    real = {key.rsplit("/", 1)[-1] for key in full_build.objects if f"/{FULL_BUILD_RUN_ID}/" in key}
    standin = _objects(s3_endpoint, f"dbt-runs/{RUN_ID}/")
    assert set(standin) == real
    assert json.loads(standin["summary.json"]) == run.summary
    # One successful result per model, the very models the real build built.
    real_models = {node for node in full_build.run.nodes() if node.startswith("model.")}
    assert run.nodes() == real_models == set(model_ids(PROJECT))
    assert run.summary["counts"] == {"pass": len(real_models), "warn": 0, "error": 0, "skip": 0}


def test_the_standin_reads_the_exclusions_as_the_entrypoint_does(tmp_path: Path) -> None:
    run = run_standin(tmp_path, DUCKDB_PATH=str(tmp_path / "w.duckdb"), DBT_EXCLUDE_SOURCES='["zendesk"]')

    assert run.returncode == 0, run.explain()
    assert run.summary["exclude"] == "source:zendesk+"
    (started,) = run.events("dbt_started")
    assert started["standin"] is True and "--exclude=source:zendesk+" in started["args"]


def test_bad_settings_fail_the_standin_as_they_fail_the_entrypoint(tmp_path: Path) -> None:
    run = run_standin(tmp_path, DBT_COMMAND="drop everything")

    assert run.returncode == 2
    assert run.summary["exit_code"] == 2


def test_the_local_runtime_runs_the_real_dbt_unless_told_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DBT_ENV, raising=False)
    assert dbt_choice() == "real"
    real = DbtProcessRunner(tmp_path / "w.duckdb", tmp_path)
    assert real.command()[-1].endswith("dbt_container/entrypoint.py")

    monkeypatch.setenv(DBT_ENV, "stand-in")
    assert dbt_choice() == "stand-in" and dbt_choice("real") == "real"
    assert DbtProcessRunner(tmp_path / "w.duckdb", tmp_path).command() == [sys.executable, str(STANDIN)]

    monkeypatch.setenv(DBT_ENV, "fake")
    with pytest.raises(ValueError, match="LOCAL_DBT='fake'"):
        dbt_choice()
