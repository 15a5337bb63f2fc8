"""``stop``, ``logs`` and ``start-run --dry-run`` against ``python -m local serve``, and the run files
the runtime keeps after it stops (issue 27, items 2 and 6).

One runtime plays ``scenarios/daily.yaml``: ``stripe_prod`` and ``hubspot_crm`` sync in under a
second, ``salesforce_slow`` for ten minutes (a run to stop), ``zendesk_paused`` is paused and
``postgres_broken`` broken (the dry run skips both, each with its reason).
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path

import boto3
import pytest
from click.testing import Result

from contracts.state_file import STATE_FILE_ENV
from tests.ops.support import (
    SCENARIOS,
    Served,
    assert_readable_error,
    invoke,
    start_serve,
    stop_serve_process,
)

SCENARIO = SCENARIOS / "daily.yaml"
QUICK = ["--connector", "stripe_prod", "--connector", "hubspot_crm"]
WAIT_S = 60


def run_cli(served: Served, *args: str) -> Result:
    return invoke(list(args), env={STATE_FILE_ENV: str(served.state_file)})


def stepfunctions(served: Served):
    return boto3.client(
        "stepfunctions",
        endpoint_url=served.state.aws_endpoint_url,
        region_name=served.state.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def executions(served: Served) -> list[dict]:
    return stepfunctions(served).list_executions(stateMachineArn=served.state.state_machine_arn)["executions"]


def parked_tokens(served: Served, arn: str) -> list[dict]:
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=served.state.aws_endpoint_url,
        region_name=served.state.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    items = dynamodb.scan(TableName=served.state.token_table)["Items"]
    return [item for item in items if item.get("execution_id", {}).get("S") == arn]


def history_types(sfn, arn: str) -> list[str]:
    return [e["type"] for e in sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]]


def run_name(result: Result) -> str:
    found = re.search(r"^started arn:aws:states:\S+:(\S+)$", result.output, re.MULTILINE)
    assert found, result.output
    return found.group(1)


def until(check, what: str):
    """Poll ``check`` until it gives something true (the runtime works in its own process)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"{what}: not within {WAIT_S} s")


@pytest.fixture(scope="module")
def quick_run(served: Served) -> str:
    result = run_cli(served, "start-run", "--local", *QUICK, "--wait")
    assert result.exit_code == 0, result.output
    assert f"run files: {Path(served.state.runs_dir) / run_name(result)}" in result.output
    return run_name(result)


@pytest.fixture(scope="module")
def quick_logs(served: Served, quick_run: str) -> list[str]:
    result = run_cli(served, "logs", quick_run, "--local")
    assert result.exit_code == 0, result.output
    return [line for line in result.output.splitlines() if re.match(r"^\d{4}-\d\d-\d\dT", line)]


# -- start-run --dry-run --------------------------------------------------------------------------


def test_a_dry_run_lists_what_would_sync_what_is_skipped_and_why_and_dbt_and_starts_nothing(
    served: Served,
) -> None:
    before = len(executions(served))

    result = run_cli(
        served, "start-run", "--local", "--group", "daily_group", "--dbt-select", "tag:daily", "--dry-run"
    )

    assert result.exit_code == 0, result.output
    output = result.output
    assert "would sync 3 connection(s):" in output
    for connection in ("stripe_prod", "hubspot_crm", "salesforce_slow"):
        assert re.search(rf"^  ✓ {connection} ", output, re.MULTILINE), output
    assert "would skip 2 connection(s):" in output
    assert re.search(r"^  - zendesk_paused: paused in Fivetran", output, re.MULTILINE), output
    assert re.search(r"^  - postgres_broken: setup not connected", output, re.MULTILINE), output
    assert re.search(r"^dbt: dbt build --select tag:daily$", output, re.MULTILINE), output
    assert '"level"' not in output  # the listing's own log lines are not the operator's output
    assert len(executions(served)) == before


def test_a_dry_run_names_connector_ids_that_do_not_exist(served: Served) -> None:
    result = run_cli(
        served, "start-run", "--local", "--connector", "stripe_prod", "--connector", "nope", "--dry-run"
    )

    assert result.exit_code == 0, result.output
    assert "would sync 1 connection(s):" in result.output
    assert "  - nope: no such connection in the Fivetran account" in result.output


def test_a_dry_run_of_a_run_that_would_fail_at_its_first_state_says_so(served: Served) -> None:
    result = run_cli(
        served, "start-run", "--local", "--group", "daily_group", "--paused", "fail", "--dry-run"
    )

    message = assert_readable_error(result)
    assert message.startswith("the run would fail at its first state:")
    assert "zendesk_paused" in message


# -- stop -----------------------------------------------------------------------------------------


