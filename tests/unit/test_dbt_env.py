"""The dbt task's environment outside the local runtime (local/dbt_env.py): what the dbt container's tests and
the new-data week benchmark start the entrypoint with."""

from __future__ import annotations

import pytest

from local.dbt_env import dbt_task_env


def test_nothing_of_the_callers_aws_setup_leaks_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "a-real-secret")

    env = dbt_task_env()

    assert "AWS_PROFILE" not in env
    assert env["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"
    assert "AWS_ENDPOINT_URL" not in env
    assert env["DBT_TARGET"] == "duckdb"


def test_the_endpoint_and_the_callers_overrides_come_on_top() -> None:
    env = dbt_task_env("http://127.0.0.1:5000", DBT_MODE="new_data", DBT_TARGET="postgres")

    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5000"
    assert (env["DBT_MODE"], env["DBT_TARGET"]) == ("new_data", "postgres")
