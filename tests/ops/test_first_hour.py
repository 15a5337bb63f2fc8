"""What a new operator meets in the first hour: --version, refusals that name the fix, and hints.

No runtime needed: histories are built by hand, the local runtime is played by a state file.
"""

from __future__ import annotations

import json
import os
import re
from importlib.metadata import version
from pathlib import Path

import pytest
from rich.console import Console

from contracts.state_file import LocalState, write_state
from ops.display import SAFETY_NET_HINT, rerun_command, run_report, sync_line
from ops.runview import build_run_view
from ops.timeline import render_timeline
from tests.ops.histories import RunHistory
from tests.ops.support import assert_readable_error, invoke

ZENDESK_CAUSE = "Fivetran sync of connection zendesk_support ended with status FAILURE: token revoked"


def text(renderable: object) -> str:
    console = Console(record=True, width=200, color_system=None)
    console.print(renderable)
    return console.export_text()


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    """A local runtime simulating group ``demo_group``, alive as far as the CLI can tell (this pid)."""
    path = tmp_path / "state.json"
    write_state(
        path,
        LocalState(
            aws_endpoint_url="http://127.0.0.1:9",
            region="us-east-1",
            state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:fivetran-orchestrator-local",
            token_table="t",
            fivetran_api_url="http://127.0.0.1:9",
            fivetran_api_key="k",
            fivetran_api_secret="s",
            webhook_url="http://127.0.0.1:9/webhooks/fivetran",
            webhook_secret="w",
            group_id="demo_group",
            pid=os.getpid(),
        ),
    )
    return path


def test_version_prints_the_package_version() -> None:
    result = invoke(["--version"])

    assert result.exit_code == 0
    assert result.output == f"orchestrator, version {version('fivetran-orchestrator')}\n"


@pytest.mark.parametrize(
    "command",
    [
        ["register-webhook", "--group", "nope"],
        ["register-webhook", "--group", "nope", "--dry-run"],
        ["start-run", "--group", "nope", "--wait"],
    ],
)
def test_an_unknown_group_on_the_local_runtime_is_refused_before_anything_is_sent(
    state_file: Path, command: list[str]
) -> None:
    """Port 9 answers nothing: reaching the simulator or moto would be a different error."""
    message = assert_readable_error(invoke([*command, "--state-file", str(state_file)]))

    assert message == (
        "the local runtime has no group 'nope': it simulates group 'demo_group' (its scenario's group_id); "
        "use --group demo_group"
    )


def test_a_listing_fivetran_refused_gets_no_rerun_line_that_would_fail_the_same_way() -> None:
    lambda_error = json.dumps(
        {"errorType": "Fivetran.NotFound", "errorMessage": "No group with id 'nope'", "trace": []}
    )
    history = RunHistory({"group_id": "nope"})
    history.add("ExecutionStarted", 0, "executionStartedEventDetails", input=json.dumps({"group_id": "nope"}))
    view = build_run_view(
        history.described("FAILED", 1.0, "Orchestrator.ListingFailed", lambda_error), history.events
    )

    report = text(run_report(view, "--local"))

    assert rerun_command(view, "--local") is None
    assert not [line for line in report.splitlines() if line.startswith("re-run:")]
    assert report.splitlines()[-1] == (
        "fix the group id or the API key's access, then start the run again (as is, it fails)"
    )


def test_a_listing_that_failed_for_another_reason_can_be_rerun() -> None:
    lambda_error = json.dumps({"errorType": "Fivetran.ApiError", "errorMessage": "502 from Fivetran"})
    history = RunHistory({"group_id": "g"})
    history.add("ExecutionStarted", 0, "executionStartedEventDetails", input=json.dumps({"group_id": "g"}))
    view = build_run_view(
        history.described("FAILED", 1.0, "Orchestrator.ListingFailed", lambda_error), history.events
    )

    assert rerun_command(view, "--local") == "orchestrator start-run --local --group g --wait"


def safety_net_run() -> RunHistory:
    return (
        RunHistory({"group_id": "g"})
        .listed(["stripe_prod", "hubspot_crm"])
        .iteration_started(0, 0.5)
        .iteration_started(1, 0.5)
        .recorded(0, 2.0, sync_id="sync-a", status="SUCCESSFUL")
        .recorded(1, 6.0, status="SUCCESSFUL")  # the safety net knows no sync id
        .dbt(7.0, 9.0)
    )


def test_a_success_without_sync_id_says_the_safety_net_resolved_it() -> None:
    history = safety_net_run()
    view = build_run_view(history.described("SUCCEEDED", 10.0), history.events)
    stripe, hubspot = view.syncs

    report = text(run_report(view, "--local"))

    assert SAFETY_NET_HINT in text(sync_line(hubspot))
    assert SAFETY_NET_HINT not in text(sync_line(stripe))
    (row,) = [line for line in report.splitlines() if "hubspot_crm" in line]
    assert "—" in row and "no sync id: resolved by the safety net (reconcile_syncs)" in row
    assert report.count("no sync id") == 1


def test_the_page_shows_the_rerun_command_and_names_dbt_when_it_did_not_run() -> None:
    history = (
        RunHistory({"group_id": "g", "on_sync_failure": "fail"})
        .listed(["stripe_prod", "zendesk_support"])
        .iteration_started(0, 0.5)
        .iteration_started(1, 0.5)
        .recorded(0, 2.0, sync_id="sync-a")
        .recorded(1, 3.0, outcome="failed", error="Fivetran.SyncFailed", cause=ZENDESK_CAUSE)
    )
    view = build_run_view(history.described("FAILED", 4.0, "Orchestrator.SyncsFailed", "x"), history.events)
    rerun = rerun_command(view, "--stage dev")

    page = render_timeline(view, rerun=rerun)

    assert rerun == (
        "orchestrator start-run --stage dev --connector zendesk_support --on-sync-failure fail --wait"
    )
    assert f'<p class="rerun">re-run: <code>{rerun}</code></p>' in page
    meta = re.search(r'<p class="meta">started (.*?)</p>', page, re.DOTALL).group(1)
    assert meta.rstrip().endswith("· dbt did not run")


def test_grid_lines_stop_above_the_axis_caption() -> None:
    history = safety_net_run()
    page = render_timeline(build_run_view(history.described("SUCCEEDED", 10.0), history.events))

    chart = page[page.index('<div class="chart"') : page.index("</div>\n", page.index('class="row axis"'))]
    assert '<div class="grid"' in chart
    assert "time since the run started" not in chart
    assert page.index("time since the run started") > page.index('class="row axis"')
