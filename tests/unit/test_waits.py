"""A connection's waits, read back from its sync child's ``$.waits``, and kept bounded in the run's state."""

from __future__ import annotations

import json

from chalicelib.run.collect import STATE_OUTCOMES, collect
from chalicelib.run.rate_limit import BUDGET_REASON
from chalicelib.run.waits import LOGGED_WAITS, RESCHEDULED_REASON, compact, read_waits
from tests.unit.test_collect import ITEMS, child

RESCHEDULED = {
    "connector_id": "stripe_prod",
    "status": "RESCHEDULED",
    "sync_id": "s1",
    "finished_at": "2026-11-30T10:00:01.000000Z",
    "rescheduled_for": "2026-11-30T10:05:01Z",
    "reason": "source API quota",
}
BUDGET = {
    "connector_id": "stripe_prod",
    "status": "RATE_LIMITED",
    "sync_id": None,
    "finished_at": "2026-11-30T10:05:02.000000Z",
    "rescheduled_for": "2026-11-30T10:05:05Z",
    "budget_slot": "2026-11-30T10:05:04.200000Z",
    "reason": BUDGET_REASON,
}
LIMITED = {**BUDGET, "budget_slot": None, "reason": "Fivetran's API answered 429 (Retry-After 40 s)"}


def noted(*answers: dict, count: int | None = None, **counts: int) -> dict:
    """``$.waits`` as the state machine leaves it: each answer's JSON text appended to ``log``."""
    logged = answers[:LOGGED_WAITS]
    return {
        "count": len(answers) if count is None else count,
        "rescheduled": counts.get("rescheduled", sum(a["status"] == "RESCHEDULED" for a in answers)),
        "rate_limited": counts.get("rate_limited", sum(a["status"] == "RATE_LIMITED" for a in answers)),
        "log": "".join(json.dumps(a, separators=(",", ":")) for a in logged),
        "last": answers[-1] if answers else None,
    }


def test_a_connection_that_never_waited_has_no_waits() -> None:
    assert read_waits(noted()) is None
    assert read_waits(None) is None


def test_each_wait_says_its_kind_when_it_began_until_when_and_why() -> None:
    waits = read_waits(noted(RESCHEDULED, BUDGET, LIMITED))

    assert waits is not None
    assert (waits["count"], waits["rescheduled"], waits["rate_limited"], waits["omitted"]) == (3, 1, 2, 0)
    assert waits["items"] == [
        {
            "kind": "rescheduled",
            "at": "2026-11-30T10:00:01.000000Z",
            "until": "2026-11-30T10:05:01Z",
            "reason": "source API quota",
        },
        {
            "kind": "api_budget",
            "at": "2026-11-30T10:05:02.000000Z",
            "until": "2026-11-30T10:05:05Z",
            "reason": BUDGET_REASON,
        },
        {
            "kind": "rate_limited",
            "at": "2026-11-30T10:05:02.000000Z",
            "until": "2026-11-30T10:05:05Z",
            "reason": "Fivetran's API answered 429 (Retry-After 40 s)",
        },
    ]
    assert (waits["until"], waits["reason"]) == ("2026-11-30T10:05:05Z", LIMITED["reason"])


def test_a_reschedule_without_a_reason_from_fivetran_says_what_rescheduled_means() -> None:
    answer = {k: v for k, v in RESCHEDULED.items() if k != "reason"}

    waits = read_waits(noted(answer))

    assert waits is not None and waits["items"][0]["reason"] == RESCHEDULED_REASON


def test_past_the_logged_waits_the_first_ones_and_the_last_are_kept_and_the_rest_counted() -> None:
    answers = [{**RESCHEDULED, "reason": f"attempt {i}"} for i in range(1, 16)]

    waits = read_waits(noted(*answers))

    assert waits is not None
    assert waits["count"] == 15 and waits["omitted"] == 15 - LOGGED_WAITS - 1
    reasons = [item["reason"] for item in waits["items"]]
    assert reasons == [f"attempt {i}" for i in range(1, LOGGED_WAITS + 1)] + ["attempt 15"]


def test_a_log_cut_short_keeps_the_answers_before_the_cut() -> None:
    raw = noted(RESCHEDULED, BUDGET)
    raw["log"] = raw["log"][:-5]

    waits = read_waits(raw)

    assert waits is not None and waits["count"] == 2
    assert [item["kind"] for item in waits["items"]] == ["rescheduled", "api_budget"]


def test_outcomes_json_has_every_waits_detail_and_the_state_only_counts_and_the_last_wait() -> None:
    stripe, zendesk, sheet = ITEMS
    records = [
        child(stripe, output={**_recorded(stripe), "waits": noted(RESCHEDULED, BUDGET)}),
        child(zendesk, output={**_recorded(zendesk), "waits": noted()}),
        child(sheet, output=_recorded(sheet)),  # a child of an earlier definition: no waits at all
    ]

    collected = collect(ITEMS, records)
    in_file = {
        c["connector_id"]: c for c in collected.file(execution_arn="arn", map_run_arn=None)["connections"]
    }
    in_state = {c["connector_id"]: c for c in collected.state(outcomes_uri="s3://b/k")["connectors"]}

    assert in_file["stripe_prod"]["waits"] == read_waits(noted(RESCHEDULED, BUDGET))
    assert "waits" not in in_file["zendesk_support"] and "waits" not in in_file["budget_sheet"]
    assert in_state["stripe_prod"]["waits"] == {
        "count": 2,
        "rescheduled": 1,
        "rate_limited": 1,
        "until": "2026-11-30T10:05:05Z",
        "reason": BUDGET_REASON,
    }


def test_the_state_stays_small_when_every_connection_waited_often_with_long_reasons() -> None:
    items = [{"connector_id": f"c{i:05d}", "schema": f"s{i}"} for i in range(STATE_OUTCOMES * 3)]
    long = {**RESCHEDULED, "reason": "r" * 300}
    waits = noted(*[long] * LOGGED_WAITS, count=500, rescheduled=500)
    records = [child(item, output={**_recorded(item), "waits": waits}) for item in items]

    state = collect(items, records).state(outcomes_uri="s3://b/k")

    assert len(json.dumps(state["connectors"]).encode()) < 64 * 1024
    assert all(len(c["waits"]["reason"]) <= 200 for c in state["connectors"])
    assert compact(read_waits(waits) or {})["count"] == 500


def _recorded(connector: dict) -> dict:
    return {
        "connector_id": connector["connector_id"],
        "schema": connector["schema"],
        "outcome": "succeeded",
        "status": "SUCCESSFUL",
        "sync_id": "s9",
        "finished_at": "2026-11-30T10:06:00.000000Z",
    }
