"""Distributed Map runs: each sync in a child execution, the outcomes in ``CollectOutcomes`` and
``outcomes.json``, the map run's counts while it runs. Read, printed, followed and drawn."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from rich.console import Console

from chalicelib.fivetran.client import FivetranClient
from ops.display import rerun_command, run_report, runs_table
from ops.follow import follow
from ops.runs import read_run, recent_runs, run_view
from ops.runview import build_run_view
from ops.target import Target
from ops.timeline import bar_summary, render_timeline
from tests.ops.browser import ensure_chromium, load
from tests.ops.histories import (
    ARN,
    BUCKET,
    MAP_RUN_ARN,
    OUTCOMES_KEY,
    DistributedRunHistory,
    collect_output,
    distributed_run,
    many_connectors,
    map_run,
    outcomes_file,
)
from tests.ops.support import Elements

ZENDESK_CAUSE = (
    "Fivetran sync of connection zendesk_support ended with status FAILURE "
    "(sync 5903f499-9967-4246-bb84-1c1953e55a7b, reported by webhook): Zendesk API returned 403"
)
TEN = [
    "stripe_prod",
    "hubspot_crm",
    "zendesk_support",
    "salesforce_main",
    "postgres_app",
    "shopify_store",
    "netsuite_erp",
    "jira_cloud",
    "github_org",
    "sheets_budget",
]


@pytest.fixture(scope="module")
def ten() -> dict[str, Any]:
    return outcomes_file(
        TEN,
        failed={"zendesk_support": ZENDESK_CAUSE},
        timed_out=("netsuite_erp",),
        skipped=(("marketo_leads", "paused"),),
    )


@pytest.fixture(scope="module")
def ten_thousand() -> dict[str, Any]:
    connectors = many_connectors(10_000)
    return outcomes_file(
        connectors,
        failed={connectors[17]: "x" * 1500 + " end of a long cause", connectors[5000]: ZENDESK_CAUSE},
        timed_out=(connectors[9999],),
        skipped=tuple((f"paused{i:04d}_x", "paused") for i in range(150)),
    )


def printed(renderable: Any) -> str:
    console = Console(file=io.StringIO(), width=200, highlight=False)
    console.print(renderable, soft_wrap=True)
    return console.file.getvalue()  # type: ignore[attr-defined]


# -- the view ----------------------------------------------------------------------------------


def test_a_ten_connection_run_is_read_from_its_outcomes_file(ten: dict[str, Any]) -> None:
    view = build_run_view(*distributed_run(ten), outcomes=ten)

    assert view.distributed and view.complete
    assert [s.connector_id for s in view.syncs] == TEN
    zendesk = view.sync("zendesk_support")
    assert zendesk is not None
    assert (zendesk.outcome, zendesk.error, zendesk.cause) == ("failed", "Fivetran.SyncFailed", ZENDESK_CAUSE)
    assert zendesk.sync_id == "5903f499-9967-4246-bb84-1c1953e55a7b"  # named by the cause
    stripe = view.sync("stripe_prod")
    assert stripe is not None
    assert (stripe.outcome, stripe.sync_id, stripe.duration_s) == ("succeeded", "sync-00000", 1.0)
    assert (view.ok, view.failed, view.skipped_total) == (8, 2, 1)
    assert view.failed_connectors == ["zendesk_support", "netsuite_erp"]
    assert view.outcomes_uri == f"s3://{BUCKET}/{OUTCOMES_KEY}"
    assert view.map_run_arn == MAP_RUN_ARN and view.map_run_status == "SUCCEEDED"
    assert view.dbt.excluded_sources == ["netsuite", "zendesk"]  # RunDbt's excluded_sources
    assert view.to_sync == 10


def test_without_the_outcomes_file_ten_connections_come_whole_from_collect_outcomes(
    ten: dict[str, Any],
) -> None:
    view = build_run_view(*distributed_run(ten))

    assert view.complete  # 10 outcomes: the bounded list is the whole list
    assert [s.connector_id for s in view.syncs[:2]] == ["zendesk_support", "netsuite_erp"]  # not-ok first
    assert sorted(s.connector_id for s in view.syncs) == sorted(TEN)
    assert (view.ok, view.failed) == (8, 2)


def test_ten_thousand_connections_from_the_bounded_list_count_by_the_counts(
    ten_thousand: dict[str, Any],
) -> None:
    described, events = distributed_run(ten_thousand, dbt=False)

    view = build_run_view(described, events)

    assert not view.complete and len(view.syncs) == 100
    assert (view.ok, view.failed, view.skipped_total, len(view.skipped)) == (9_997, 3, 150, 100)
    assert view.counts is not None and (view.counts.failed, view.counts.timed_out) == (2, 1)
    assert [s.outcome for s in view.syncs[:3]] == ["failed", "failed", "timed_out"]
    assert len(view.syncs[0].cause or "") == 1000  # cut by CollectOutcomes
    assert view.error == "Orchestrator.SyncsFailed" and "(full list: s3://" in (view.cause or "")
    assert rerun_command(view, "--stage dev") == (
        "orchestrator start-run --stage dev --connector conn00017_prod --connector conn05000_prod "
        "--connector conn09999_prod --on-sync-failure continue --wait"
    )


def test_more_failures_than_collect_outcomes_lists_re_run_the_group_unless_the_file_names_them() -> None:
    connectors = many_connectors(1_000)
    outcomes = outcomes_file(connectors, failed={c: "boom" for c in connectors[:150]})
    described, events = distributed_run(outcomes, dbt=False)

    bounded = build_run_view(described, events)
    whole = build_run_view(described, events, outcomes=outcomes)

    assert (len(bounded.failed_connectors), bounded.failed) == (100, 150)
    assert rerun_command(bounded, "--stage dev") == (
        "orchestrator start-run --stage dev --group projected_sickle --on-sync-failure continue --wait"
    )
    assert (rerun_command(whole, "--stage dev") or "").count("--connector ") == 150
    report = printed(run_report(bounded, "--stage dev"))
    assert f"  … and 50 more did not succeed (full list: s3://{BUCKET}/{OUTCOMES_KEY})" in report
    assert "  … and 850 more succeeded (not listed here; full list: s3://" in report


def test_ten_thousand_connections_from_the_outcomes_file(ten_thousand: dict[str, Any]) -> None:
    view = build_run_view(*distributed_run(ten_thousand), outcomes=ten_thousand)

    assert view.complete and len(view.syncs) == 10_000 and len(view.skipped) == 150
    assert (view.ok, view.failed) == (9_997, 3)
    assert len(view.sync("conn00017_prod").cause or "") > 1500  # type: ignore[union-attr]
    assert all(s.started and s.ended for s in view.syncs)


def test_in_flight_the_view_knows_only_the_map_run_counts() -> None:
    history = DistributedRunHistory().listed_items(100).map_started()

    view = build_run_view(history.described("RUNNING"), history.events, map_run=map_run(35, 2, 63))

    assert view.distributed and view.syncs == [] and view.counts is None
    assert view.progress is not None and (view.progress.done, view.progress.total) == (37, 100)
    assert (view.ok, view.failed, view.to_sync) == (35, 2, 100)
    report = printed(run_report(view, "--stage dev"))
    assert "connections: 35 ok, 2 failed, 0 skipped" in report
    assert "syncing: 37/100 done (35 succeeded, 2 failed), 63 running" in report
    assert "re-run" not in report and "no connection was synced" not in report


def test_a_run_whose_map_run_failed_before_collecting_shows_the_map_run_counts() -> None:
    history = DistributedRunHistory().listed_items(10).map_started().map_ended(5.0, failed=True)
    described = history.described("FAILED", 6.0, "States.ExceedToleratedFailureThreshold", "too many")

    view = build_run_view(described, history.events, map_run=map_run(3, 7, 0, status="FAILED"))

    assert (view.map_run_status, view.ok, view.failed) == ("FAILED", 3, 7)
    report = printed(run_report(view, "--stage dev"))
    assert "syncing: 10/10 done (3 succeeded, 7 failed), 0 running" in report
    assert "--group projected_sickle" in report  # no names known: re-run the group


def test_run_dbt_input_with_failed_schemas_or_excluded_sources_alike() -> None:
    for key in ("failed_schemas", "excluded_sources"):
        history = DistributedRunHistory().listed_items(1).map_started().map_ended(1.0)
        history.dbt(2.0, 3.0, excluded=("zendesk", "sheets.budget"), excluded_key=key)
        view = build_run_view(history.described("SUCCEEDED", 3.5), history.events)
        assert view.dbt.excluded_sources == ["zendesk", "sheets.budget"], key


# -- show ----------------------------------------------------------------------------------------


def connection_rows(report: str) -> list[str]:
    return [line for line in report.splitlines() if re.match(r"│ \S", line)]


def test_show_prints_ten_connections_as_before(ten: dict[str, Any]) -> None:
    view = build_run_view(*distributed_run(ten), outcomes=ten)

    report = printed(run_report(view, "--stage dev"))

    rows = connection_rows(report)
    assert [row.split("│")[1].strip() for row in rows] == [*TEN, "marketo_leads"]
    assert "connections: 8 ok, 2 failed, 1 skipped" in report
    assert "more succeeded" not in report
    assert "dbt: dbt build exit 0 in 7.0 s (excluded source:netsuite+, source:zendesk+)" in report


def test_show_prints_every_failure_of_ten_thousand_and_counts_the_succeeded_rest(
    ten_thousand: dict[str, Any],
) -> None:
    view = build_run_view(*distributed_run(ten_thousand), outcomes=ten_thousand)

    report = printed(run_report(view, "--stage dev"))

    names = [row.split("│")[1].strip() for row in connection_rows(report)]
    outcomes = [row.split("│")[2].strip() for row in connection_rows(report)]
    assert outcomes.count("succeeded") == 50
    assert {"conn00017_prod", "conn05000_prod", "conn09999_prod"} <= set(names)
    assert outcomes.count("failed") == 2 and outcomes.count("timed_out") == 1
    assert outcomes.count("skipped") == 50
    assert f"  … and 9,947 more succeeded (see --all, --html or s3://{BUCKET}/{OUTCOMES_KEY})" in report
    assert "  … and 100 more skipped" in report
    assert "connections: 9997 ok, 3 failed, 150 skipped" in report


def test_show_all_prints_every_connection() -> None:
    connectors = many_connectors(300)
    outcomes = outcomes_file(connectors, failed={connectors[3]: "boom"})
    view = build_run_view(*distributed_run(outcomes), outcomes=outcomes)

    report = printed(run_report(view, "--stage dev", show_all=True))

    assert len(connection_rows(report)) == 300 and "more succeeded" not in report


def test_show_all_prints_ten_thousand_connections_as_lines(ten_thousand: dict[str, Any]) -> None:
    view = build_run_view(*distributed_run(ten_thousand), outcomes=ten_thousand)

    report = printed(run_report(view, "--stage dev", show_all=True))

    assert len(re.findall(r"^  ✓ conn\d+_prod +succeeded", report, re.M)) == 9_997
    assert len(re.findall(r"^  [✗⏱] conn\d+_prod", report, re.M)) == 3
    assert len(re.findall(r"^  - paused\d+_x +skipped +paused$", report, re.M)) == 150
    assert "more succeeded" not in report and "more skipped" not in report


def test_without_the_outcomes_file_show_says_where_the_full_list_is(ten_thousand: dict[str, Any]) -> None:
    view = build_run_view(*distributed_run(ten_thousand))
    view.outcomes_problem = f"cannot read s3://{BUCKET}/{OUTCOMES_KEY}: AccessDenied"

    report = printed(run_report(view, "--stage dev"))

    assert f"… and 9,947 more succeeded (not listed here; full list: s3://{BUCKET}/{OUTCOMES_KEY})" in report
    assert "AccessDenied: the list above is CollectOutcomes' bounded one" in report


# -- fetching: one GET for outcomes.json, the map run while syncing ------------------------------


class FakeStepFunctions:
    """``describe_execution`` moves through ``stages`` (one per call); the rest answers for the stage."""

    class exceptions:
        ExecutionDoesNotExist = type("ExecutionDoesNotExist", (Exception,), {})

    def __init__(self, stages: list[tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]]):
        self.stages = stages
        self.stage = -1
        self.map_run_calls = 0

    def current(self) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]:
        return self.stages[max(0, self.stage)]

    def start_execution(self, **kwargs: Any) -> dict[str, Any]:
        return {"executionArn": ARN}

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        self.stage = min(self.stage + 1, len(self.stages) - 1)
        return self.current()[0]

    def get_execution_history(self, **kwargs: Any) -> dict[str, Any]:
        events = self.current()[1]
        return {"events": sorted(events, key=lambda e: e["id"], reverse=kwargs.get("reverseOrder", False))}

    def list_map_runs(self, executionArn: str) -> dict[str, Any]:
        return {"mapRuns": [{"mapRunArn": MAP_RUN_ARN}]}

    def describe_map_run(self, mapRunArn: str) -> dict[str, Any]:
        self.map_run_calls += 1
        found = self.current()[2]
        if found is None:
            raise ClientError({"Error": {"Code": "ResourceNotFound"}}, "DescribeMapRun")
        return found


class FakeS3:
    def __init__(self, objects: dict[tuple[str, str], bytes]) -> None:
        self.objects = objects
        self.gets: list[tuple[str, str]] = []

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        self.gets.append((Bucket, Key))
        if (Bucket, Key) not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey"}}, "GetObject")
        return {"Body": io.BytesIO(self.objects[(Bucket, Key)])}


class FakeTarget(Target):
    label = "a fake stage"
    flag = "--stage fake"
    poll_seconds = 0.0

    def __init__(self, sfn: FakeStepFunctions, s3: FakeS3) -> None:
        self.sfn, self.bucket = sfn, s3

    def stepfunctions(self) -> Any:
        return self.sfn

    def s3(self) -> Any:
        return self.bucket

    @property
    def state_machine_arn(self) -> str:
        return ARN.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0]

    def webhook_url(self) -> str:
        return "http://fake/webhooks/fivetran"

    def webhook_secret(self) -> str:
        return "fake"

    def fivetran_url(self) -> str:
        return "http://fake"

    def fivetran(self) -> FivetranClient:
        raise AssertionError("not needed")


def staged_run(outcomes: dict[str, Any]) -> list[tuple[dict[str, Any], list[dict[str, Any]], Any]]:
    """A distributed run seen at six polls: listed, syncing (the same counts twice), collected, dbt, done."""
    total = outcomes["counts"]["total"]
    collected = collect_output(outcomes)
    history = DistributedRunHistory({"group_id": "projected_sickle", "on_sync_failure": "continue"})
    history.listed_items(total, skipped=(("marketo_leads", "paused"),))
    stages: list[tuple[dict[str, Any], list[dict[str, Any]], Any]] = []

    def stage(
        map_counts: dict[str, Any] | None, status: str = "RUNNING", stopped: float | None = None
    ) -> None:
        stages.append((history.described(status, stopped), list(history.events), map_counts))

    stage(None)
    history.map_started()
    stage(map_run(0, 0, 4, pending=total - 4))
    stage(map_run(3, 1, 4, pending=total - 8))
    stage(map_run(3, 1, 4, pending=total - 8))  # nothing changed: no new line
    history.map_ended(70.0).collected(70.5, collected)
    history.dbt(71.0, None, excluded_key="excluded_sources")
    stage(None)
    history.events.append(
        {
            "timestamp": history.at(78.0),
            "type": "TaskStateExited",
            "id": len(history.events) + 1,
            "stateExitedEventDetails": {"name": "RunDbt", "output": json.dumps({"dbt": {"exit_code": 0}})},
        }
    )
    stage(None, "SUCCEEDED", 80.0)
    return stages


def test_follow_prints_progress_when_it_changes_then_the_outcomes_then_dbt(ten: dict[str, Any]) -> None:
    sfn = FakeStepFunctions(staged_run(ten))
    s3 = FakeS3({(BUCKET, OUTCOMES_KEY): json.dumps(ten).encode()})
    console = Console(file=io.StringIO(), width=160, highlight=False)

    view = follow(FakeTarget(sfn, s3), ARN, console, poll_seconds=0, sleep=lambda _: None)

    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert lines[:3] == [
        "  listed 10 connection(s) to sync; skipped marketo_leads (paused)",
        "  syncing: 0/10 done (0 succeeded, 0 failed), 4 running, 6 pending",
        "  syncing: 4/10 done (3 succeeded, 1 failed), 4 running, 2 pending",
    ]
    outcome_lines = lines[3:13]
    assert [line.split()[1] for line in outcome_lines] == TEN
    assert outcome_lines[0].startswith("  ✓ stripe_prod              succeeded      1.0 s  sync sync-00000")
    assert outcome_lines[2].startswith("  ✗ zendesk_support          failed         3.0 s  sync 5903f499")
    assert lines[13:] == [
        "  … dbt build started",
        "  ✓ dbt build exit 0 in 7.0 s",
        "run run-1 SUCCEEDED in 1 min 20 s",
    ]
    assert s3.gets == [(BUCKET, OUTCOMES_KEY)]  # one GET, however many polls
    assert sfn.map_run_calls == 3  # only while syncing
    assert view.complete and (view.ok, view.failed) == (8, 2)


def test_follow_counts_the_succeeded_rest_of_ten_thousand(ten_thousand: dict[str, Any]) -> None:
    sfn = FakeStepFunctions(staged_run(ten_thousand))
    s3 = FakeS3({(BUCKET, OUTCOMES_KEY): json.dumps(ten_thousand).encode()})
    console = Console(file=io.StringIO(), width=160, highlight=False)

    follow(FakeTarget(sfn, s3), ARN, console, poll_seconds=0, sleep=lambda _: None)

    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert len(re.findall(r"^  ✓ conn\d+_prod", output, re.M)) == 50
    assert len(re.findall(r"^  [✗⏱] conn\d+_prod", output, re.M)) == 3
    assert (
        "  … and 9,947 more succeeded (see orchestrator show run-1 --all or "
        f"s3://{BUCKET}/{OUTCOMES_KEY})" in output
    )


def test_run_view_reads_the_outcomes_file_once_and_no_map_run_after_collecting(
    ten_thousand: dict[str, Any],
) -> None:
    described, events = distributed_run(ten_thousand)
    sfn = FakeStepFunctions([(described, events, map_run(1, 1, 1))])
    s3 = FakeS3({(BUCKET, OUTCOMES_KEY): json.dumps(ten_thousand).encode()})

    view = run_view(FakeTarget(sfn, s3), ARN)

    assert s3.gets == [(BUCKET, OUTCOMES_KEY)] and sfn.map_run_calls == 0
    assert view.complete and len(view.syncs) == 10_000 and view.progress is None


def test_an_unreadable_outcomes_file_leaves_the_bounded_list_and_says_why(
    ten_thousand: dict[str, Any],
) -> None:
    described, events = distributed_run(ten_thousand)
    target = FakeTarget(FakeStepFunctions([(described, events, None)]), FakeS3({}))

    view = read_run(target, described, events)

    assert len(view.syncs) == 100 and view.ok == 9_997
    assert view.outcomes_problem == f"cannot read s3://{BUCKET}/{OUTCOMES_KEY}: NoSuchKey"


def test_the_runs_table_counts_a_distributed_run_without_reading_its_outcomes_file(
    ten_thousand: dict[str, Any],
) -> None:
    described, events = distributed_run(ten_thousand)
    sfn = FakeStepFunctions([(described, events, None)])
    listed = {"executionArn": ARN, "name": "run-1", "startDate": described["startDate"]}
    sfn.list_executions = lambda **_: {"executions": [listed]}  # type: ignore[attr-defined]
    s3 = FakeS3({(BUCKET, OUTCOMES_KEY): json.dumps(ten_thousand).encode()})

    (view,) = recent_runs(FakeTarget(sfn, s3), 5)

    assert s3.gets == [] and (view.ok, view.failed, view.skipped_total) == (9_997, 3, 150)
    row = next(line for line in printed(runs_table([view], "a fake stage")).splitlines() if "run-1" in line)
    assert [cell.strip() for cell in row.split("│")[5:9]] == ["9997", "3", "150", "exit 0 · 7.0 s"]


# -- the timeline page ---------------------------------------------------------------------------


def test_the_page_of_ten_connections_has_a_bar_each(ten: dict[str, Any]) -> None:
    view = build_run_view(*distributed_run(ten), outcomes=ten)

    elements = Elements(render_timeline(view))

    assert [bar["data-tip"].split(" · ")[0] for bar in elements.with_class("bar", "sync")] == TEN
    assert not elements.with_class("row", "group")
    assert bar_summary(view) == "10 connection sync bar(s), then dbt"


def test_the_page_of_ten_thousand_groups_the_succeeded_and_keeps_every_failure(
    ten_thousand: dict[str, Any],
) -> None:
    view = build_run_view(*distributed_run(ten_thousand), outcomes=ten_thousand)

    page = render_timeline(view)

    elements = Elements(page)
    bars = elements.with_class("bar", "sync")
    assert sorted(bar["data-tip"].split(" · ")[:2] for bar in bars) == [
        ["conn00017_prod", "failed"],
        ["conn05000_prod", "failed"],
        ["conn09999_prod", "timed_out"],
    ]
    assert "end of a long cause" in page and "Zendesk API returned 403" in page  # full causes
    (group,) = elements.with_class("row", "group")
    assert group["data-succeeded"] == "9997"
    assert sum(int(b["data-count"]) for b in elements.with_class("hbin")) == 9_997
    assert page.count("<details") == 1 and "9,997 succeeded connection(s)" in page
    assert page.count("<td>sync-") == 9_997  # each succeeded connection, folded away
    assert len(elements.with_class("row", "skipped")) == 150
    assert len(page.encode()) < 2_000_000
    assert bar_summary(view) == "3 connection sync bar(s), 9,997 succeeded in one histogram row, then dbt"


@pytest.mark.timeout(1200)  # the first browser test may install chromium with apt-get
def test_the_page_of_ten_thousand_loads_in_headless_chromium_without_errors(
    ten_thousand: dict[str, Any], tmp_path: Path
) -> None:
    chromium = ensure_chromium()
    page = tmp_path / "run.html"
    page.write_text(render_timeline(build_run_view(*distributed_run(ten_thousand), outcomes=ten_thousand)))

    loaded = load(chromium, page)

    root = dict(Elements(loaded.dom).tags)["html"]
    assert loaded.console == []
    assert root["data-bars"] == "3" and "data-js-error" not in root


def test_the_page_without_the_outcomes_file_counts_what_it_cannot_list(ten_thousand: dict[str, Any]) -> None:
    view = build_run_view(*distributed_run(ten_thousand))

    elements = Elements(render_timeline(view))

    assert len(elements.with_class("bar", "sync")) == 100  # the bounded list, each with its bar
    (summary,) = elements.with_class("row", "summary")
    assert summary["data-missing"] == "9900"


def test_the_page_of_a_run_still_syncing_shows_its_progress() -> None:
    history = DistributedRunHistory().listed_items(100).map_started()
    view = build_run_view(history.described("RUNNING"), history.events, map_run=map_run(35, 2, 63))

    page = render_timeline(view, now=history.at(30.0))

    assert len(Elements(page).with_class("row", "progress")) == 1
    assert "syncing: 37/100 done (35 succeeded, 2 failed), 63 running" in page
