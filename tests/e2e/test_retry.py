"""``orchestrator retry --local``: a run with 2 failed syncs and a dbt that failed on one model, retried.

The real dbt on DuckDB (dbt is the subject: which nodes the retry builds). A small project outside the
repository: ``crm_orders`` reads a column that does not exist, so the first run's dbt fails on it and
skips ``crm_report``, downstream; ``billing_conn`` and ``ads_conn`` fail their syncs (``continue``: dbt runs
without their sources). The model is then fixed, as its owner would, and the run retried: the retry
triggers exactly those 2 syncs (they fail again, so their sources stay excluded) and dbt builds only
the failed model and what it skipped. The two runs name each other in ``show``. A third run, which
succeeds, has nothing to retry (its dbt is the stand-in: the refusal reads the run's record, not dbt).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result

from contracts.state_file import STATE_FILE_ENV, write_state
from local.runtime import LocalRuntime
from local.scenario import parse_scenario
from local.serve import local_state
from tests.ops.support import assert_readable_error, invoke

pytestmark = pytest.mark.e2e

SCENARIO = {
    "name": "retry",
    "group_id": "retry_group",
    "connectors": [
        {"id": "crm_conn", "service": "pipedrive", "schema": "crm", "sync": {"duration_s": 0.3}},
        {"id": "shop_conn", "service": "shopify", "schema": "shop", "sync": {"duration_s": 0.3}},
        {
            "id": "billing_conn",
            "service": "chargebee",
            "schema": "billing",
            "sync": {"duration_s": 0.3, "outcome": "failure", "reason": "API key revoked"},
        },
        {
            "id": "ads_conn",
            "service": "linkedin_ads",
            "schema": "ads",
            "sync": {"duration_s": 0.3, "outcome": "failure", "reason": "token expired"},
        },
    ],
}
SOURCES = ("crm", "shop", "billing", "ads")
STAGING = "select id, payload from {{ source('SOURCE', 'records') }}\n"
BROKEN_ORDERS = "select id, no_such_column from {{ ref('stg_crm') }}\n"
FIXED_ORDERS = "select id, payload from {{ ref('stg_crm') }}\n"
PROJECT = {
    "dbt_project.yml": 'name: shop\nversion: "1.0.0"\nprofile: shop\n'
    "models:\n  shop:\n    +materialized: table\n",
    "models/sources.yml": "version: 2\nsources:\n"
    + "".join(f"  - name: {s}\n    tables:\n      - name: records\n" for s in SOURCES),
    **{f"models/stg_{s}.sql": STAGING.replace("SOURCE", s) for s in SOURCES},
    "models/crm_orders.sql": BROKEN_ORDERS,
    "models/crm_report.sql": "select count(*) as orders from {{ ref('crm_orders') }}\n",
    "models/shop_summary.sql": "select count(*) as rows_synced from {{ ref('stg_shop') }}\n",
}


@dataclass
class Retried:
    """Everything the runs did, recorded while the runtime ran (each test starts from fresh
    dependencies: the runtime's in-process handlers serve only the fixture that started it)."""

    first: str
    retry: str
    retry_cli: Result
    triggers: dict[str, dict[str, int]]  # by moment: after the first run, the retry, the refused retry
    run_results: dict[str, dict[str, str]]  # by run: the nodes its dbt built, by status
    retry_output: dict[str, object]
    shown: dict[str, str]  # by run: ``orchestrator show`` output
    refused: Result
    refused_run: str
    executions: tuple[int, int]  # before and after the refused retry


class Session:
    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        self.state_file = runtime.workdir / "state.json"
        write_state(self.state_file, local_state(runtime, os.getpid()))

    def cli(self, *args: str) -> Result:
        return invoke(list(args), env={STATE_FILE_ENV: str(self.state_file)})

    def triggers(self) -> dict[str, int]:
        assert self.runtime.simulator is not None
        return {cid: state.attempts for cid, state in self.runtime.simulator.connections.items()}

    def executions(self) -> int:
        assert self.runtime.stack is not None
        sfn = self.runtime.clients["stepfunctions"]
        return len(sfn.list_executions(stateMachineArn=self.runtime.stack.state_machine_arn)["executions"])

    def run_results(self, run: str) -> dict[str, str]:
        """The nodes a run's dbt built, by status, from its artifacts in S3."""
        assert self.runtime.stack is not None
        bucket = self.runtime.stack.artifacts_bucket
        body = self.runtime.read_s3_uri(f"s3://{bucket}/dbt-runs/{run}/run_results.json")
        assert body is not None
        return {r["unique_id"]: r["status"] for r in json.loads(body)["results"]}

    def output(self, run: str) -> dict[str, object]:
        assert self.runtime.stack is not None
        arn = self.runtime.stack.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{run}"
        return dict(json.loads(self.runtime.describe(arn).get("output") or "{}"))


def run_name(result: Result) -> str:
    found = re.search(r"^started arn:aws:states:\S+:execution:[^:]+:(\S+)$", result.output, re.MULTILINE)
    assert found, result.output
    return found.group(1)


@pytest.fixture(scope="module")
def retried(tmp_path_factory: pytest.TempPathFactory) -> Retried:
    root = tmp_path_factory.mktemp("retry")
    project = root / "shop"
    for name, text in PROJECT.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text, encoding="utf-8")
    scenario = parse_scenario(SCENARIO)
    with LocalRuntime(scenario, workdir=root / "work", dbt="real", dbt_project=project) as runtime:
        session = Session(runtime)
        started = session.cli(
            "start-run", "--local", "--group", "retry_group", "--on-sync-failure", "continue", "--wait"
        )
        assert started.exit_code == 3, started.output  # dbt failed on crm_orders
        first = run_name(started)
        triggers = {"first": session.triggers()}
        assert runtime.dbt is not None
        staged = Path(runtime.dbt.project_env["DBT_PROJECT_DIR"])
        (staged / "models" / "crm_orders.sql").write_text(FIXED_ORDERS, encoding="utf-8")
        retry_cli = session.cli("retry", first, "--local", "--wait")
        retry = run_name(retry_cli)
        triggers["retry"] = session.triggers()
        # The run with nothing to retry is the subject of the orchestrator's record, not of dbt: dbt's
        # stand-in builds it (the same entrypoint, exit code and artifacts; about 12 s of CPU less).
        runtime.dbt.dbt = "stand-in"
        succeeded = session.cli(
            "start-run", "--local", "--connector", "crm_conn", "--connector", "shop_conn", "--wait"
        )
        assert succeeded.exit_code == 0, succeeded.output
        before = session.executions()
        refused = session.cli("retry", run_name(succeeded), "--local")
        triggers["refused"] = session.triggers()
        return Retried(
            first=first,
            retry=retry,
            retry_cli=retry_cli,
            triggers=triggers,
            run_results={run: session.run_results(run) for run in (first, retry)},
            retry_output=session.output(retry),
            shown={run: session.cli("show", run, "--local").output for run in (first, retry)},
            refused=refused,
            refused_run=run_name(succeeded),
            executions=(before, session.executions()),
        )