def test_stop_aborts_a_running_run_with_its_map_run_and_says_what_it_stopped(served: Served) -> None:
    started = run_cli(served, "start-run", "--local", "--connector", "salesforce_slow")
    assert started.exit_code == 0, started.output
    arn = started.output.splitlines()[0]
    sfn = stepfunctions(served)
    until(lambda: "MapRunStarted" in history_types(sfn, arn), "the run's map run started")
    until(lambda: parked_tokens(served, arn), "the child's task token parked")

    result = run_cli(served, "stop", arn.rsplit(":", 1)[-1], "--local")

    assert result.exit_code == 0, result.output
    assert f"stopped run {arn.rsplit(':', 1)[-1]} (StopExecution; it was RUNNING" in result.output
    assert re.search(
        r"^  map run \S+, 1 child execution\(s\) running: stopped with the run$", result.output, re.MULTILINE
    ), result.output
    assert "  dbt task: none running" in result.output
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    # The token the child parked is deleted by the safety net's next pass, as for any run that ends early.
    until(lambda: not parked_tokens(served, arn), "the run's parked token deleted")
    again = run_cli(served, "stop", arn, "--local")
    assert again.exit_code == 0, again.output
    assert "already ended (ABORTED): nothing to stop" in again.output


def test_stop_names_a_run_that_does_not_exist(served: Served) -> None:
    message = assert_readable_error(run_cli(served, "stop", "no-such-run", "--local"))
    assert "no run named 'no-such-run'" in message


# -- logs -----------------------------------------------------------------------------------------


def test_logs_gives_the_run_lines_of_the_lambdas_the_webhook_and_dbt_in_time_order(
    quick_run: str, quick_logs: list[str]
) -> None:
    parts = {line.split()[1] for line in quick_logs}
    times = [line.split()[0] for line in quick_logs]
    messages = [json.loads(line.split(None, 2)[2]).get("message", "") for line in quick_logs]

    assert parts == {"lambda", "webhook", "dbt"}
    assert times == sorted(times)
    assert "listed connections" in messages
    assert "outcomes collected" in messages
    assert messages.count("webhook sync_end processed") == 2
    assert any(f'"run_id": "{quick_run}"' in line for line in quick_logs)


def test_logs_of_one_connection_hold_no_line_of_another(served: Served, quick_run: str) -> None:
    result = run_cli(served, "logs", quick_run, "--local", "--connection", "stripe_prod")

    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if re.match(r"^\d{4}-", line)]
    records = [json.loads(line.split(None, 2)[2]) for line in lines]
    assert any(r.get("message") == "webhook sync_end processed" for r in records)
    assert all(r.get("connector_id") in ("stripe_prod", None) for r in records)
    assert not any("hubspot_crm" in line for line in lines)


def test_logs_leave_out_the_lines_of_another_run(served: Served, quick_run: str) -> None:
    other = run_cli(served, "start-run", "--local", "--connector", "stripe_prod", "--wait")
    assert other.exit_code == 0, other.output

    result = run_cli(served, "logs", run_name(other), "--local")

    assert result.exit_code == 0, result.output
    assert quick_run not in result.output
    assert run_name(other) in result.output


# -- the run's files ------------------------------------------------------------------------------


def test_show_points_at_the_run_files_the_runtime_keeps(served: Served, quick_run: str) -> None:
    folder = Path(served.state.runs_dir) / quick_run
    until(lambda: (folder / "dbt" / "summary.json").exists(), "the run's files copied")

    result = run_cli(served, "show", quick_run, "--local")

    assert f"run files: {folder}" in result.output
    outcomes = json.loads((folder / "outcomes.json").read_text())
    assert {c["connector_id"] for c in outcomes["connections"]} == {"stripe_prod", "hubspot_crm"}


def test_a_run_files_outlive_the_runtime(tmp_path: Path) -> None:
    served = start_serve(SCENARIO, tmp_path)
    try:
        started = run_cli(served, "start-run", "--local", *QUICK, "--wait")
        assert started.exit_code == 0, started.output
        name = run_name(started)
    finally:
        assert stop_serve_process(served.process) == 0
    assert not served.state_file.exists()  # the runtime is gone

    folder = tmp_path / ".local-runs" / name
    execution = json.loads((folder / "execution.json").read_text())
    assert execution["status"] == "SUCCEEDED"
    outcomes = json.loads((folder / "outcomes.json").read_text())
    assert [c["outcome"] for c in outcomes["connections"]] == ["succeeded", "succeeded"]
    assert json.loads((folder / "dbt" / "summary.json").read_text())["exit_code"] == 0
    assert (folder / "dbt" / "run_results.json").exists()
    log = (folder / "logs" / "run.log").read_text().splitlines()
    assert {line.split()[1] for line in log} == {"lambda", "webhook", "dbt"}
    assert [datetime.fromisoformat(line.split()[0]) for line in log] == sorted(
        datetime.fromisoformat(line.split()[0]) for line in log
    )
