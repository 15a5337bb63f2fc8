"""``ops.runview``: a run's per-connection view, read from its description and history."""

from __future__ import annotations

import json
from typing import Any

from ops.display import dbt_text, rerun_command
from ops.history import HistoryReader, readable_cause
from ops.runview import build_run_view
from tests.ops.histories import RunHistory, succeeded_run

FAILED_CAUSE = (
    "Fivetran sync of connection zendesk_support ended with status FAILURE "
    "(sync 5903f499-9967-4246-bb84-1c1953e55a7b, reported by webhook): Zendesk API returned 403"
)


def test_each_connection_gets_its_iteration_start_end_outcome_and_sync_id() -> None:
    view = build_run_view(*succeeded_run())

    assert [(s.connector_id, s.outcome, s.sync_id) for s in view.syncs] == [
        ("stripe_prod", "succeeded", "sync-a"),
        ("hubspot_crm", "succeeded", "sync-b"),
    ]
    assert [s.duration_s for s in view.syncs] == [2.0, 4.0]
    assert (view.ok, view.failed, [s.connector_id for s in view.skipped]) == (2, 0, ["zendesk_support"])
    assert view.skipped[0].reason == "paused"
    assert view.duration_s == 12.0


def test_dbt_timing_exit_code_and_excluded_sources_are_read_from_its_state() -> None:
    history = RunHistory().listed(["stripe_prod"]).iteration_started(0, 0.5).recorded(0, 1.0, sync_id="s")
    history.dbt(2.0, 9.0, exit_code=0, excluded=("zendesk",))

    dbt = build_run_view(history.described("SUCCEEDED", stopped=9.5), history.events).dbt

    assert (dbt.state, dbt.exit_code, dbt.duration_s, dbt.excluded_sources) == (
        "succeeded",
        0,
        7.0,
        ["zendesk"],
    )


def test_a_failed_sync_keeps_its_cause_and_the_sync_id_the_cause_names() -> None:
    history = RunHistory().listed(["stripe_prod", "zendesk_support"])
    history.iteration_started(0, 0.5).iteration_started(1, 0.5)
    history.recorded(0, 1.0, sync_id="s1").recorded(
        1, 1.5, outcome="failed", error="Fivetran.SyncFailed", cause=FAILED_CAUSE
    )
    described = history.described(
        "FAILED", 2.0, "Orchestrator.SyncsFailed", "1 connection sync(s) did not succeed: [{}]"
    )

    view = build_run_view(described, history.events)

    failed = view.sync("zendesk_support")
    assert failed is not None
    assert (failed.outcome, failed.error, failed.sync_id) == (
        "failed",
        "Fivetran.SyncFailed",
        "5903f499-9967-4246-bb84-1c1953e55a7b",
    )
    assert failed.cause == FAILED_CAUSE
    assert view.failed_connectors == ["zendesk_support"]
    assert view.dbt.state == "not_run"


def test_a_rescheduled_sync_shows_its_free_wait() -> None:
    history = RunHistory().listed(["hubspot_crm"]).iteration_started(0, 0.5).waited(0, 1.0, 3.0)
    history.recorded(0, 4.0, sync_id="s2")

    sync = build_run_view(history.described("RUNNING"), history.events).syncs[0]

    assert [(w.start, w.end, w.kind) for w in sync.waits] == [
        (history.at(1.0), history.at(3.0), "rescheduled")
    ]
    assert sync.outcome == "succeeded"


def test_a_run_that_failed_before_listing_has_no_syncs_and_a_readable_cause() -> None:
    lambda_error = json.dumps(
        {"errorType": "Fivetran.AuthError", "errorMessage": "refused the key", "trace": []}
    )
    history = RunHistory()
    history.add("ExecutionStarted", 0, "executionStartedEventDetails", input="{}")

    view = build_run_view(
        history.described("FAILED", 1.0, "Orchestrator.ListingFailed", lambda_error), history.events
    )

    assert (view.listed, view.syncs, view.cause) == (False, [], "Fivetran.AuthError: refused the key")


