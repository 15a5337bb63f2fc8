"""Shared fixtures: fake AWS credentials, moto with Step Functions execution, the app's dependencies."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest
from _pytest.nodeid import NodeId
from moto import mock_aws

from chalicelib.platform.config import Settings
from chalicelib.wiring import Dependencies, reset_dependencies, set_dependencies
from infra.template import token_table_spec
from local import moto_patches
from tests import hypothesis_profiles
from tests.fakes import FakeFivetran

# `ci` unless HYPOTHESIS_PROFILE (or --hypothesis-profile) names another: tests/hypothesis_profiles.py.
hypothesis_profiles.load()
# Every moto account of the suite without moto's public AMI catalogue, as moto_patches.install() leaves
# the local runtime's: the deploy and doctor tests' accounts (tests/infra) make no such call themselves.
os.environ.setdefault(moto_patches.LOAD_DEFAULT_AMIS_ENV, "false")

REGION = "us-east-1"
# How long a test's wait for the run (tokens parked, an end, a delivery) may take before it fails. A
# wait ends as soon as its condition holds, so a fast machine never spends this; a loaded one (a CI
# runner, other suites on the same cores) gets its margin here instead of a flaky failure.
PATIENCE_S = 120.0
# A figure a test reports (tests/hardening: the ``figure`` fixture), listed at the end of the run.
FIGURE = "figure"
_FIGURES: list[str] = []
WEBHOOK_SECRET = "test-webhook-secret"
TABLE = "fivetran-orchestrator-test-tokens"


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No test may reach a real AWS account: fake credentials, a fixed region, no endpoint override."""
    for name in list(os.environ):
        if name.startswith("AWS_") and name != "AWS_SHARED_CREDENTIALS_FILE":
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    reset_dependencies()
    yield
    reset_dependencies()


_SESSION: list[boto3.session.Session] = []


def _shared_session() -> boto3.session.Session:
    if not _SESSION:
        _SESSION.append(boto3.session.Session())
    return _SESSION[0]


@pytest.fixture
def moto_aws() -> Iterator[None]:
    """moto with Step Functions executing definitions, and this project's patches applied."""
    moto_patches.install()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        # One boto3 session for the whole run: a fresh default session reloads botocore's service
        # models for every client, which dominated these tests' time (moto still answers every call).
        boto3.DEFAULT_SESSION = _shared_session()
        yield
    moto_patches.set_ecs_task_runner(None)


@pytest.fixture
def settings() -> Settings:
    return Settings(
        token_table=TABLE,
        fivetran_api_key="key",
        fivetran_api_secret="secret",
        webhook_secret=WEBHOOK_SECRET,
        reconcile_after_seconds=0,
    )


@pytest.fixture
def token_table(moto_aws: None, settings: Settings) -> str:
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=settings.token_table, BillingMode="PAY_PER_REQUEST", **token_table_spec()
    )
    return settings.token_table


@pytest.fixture
def fivetran() -> FakeFivetran:
    return FakeFivetran()


@pytest.fixture
def deps(moto_aws: None, token_table: str, settings: Settings, fivetran: FakeFivetran) -> Dependencies:
    """The app's real dependencies on moto clients, with the fake Fivetran client injected."""
    built = Dependencies.from_clients(
        settings,
        dynamodb=boto3.client("dynamodb", region_name=REGION),
        stepfunctions=boto3.client("stepfunctions", region_name=REGION),
        fivetran_factory=lambda credentials: fivetran,
        s3=boto3.client("s3", region_name=REGION),
    )
    set_dependencies(built)
    return built


# `make check`, the inner loop: the unit and functional tests, but those marked slow.
CHECK_PATHS = ("tests/unit/", "tests/functional/")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marks the inner loop's tests ``check`` (``make check``: ``-m check``).

    Under pytest-xdist (``make test``: ``-n auto --dist loadgroup``), the tests that share an expensive
    fixture run on one worker, so it is built once: a session-scoped fixture of ours (the dbt project's
    full build) groups every test that uses it, a module-scoped one (a ``python -m local serve`` runtime)
    its module's tests. Every other test goes to whichever worker is free."""
    for item in items:
        if item.nodeid.startswith(CHECK_PATHS) and item.get_closest_marker("slow") is None:
            item.add_marker(pytest.mark.check)
        fixtures = getattr(item, "_fixtureinfo", None)
        if fixtures is None:
            continue
        group = None
        for definitions in fixtures.name2fixturedefs.values():
            definition = definitions[-1]
            if not definition.baseid.startswith("tests"):  # pytest's own (tmp_path_factory ...)
                continue
            if definition.scope == "session":
                group = f"session:{definition.baseid}"
                break
            if definition.scope == "module":
                group = f"module:{item.nodeid.split('::', 1)[0]}"
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
            if config.getoption("loadgroup", default=False):  # an xdist worker under --dist loadgroup
                _show_group(item, group)


def _show_group(item: pytest.Item, group: str) -> None:
    """Appends ``@group`` to the test's id, which is what ``--dist loadgroup`` schedules by.

    pytest-xdist 3.8 does this itself from the ``xdist_group`` mark, by setting ``item._nodeid``, which
    pytest 9 no longer reads (an item's id is its ``_id``): without this, no group held, and every
    module's expensive fixture (a ``local serve`` runtime, a dbt build) was built on both workers."""
    if "@" not in item.nodeid.rpartition("]")[2]:
        item._id = NodeId.parse(f"{item.nodeid}@{group}")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect the figures a test reported (its ``user_properties`` travel from an xdist worker)."""
    if report.when == "call":
        _FIGURES.extend(str(value) for name, value in report.user_properties if name == FIGURE)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES:
        terminalreporter.section("hardening figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)
