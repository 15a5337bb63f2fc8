"""``start-run``, ``runs`` and ``show`` against the local runtime, and the timeline in a real browser.

One runtime plays ``scenarios/ops.yaml``: three connections succeed and ``zendesk_support``
fails. A run of the three succeeds (dbt runs); a run of the whole group fails under the
default policy (dbt does not). Both runs are started once per module by ``start-run --wait``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import boto3
import pytest
from click.testing import Result

from contracts.state_file import STATE_FILE_ENV
from tests.ops.browser import ensure_chromium, load, screenshot
from tests.ops.support import ROOT, Elements, Served, assert_readable_error, invoke

BROWSER_TIMEOUT_S = 1200  # the first browser test may install chromium with apt-get
THREE = ["--connector", "stripe_prod", "--connector", "hubspot_crm", "--connector", "postgres_app"]


def run_cli(served: Served, *args: str) -> Result:
    return invoke(list(args), env={STATE_FILE_ENV: str(served.state_file)})


def started_arn(result: Result) -> str:
    found = re.search(r"^started (arn:aws:states:\S+)$", result.output, re.MULTILINE)
    assert found, result.output
    return found.group(1)


def stepfunctions(served: Served):
    return boto3.client(
        "stepfunctions",
        endpoint_url=served.state.aws_endpoint_url,
        region_name=served.state.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture(scope="module")
def succeeded(served: Served) -> Result:
    return run_cli(served, "start-run", "--local", *THREE, "--wait")


@pytest.fixture(scope="module")
def failed(served: Served) -> Result:
    return run_cli(served, "start-run", "--local", "--group", "ops_group", "--wait")


@pytest.fixture(scope="module")
def html_page(served: Served, succeeded: Result, tmp_path_factory: pytest.TempPathFactory) -> Path:
    page = tmp_path_factory.mktemp("html") / "run.html"
    result = run_cli(served, "show", started_arn(succeeded), "--local", "--html", str(page))
    assert result.exit_code == 0, result.output
    return page


def test_start_run_wait_follows_a_run_that_succeeds_and_exits_zero(succeeded: Result) -> None:
    output = succeeded.output

    assert succeeded.exit_code == 0, output
    assert "listed 3 connection(s) to sync" in output
    for connector_id in ("stripe_prod", "hubspot_crm", "postgres_app"):
        assert re.search(rf"✓ {connector_id}\s+succeeded\s+[0-9.]+ s\s+sync \S+", output), output
    assert output.index("succeeded") < output.index("dbt build started") < output.index("✓ dbt build exit 0")
    assert re.search(r"^run \S+ SUCCEEDED in [0-9.]+ s$", output, re.MULTILINE)
    assert "re-run:" not in output


def test_doctor_lists_the_dbt_sources_the_latest_runs_connections_do_not_feed(
    served: Served, succeeded: Result
) -> None:
    result = run_cli(served, "doctor", "--local")

    run = started_arn(succeeded).rsplit(":", 1)[1]
    assert result.exit_code == 0, result.output  # warnings never fail the doctor
    for source in ("salesforce", "zendesk"):  # the run of three connections lists only those three
        assert (
            f"✔ dbt sources: warning: dbt source {source} matches no connection of the run by schema or "
            f"meta.fivetran_connection (run {run})"
        ) in result.output.splitlines()
    assert "dbt source stripe" not in result.output and "has no dbt source" not in result.output


def test_start_run_wait_exits_3_when_a_sync_fails_under_the_fail_policy(failed: Result) -> None:
    output = failed.output

    assert failed.exit_code == 3, output
    assert failed.exception is None or isinstance(failed.exception, SystemExit)
    assert re.search(r"✗ zendesk_support\s+failed .*Zendesk API returned 403 \(token revoked\)", output)
    assert "dbt build started" not in output and "dbt: did not run" in output
    assert "Orchestrator.SyncsFailed: 1 connection sync(s) did not succeed" in output
    assert "re-run: orchestrator start-run --local --connector zendesk_support --wait" in output


def test_start_run_without_wait_prints_only_the_execution_arn(served: Served) -> None:
    result = run_cli(served, "start-run", "--local", "--connector", "zendesk_support")

    arn = result.stdout.strip()
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"arn:aws:states:us-east-1:\d+:execution:fivetran-orchestrator-local:[\w-]+", arn)
    assert f"follow it: orchestrator show {arn.rsplit(':', 1)[1]} --local" in result.stderr
    sfn = stepfunctions(served)
    deadline = time.monotonic() + 30
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sfn.describe_execution(executionArn=arn)["status"] == "FAILED"


def test_an_invalid_run_input_exits_2_and_starts_nothing(served: Served) -> None:
    sfn = stepfunctions(served)
    before = len(sfn.list_executions(stateMachineArn=served.state.state_machine_arn)["executions"])

    result = run_cli(served, "start-run", "--local", "--group", "ops_group", "--sync-timeout", "1", "--wait")

    message = assert_readable_error(result, code=2)
    assert "'sync_timeout_seconds' must be" in message and "nothing was started" in message
    assert len(sfn.list_executions(stateMachineArn=served.state.state_machine_arn)["executions"]) == before


def table_rows(output: str) -> dict[str, list[str]]:
    """The rows of a rich table, by their first cell."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if len(cells) > 2 and cells[0]:
            rows[cells[0]] = cells
    return rows