def test_readable_cause_leaves_plain_text_alone() -> None:
    assert readable_cause("plain words") == "plain words"
    assert readable_cause(None) is None


def test_the_rerun_command_names_the_failed_connections_and_the_run_options() -> None:
    history = RunHistory({"group_id": "g", "on_sync_failure": "fail", "dbt": {"select": "tag:daily"}})
    history.listed(["stripe_prod", "zendesk_support"]).iteration_started(0, 0.1).iteration_started(1, 0.1)
    history.recorded(0, 1.0, sync_id="s").recorded(
        1, 1.0, outcome="timed_out", error="States.Timeout", cause="late"
    )
    view = build_run_view(history.described("FAILED", 2.0, "Orchestrator.SyncsFailed", "x"), history.events)

    assert rerun_command(view, "--stage dev") == (
        "orchestrator start-run --stage dev --connector zendesk_support --on-sync-failure fail "
        "--dbt-select tag:daily --wait"
    )
    assert rerun_command(build_run_view(*succeeded_run()), "--stage dev") is None


class PagedHistory:
    """``get_execution_history`` over a list, newest first when asked, in pages of two."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events
        self.calls = 0

    def get_execution_history(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        ordered = sorted(self.events, key=lambda e: e["id"], reverse=kwargs.get("reverseOrder", False))
        start = int(kwargs.get("nextToken") or 0)
        page: dict[str, Any] = {"events": ordered[start : start + 2]}
        if start + 2 < len(ordered):
            page["nextToken"] = str(start + 2)
        return page


def test_the_history_reader_fetches_only_events_it_has_not_seen() -> None:
    events = succeeded_run()[1]
    source = PagedHistory(events[:5])
    reader = HistoryReader(source, "arn")

    first = reader.refresh()
    source.events = events
    source.calls = 0
    second = reader.refresh()

    assert [e["id"] for e in first] == [1, 2, 3, 4, 5]
    assert [e["id"] for e in second] == [e["id"] for e in events[5:]]
    assert reader.events == events
    assert source.calls == (len(events) - 5) // 2 + 1


HOLDER = "arn:aws:states:us-east-1:123456789012:execution:fivetran-orchestrator-dev:scheduled-0600"


def _lease(history: RunHistory, seconds: float, *, held: bool, waited_s: int) -> None:
    answer = {"held": held, "since": "x", "waited_for": HOLDER, "waited_s": waited_s, "wait_seconds": 1}
    history.state("Task", "TakeTransformLease", seconds, seconds, {"transform_lease": answer})


def test_a_run_that_waited_for_another_runs_dbt_says_whose_and_how_long() -> None:
    history = RunHistory().listed(["stripe_prod"]).iteration_started(0, 0.5).recorded(0, 1.0, sync_id="s")
    _lease(history, 1.5, held=False, waited_s=0)
    _lease(history, 40.0, held=True, waited_s=38)
    history.dbt(41.0, 49.0, exit_code=0)

    dbt = build_run_view(history.described("SUCCEEDED", stopped=50.0), history.events).dbt

    assert (dbt.waited_for, dbt.waited_s, dbt.waiting) == ("scheduled-0600", 38, False)
    assert dbt_text(dbt) == "dbt build exit 0 in 8.0 s, after waiting 38 s for run scheduled-0600's dbt"


def test_a_run_still_waiting_for_the_lease_says_for_which_run() -> None:
    history = RunHistory().listed(["stripe_prod"]).iteration_started(0, 0.5).recorded(0, 1.0, sync_id="s")
    _lease(history, 1.5, held=False, waited_s=12)

    dbt = build_run_view(history.described("RUNNING"), history.events).dbt

    assert dbt.state == "not_run" and dbt.waiting
    assert "waited 12 s for run scheduled-0600's dbt" in dbt_text(dbt)
