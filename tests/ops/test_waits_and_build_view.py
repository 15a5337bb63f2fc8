"""A distributed run's waits and dbt's build summary, read from known histories and printed or drawn (pure).

Waits (issue 27): each connection's reschedules and rate-limit waits, from ``outcomes.json`` (in
full) or ``CollectOutcomes``' bounded list (counts and the last). The build (issue 21): the selection
used, the models built, the nodes skipped for no new data and where their full list is.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

from rich.console import Console

from chalicelib.run.rate_limit import BUDGET_REASON
from ops.dbt_build import SHOWN_MODELS, build_lines, read_build
from ops.display import run_report, sync_line
from ops.runview import build_run_view
from ops.timeline import render_timeline
from tests.ops.histories import BUCKET, RUN_NAME, distributed_run, iso, outcomes_file
from tests.ops.support import Elements

ARTIFACTS = f"s3://{BUCKET}/dbt-runs/{RUN_NAME}"
WAITS = {
    "count": 2,
    "rescheduled": 1,
    "rate_limited": 1,
    "until": iso(9.0),
    "reason": BUDGET_REASON,
    "items": [
        {"kind": "rescheduled", "at": iso(2.0), "until": iso(6.0), "reason": "source API quota"},
        {"kind": "api_budget", "at": iso(6.5), "until": iso(9.0), "reason": BUDGET_REASON},
    ],
    "omitted": 0,
}


def waited_run() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """stripe_prod synced from +1 s to +12 s, waiting twice in between; hubspot_crm never waited."""
    outcomes = outcomes_file(["stripe_prod", "hubspot_crm"])
    stripe = outcomes["connections"][0]
    stripe |= {"started_at": iso(1.0), "ended_at": iso(12.0), "waits": WAITS}
    return distributed_run(outcomes)


def view_of(run: tuple[dict[str, Any], list[dict[str, Any]]], outcomes: dict[str, Any] | None = None):
    return build_run_view(*run, outcomes)


def printed(renderable: object) -> str:
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(renderable, soft_wrap=True)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_the_view_has_each_wait_with_its_kind_times_and_reason_from_outcomes_json() -> None:
    described, events = waited_run()
    outcomes = outcomes_file(["stripe_prod", "hubspot_crm"])
    outcomes["connections"][0]["waits"] = WAITS

    stripe, hubspot = build_run_view(described, events, outcomes).syncs

    assert [(w.kind, w.reason) for w in stripe.waits] == [
        ("rescheduled", "source API quota"),
        ("api_budget", BUDGET_REASON),
    ]
    assert stripe.waited == 2 and stripe.wait_counts == {"count": 2, "rescheduled": 1, "rate_limited": 1}
    assert hubspot.waits == [] and hubspot.waited == 0


def test_the_bounded_list_gives_the_counts_and_the_last_wait_without_its_start() -> None:
    stripe = view_of(waited_run()).syncs[0]  # CollectOutcomes' list, as collect_output copies it

    assert stripe.waited == 2
    # The bounded form has no items: only the last wait's end and reason are known.
    bounded = build_run_view(*_bounded_run()).syncs[0]
    assert bounded.waited == 12 and [(w.start, w.reason) for w in bounded.waits] == [(None, BUDGET_REASON)]


def _bounded_run() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    outcomes = outcomes_file(["stripe_prod"])
    bounded = {"count": 12, "rescheduled": 2, "rate_limited": 10, "until": iso(9.0), "reason": BUDGET_REASON}
    outcomes["connections"][0]["waits"] = bounded
    return distributed_run(outcomes)


def test_start_run_wait_and_show_say_how_often_until_when_and_why() -> None:
    view = view_of(waited_run())

    line = printed(sync_line(view.syncs[0]))
    report = printed(run_report(view, "--stage dev"))

    expected = (
        "waited 2x free (1 rescheduled, 1 rate-limited); last: waited for the API budget until 10:00:09 UTC"
    )
    assert expected in line and BUDGET_REASON in line
    assert "waited" not in printed(sync_line(view.syncs[1]))
    assert expected in " ".join(report.split())


def test_the_page_draws_each_wait_as_a_gap_inside_its_bar_with_its_reason() -> None:
    page = render_timeline(view_of(waited_run()))
    elements = Elements(page)

    stripe = next(b for b in elements.with_class("bar", "sync") if b["data-tip"].startswith("stripe_prod"))
    gaps = elements.with_class("wait")
    assert [g["data-kind"] for g in gaps] == ["rescheduled", "api_budget"]
    # The bar runs +1 s → +12 s: the reschedule's gap +2 s → +6 s sits at 1/11 of it, 4/11 wide.
    left, width = (float(x) for x in re.findall(r"(?:left|width):([0-9.]+)%", gaps[0]["style"]))
    assert (round(left, 2), round(width, 2)) == (round(100 / 11, 2), round(400 / 11, 2))
    assert "source API quota" in gaps[0]["title"] and "until 10:00:06 UTC (4.0 s)" in gaps[0]["title"]
    assert "rescheduled by Fivetran: source API quota</span>" in page  # the reason, written on the gap
    assert "waited 2x free" in stripe["data-tip"]
    assert "waits-note" in page  # and in the details table


def test_a_wait_whose_start_is_unknown_draws_no_gap_but_is_still_said() -> None:
    page = render_timeline(build_run_view(*_bounded_run()))

    assert Elements(page).with_class("wait") == []
    assert "waited 12x free (2 rescheduled, 10 rate-limited)" in page


# --- what dbt built and why -------------------------------------------------------------------------

SUMMARY = {
    "command": "build",
    "select": "",
    "exclude": "",
    "mode": "new_data",
    "artifacts": f"{ARTIFACTS}/",
    "selection": {
        "mode": "new_data",
        "reason": "3 node(s) whose inputs changed",
        "skipped_count": 8,
        "full_list": "selection.json",
        "skipped": False,
    },
    "models_built": ["stg_stripe__charges", "fct_revenue", "stg_stripe__customers"],
    "models_built_count": 3,
}


def with_build(summary: dict[str, Any], state: str = "ReadDbtBuildSummary") -> Any:
    described, events = waited_run()
    key = "dbt_build" if state == "ReadDbtBuildSummary" else "dbt_summary"
    output = json.dumps({key: {"summary": summary}})
    last = events[-1]["id"]
    events.append(
        {
            "timestamp": events[-1]["timestamp"],
            "type": "TaskStateExited",
            "id": last + 1,
            "previousEventId": last,
            "stateExitedEventDetails": {"name": state, "output": output},
        }
    )
    return build_run_view(described, events)


def test_show_says_the_selection_the_models_built_and_the_nodes_skipped_for_no_new_data() -> None:
    report = printed(run_report(with_build(SUMMARY), "--stage dev"))

    assert "selection: new data (mode new_data): 3 node(s) whose inputs changed" in report
    assert "models built (3): stg_stripe__charges, fct_revenue, stg_stripe__customers" in report
    assert f"skipped for no new data: 8 node(s) (full list: {ARTIFACTS}/selection.json)" in report


def test_a_run_whose_syncs_loaded_nothing_says_dbt_built_nothing_and_why() -> None:
    nothing = {**SUMMARY, "models_built": [], "models_built_count": 0}
    nothing["selection"] = {**SUMMARY["selection"], "reason": "no new data", "skipped": True}

    lines = build_lines(with_build(nothing).dbt.build)

    assert lines[1] == "models built: none (no new data: the dbt build did not start)"


def test_an_explicit_selection_or_mode_all_is_named_and_many_models_are_counted() -> None:
    many = [f"model_{i:03d}" for i in range(SHOWN_MODELS + 5)]
    summary = {**SUMMARY, "mode": "all", "selection": None, "select": "tag:daily", "exclude": "tag:slow"}
    summary |= {"models_built": many, "models_built_count": 600}

    lines = build_lines(read_build("ReadDbtSummary", {"dbt_summary": {"summary": summary}}))

    assert lines[0] == "selection: --select tag:daily --exclude tag:slow"
    assert lines[1].startswith("models built (600): model_000, ") and "model_020" not in lines[1]
    assert lines[1].endswith(f", and 580 more (all in {ARTIFACTS}/run_results.json)")
    assert len(lines) == 2  # no selection by new data: nothing skipped for it


def test_the_page_says_what_dbt_built() -> None:
    page = render_timeline(with_build(SUMMARY))

    notes = Elements(page).with_class("dbt-build")
    assert len(notes) == 3
    assert "models built (3): stg_stripe__charges" in page and "selection.json" in page


def test_no_summary_no_build_lines() -> None:
    assert build_lines(view_of(waited_run()).dbt.build) == []
    assert read_build("ReadDbtBuildSummary", {"dbt_build": {"Error": "S3.NoSuchKey"}}) is None
