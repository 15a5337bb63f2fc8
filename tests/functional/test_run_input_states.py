"""The run input through the real state machine (moto, real handlers): a rate-limited listing lists again
from the execution's own input, so connector_ids never travel in the state; a dbt summary naming
selectors that matched no node fails the run saying so."""

from __future__ import annotations

import json

from chalicelib.platform.errors import FivetranRateLimited
from tests.fakes import FakeDbtRunner, FakeFivetran, connection
from tests.pipeline import Pipeline

IDS = ["stripe_prod", "hubspot_crm"]


def test_a_rate_limited_listing_waits_then_lists_again_from_the_execution_input(moto_aws, monkeypatch):
    fivetran = FakeFivetran(
        connection("stripe_prod", schema="stripe"), connection("hubspot_crm", schema="hubspot")
    )
    answers = iter([FivetranRateLimited("slow down", retry_after=1, status=429)])
    reads = []

    def get_connection(connection_id, *, timeout=None):
        reads.append(connection_id)
        refusal = next(answers, None)
        if refusal is not None:
            raise refusal
        return fivetran.connections[connection_id]

    monkeypatch.setattr(fivetran, "get_connection", get_connection)
    pipeline = Pipeline(fivetran)
    arn = pipeline.start({"connector_ids": IDS, "dbt": {"select": "tag:daily"}})
    pipeline.wait_for_tokens(2)
    for connector_id in IDS:
        pipeline.finish(connector_id)

    described = pipeline.wait_for_end(arn)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert reads == ["stripe_prod", "stripe_prod", "hubspot_crm"]
    states = pipeline.states_entered(arn)
    assert states[:4] == ["ListConnectors", "ListingRateLimited", "WaitToList", "ListConnectors"]
    # Past the first state's input, no state's input or output holds the ids' list: only their count.
    for entered, text in _state_data(pipeline.history(arn))[1:]:
        assert "connector_ids" not in _keys(json.loads(text)), entered
    assert json.loads(described["output"])["dbt"]["select"] == "tag:daily"


def _state_data(history: list[dict]) -> list[tuple[str, str]]:
    """Every state's input (entered) and output (exited), in order."""
    data = []
    for event in history:
        if "stateEnteredEventDetails" in event:
            data.append(
                (event["stateEnteredEventDetails"]["name"], event["stateEnteredEventDetails"]["input"])
            )
        if "stateExitedEventDetails" in event:
            data.append(
                (event["stateExitedEventDetails"]["name"], event["stateExitedEventDetails"]["output"])
            )
    return data


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_selectors_that_matched_no_node_fail_the_run_naming_them(moto_aws):
    summary = {
        "event": "dbt_summary",
        "exit_code": 1,
        "counts": {"error": 0},
        "failed_nodes": [],
        "unmatched_selectors": ["stg_stripe__custmers"],
        "selection_problem": "the selection matches no node: stg_stripe__custmers",
    }
    pipeline = Pipeline(
        FakeFivetran(connection("stripe_prod")), dbt=FakeDbtRunner(exit_code=1, summary=summary)
    )
    arn = pipeline.start({"group_id": "group", "dbt": {"command": "run", "select": "stg_stripe__custmers"}})
    pipeline.wait_for_tokens(1)
    pipeline.finish("stripe_prod")

    described = pipeline.wait_for_end(arn)

    assert (described["status"], described["error"]) == ("FAILED", "Orchestrator.DbtFailed")
    assert described["cause"].startswith(
        "the selection matches no node: stg_stripe__custmers (dbt.select: stg_stripe__custmers). "
        "dbt run built nothing for these selectors"
    )
    assert pipeline.states_entered(arn)[-5:] == [
        "SelectionMatchedNothing",
        "DescribeSelectionMatchedNothing",
        "ReleaseTransformLease",
        "DidDbtFail",
        "DbtFailed",
    ]