def test_the_first_run_fails_on_one_model_after_two_failed_syncs(retried: Retried) -> None:
    assert retried.run_results[retried.first] == {
        "model.shop.stg_crm": "success",
        "model.shop.stg_shop": "success",
        "model.shop.shop_summary": "success",
        "model.shop.crm_orders": "error",
        "model.shop.crm_report": "skipped",
    }
    assert retried.triggers["first"] == {"crm_conn": 1, "shop_conn": 1, "billing_conn": 1, "ads_conn": 1}


def test_the_retry_triggers_exactly_the_two_failed_syncs(retried: Retried) -> None:
    assert retried.retry_cli.exit_code == 0, retried.retry_cli.output
    assert "syncs again: billing_conn, ads_conn" in retried.retry_cli.output
    assert retried.triggers["retry"] == {"crm_conn": 1, "shop_conn": 1, "billing_conn": 2, "ads_conn": 2}


def test_the_retry_builds_only_the_failed_model_and_what_it_skipped(retried: Retried) -> None:
    assert retried.run_results[retried.retry] == {
        "model.shop.crm_orders": "success",
        "model.shop.crm_report": "success",
    }
    assert "dbt: resumes: result:error+ result:skipped+" in retried.retry_cli.output


def test_the_retry_names_the_run_it_retries_and_show_links_both_ways(retried: Retried) -> None:
    first, retry = retried.first, retried.retry

    assert retried.retry_output["retry_of"] == first
    assert f"retried by {retry}: orchestrator show {retry} --local" in retried.shown[first]
    assert f"retry of {first}: orchestrator show {first} --local" in retried.shown[retry]


def test_a_run_with_nothing_to_retry_says_so_and_starts_nothing(retried: Retried) -> None:
    message = assert_readable_error(retried.refused, code=2)

    assert message.startswith(f"run {retried.refused_run} has nothing to retry")
    assert "nothing was started" in message
    assert retried.triggers["refused"] == {"crm_conn": 2, "shop_conn": 2, "billing_conn": 2, "ads_conn": 2}
    assert retried.executions[1] == retried.executions[0]
