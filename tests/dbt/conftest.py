"""Fixtures for the dbt container's tests: the dbt interpreter, a seeded DuckDB file, a moto S3 server, and
the whole project's build that most tests read. Runs that several tests read are session-scoped, so the
folder stays within the suite's time. The helpers live in support.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from tests.dbt.support import (
    BUCKET,
    FULL_BUILD_RUN_ID,
    FullBuild,
    dbt_python_path,
    run_entrypoint,
    s3_client,
    seed_all,
)


@pytest.fixture(scope="session")
def dbt_python() -> Path:
    """The dbt venv's interpreter; the tests fail (never skip) when it is missing."""
    path = dbt_python_path()
    if not path.exists():
        pytest.fail(f"the dbt interpreter {path} does not exist: run make install (or set DBT_PYTHON)")
    return path


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file with one sync of every demo connection (ROWS rows a table), shared by the session."""
    return seed_all(tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb", synced_at=datetime.now(UTC))


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on a free local port, with the artifacts bucket created."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3_client(endpoint).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture(scope="session")
def full_build(
    dbt_python: Path, seeded_db: Path, s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> FullBuild:
    """`dbt build` of the whole project on the seeded file, keeping artifacts in the moto bucket."""
    run = run_entrypoint(
        dbt_python,
        tmp_path_factory.mktemp("full-build"),
        DUCKDB_PATH=str(seeded_db),
        RUN_ID=FULL_BUILD_RUN_ID,
        ARTIFACTS_BUCKET=BUCKET,
        AWS_ENDPOINT_URL=s3_endpoint,
    )
    client = s3_client(s3_endpoint)
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    objects = {o["Key"]: client.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}
    return FullBuild(run, seeded_db, objects)
