"""The entrypoint against a real Postgres server (started by the tests): a project from outside the
repository, staged as the image build stages it, built with dbt-postgres from requirements-postgres.lock
(.venv-dbt-postgres, which `make install` creates): success with artifacts, a failing model named, a
failed connection's source excluded, and a missing warehouse key stopping the run before dbt starts."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dbt import postgres_server
from tests.dbt.external_project import SOURCE_COLUMNS, stage, write_project
from tests.dbt.support import REPO, Run, run_entrypoint

SCHEMA = "analytics"


@pytest.fixture(scope="module")
def postgres_python() -> Path:
    path = Path(os.environ.get("DBT_POSTGRES_PYTHON") or REPO / ".venv-dbt-postgres" / "bin" / "python")
    if not path.exists():
        pytest.fail(f"no dbt-postgres interpreter at {path}: run make install (or set DBT_POSTGRES_PYTHON)")
    return path


@pytest.fixture(scope="module")
def server() -> Iterator[postgres_server.PostgresServer]:
    bindir = postgres_server.find_bindir()
    if bindir is None:
        pytest.fail("no Postgres binaries: apt-get install postgresql (.ci/run does)")
    running = postgres_server.start(bindir)
    try:
        for schema, rows in (("crm", 3), ("billing", 2)):
            values = ", ".join(f"({n}, 'p{n}', now())" for n in range(1, rows + 1))
            running.psql(
                f"create schema {schema}; create table {schema}.records ({SOURCE_COLUMNS});"  # noqa: S608 - ours
                f" insert into {schema}.records values {values};"
            )
        yield running
    finally:
        postgres_server.stop(running)


@pytest.fixture(scope="module")
def project(postgres_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = write_project(tmp_path_factory.mktemp("analytics-repo"))
    dest = tmp_path_factory.mktemp("task") / "project"
    staged = stage(postgres_python, source, dest)
    assert staged.returncode == 0, staged.stderr
    return dest


def run_on_postgres(
    python: Path, server: postgres_server.PostgresServer, project: Path, workdir: Path, **env: str
) -> Run:
    settings = {**server.env(SCHEMA), "DBT_TARGET": "postgres", "DBT_PROJECT_DIR": str(project), **env}
    return run_entrypoint(python, workdir, **settings)


def test_dbt_build_succeeds_on_postgres_and_keeps_its_artifacts(
    postgres_python: Path, server: postgres_server.PostgresServer, project: Path, tmp_path: Path
) -> None:
    run = run_on_postgres(postgres_python, server, project, tmp_path)

    assert run.returncode == 0, run.explain()
    assert run.summary["target"] == "postgres" and run.summary["exit_code"] == 0
    assert run.nodes() == {
        "model.analytics.stg_crm__records",
        "model.analytics.stg_billing__records",
        "model.analytics.customer_activity",
    }
    assert (run.target_path / "manifest.json").is_file()
    built = server.psql(f"select count(*) from {SCHEMA}.customer_activity")  # noqa: S608 - a constant
    assert built.strip() == "3"


def test_a_failing_model_fails_the_run_with_exit_1_and_is_named(
    postgres_python: Path, server: postgres_server.PostgresServer, project: Path, tmp_path: Path
) -> None:
    broken_project = Path(shutil.copytree(project, tmp_path / "project"))
    (broken_project / "models" / "broken_ratio.sql").write_text("select 1 / 0 as ratio\n", encoding="utf-8")

    run = run_on_postgres(postgres_python, server, broken_project, tmp_path)

    assert run.returncode == 1, run.explain()
    assert run.summary["failed_nodes"] == ["model.analytics.broken_ratio"]
    assert run.summary["counts"]["pass"] == 3 and run.summary["counts"]["error"] == 1
    assert "division by zero" in run.stderr


def test_a_failed_connections_source_is_excluded_with_what_depends_on_it(
    postgres_python: Path, server: postgres_server.PostgresServer, project: Path, tmp_path: Path
) -> None:
    run = run_on_postgres(postgres_python, server, project, tmp_path, DBT_EXCLUDE_SOURCES='["billing"]')

    assert run.returncode == 0, run.explain()
    assert run.summary["exclude"] == "source:billing+"
    assert run.nodes() == {"model.analytics.stg_crm__records"}


def test_a_missing_warehouse_key_stops_the_run_with_exit_78_before_dbt_starts(
    postgres_python: Path, server: postgres_server.PostgresServer, project: Path, tmp_path: Path
) -> None:
    run = run_on_postgres(postgres_python, server, project, tmp_path, POSTGRES_HOST="", POSTGRES_PASSWORD="")

    assert run.returncode == 78, run.explain()
    (error,) = run.events("config_error")
    assert error["error"].startswith("DBT_TARGET=postgres needs POSTGRES_HOST, POSTGRES_PASSWORD (")
    assert "\n" not in error["error"]
    assert not run.target_path.exists(), "dbt must not have started"