def test_runs_lists_recent_runs_with_status_duration_and_counts(
    served: Served, succeeded: Result, failed: Result
) -> None:
    result = run_cli(served, "runs", "--local")

    assert result.exit_code == 0, result.output
    rows = table_rows(result.output)
    ok_row = rows[started_arn(succeeded).rsplit(":", 1)[1]]
    failed_row = rows[started_arn(failed).rsplit(":", 1)[1]]
    # run, status, started, took, ok, failed, skipped, dbt
    assert ok_row[1] == "SUCCEEDED" and ok_row[4:7] == ["3", "0", "0"] and ok_row[7].startswith("exit 0 · ")
    assert failed_row[1] == "FAILED" and failed_row[4:7] == ["3", "1", "0"] and failed_row[7] == "not_run"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", ok_row[2]) and ok_row[3].endswith(" s")


def test_runs_limit_shows_only_the_newest_runs(served: Served, succeeded: Result, failed: Result) -> None:
    result = run_cli(served, "runs", "--local", "--limit", "1")

    assert result.exit_code == 0, result.output
    names = [name for name in table_rows(result.output) if re.fullmatch(r"[0-9a-f-]{36}", name)]
    assert len(names) == 1


def test_show_reports_each_connection_its_sync_id_dbt_and_the_cause(served: Served, failed: Result) -> None:
    name = started_arn(failed).rsplit(":", 1)[1]

    result = run_cli(served, "show", name[:8], "--local")

    assert result.exit_code == 0, result.output
    assert f"run {name}  FAILED" in result.output
    rows = table_rows(result.output)
    assert {c: rows[c][1] for c in ("stripe_prod", "hubspot_crm", "postgres_app", "zendesk_support")} == {
        "stripe_prod": "succeeded",
        "hubspot_crm": "succeeded",
        "postgres_app": "succeeded",
        "zendesk_support": "failed",
    }
    assert all(re.fullmatch(r"[0-9a-f-]{36}", rows[c][2]) for c in rows if c != "connection")
    assert "Zendesk API returned 403" in result.output
    assert "dbt: did not run" in result.output
    assert "Orchestrator.SyncsFailed: 1 connection sync(s) did not succeed" in result.output


def test_show_accepts_an_execution_arn_and_reports_dbt(served: Served, succeeded: Result) -> None:
    result = run_cli(served, "show", started_arn(succeeded), "--local")

    assert result.exit_code == 0, result.output
    assert "SUCCEEDED" in result.output and "connections: 3 ok, 0 failed, 0 skipped" in result.output
    assert re.search(r"dbt: dbt build exit 0 in [0-9.]+ s", result.output)


def test_show_names_a_run_that_does_not_exist(served: Served) -> None:
    message = assert_readable_error(run_cli(served, "show", "no-such-run", "--local"))

    assert message == "no run named 'no-such-run' on the local runtime (see `orchestrator runs --local`)"


def test_show_html_writes_a_timeline_with_one_bar_per_connection_then_dbt(
    served: Served, succeeded: Result, tmp_path: Path
) -> None:
    page = tmp_path / "timeline.html"

    result = run_cli(served, "show", started_arn(succeeded), "--local", "--html", str(page))

    assert result.exit_code == 0, result.output
    assert f"timeline written to {page} (3 connection sync bar(s), then dbt)" in result.output
    elements = Elements(page.read_text(encoding="utf-8"))
    bars = elements.with_class("bar", "sync")
    assert sorted(bar["data-tip"].split(" · ")[0] for bar in bars) == [
        "hubspot_crm",
        "postgres_app",
        "stripe_prod",
    ]
    assert all(bar["data-tip"].split(" · ")[1] == "succeeded" for bar in bars)
    assert len(elements.with_class("bar", "dbt", "succeeded")) == 1


@pytest.mark.timeout(BROWSER_TIMEOUT_S)
def test_the_timeline_loads_in_headless_chromium_without_console_errors_and_shows_a_bar_per_connection(
    html_page: Path,
) -> None:
    chromium = ensure_chromium()

    loaded = load(chromium, html_page)

    elements = Elements(loaded.dom)
    root = dict(elements.tags)["html"]
    assert loaded.console == []
    assert root["data-bars"] == "3"  # set by the page's script once it ran
    assert "data-js-error" not in root
    assert len(elements.with_class("bar", "sync")) == 3
    png = screenshot(chromium, html_page, html_page.with_suffix(".png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


@pytest.mark.timeout(BROWSER_TIMEOUT_S)
def test_the_browser_check_catches_a_page_whose_script_fails(tmp_path: Path) -> None:
    chromium = ensure_chromium()
    page = tmp_path / "broken.html"
    page.write_text("<!doctype html><html><body><script>notDefined();</script></body></html>")

    loaded = load(chromium, page)

    assert any("notDefined is not defined" in line for line in loaded.console)


def test_a_run_uses_the_history_events_and_payload_the_documented_limits_assume(
    served: Served, succeeded: Result
) -> None:
    events = stepfunctions(served).get_execution_history(executionArn=started_arn(succeeded), maxResults=1000)
    payloads = [
        len(str(details.get(key, "")).encode())
        for event in events["events"]
        for details in event.values()
        if isinstance(details, dict)
        for key in ("input", "output")
    ]
    design = " ".join((ROOT / "docs" / "design.md").read_text(encoding="utf-8").split())

    # The syncs run in child executions: the run's own history and state do not grow per connection.
    # 57 events on a run whose syncs and dbt succeed (the transform lease and the build summary included).
    assert len(events["events"]) <= 65
    assert max(payloads) <= 20 * 1024
    assert "a run's own history holds about 60 events whatever the number of connections" in design
    assert "The run's own state is bounded whatever happens" in design
