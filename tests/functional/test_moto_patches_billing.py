"""The ``billing_counts`` patch (``local/patches/billing.py``) counts what AWS bills: every state
entered by the parent and by each child, every retry, one more per child execution the Distributed
Map starts, each Lambda invocation, each DynamoDB and S3 request."""

from __future__ import annotations

from typing import Any

import boto3

from local import moto_patches
from local.patches import billing
from tests.conftest import REGION
from tests.functional.moto_support import lambda_function, run_machine
from tests.functional.test_moto_patches_dmap import _dmap, _items


def test_a_run_is_billed_its_states_its_retries_and_one_transition_per_child_started(moto_aws):
    arn = lambda_function("billing-flaky")
    calls: list[Any] = []

    def flaky(event: Any, context: Any) -> dict[str, Any]:
        calls.append(event)
        if len(calls) == 1:
            raise RuntimeError("first call fails")
        return {"ok": True}

    moto_patches.register_handler("billing-flaky", flaky)
    child = {"StartAt": "Synced", "States": {"Synced": {"Type": "Pass", "End": True}}}
    definition = _dmap(child)
    definition["StartAt"] = "Start"
    definition["States"].update(
        {
            "Start": {"Type": "Pass", "Next": "Flaky"},
            "Flaky": {
                "Type": "Task",
                "Resource": arn,
                "ResultPath": None,
                "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 2}],
                "Next": "SyncConnectors",
            },
        }
    )
    run_input = _items(["a", "b", "c"])
    billing.reset()

    described = run_machine(definition, run_input)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    # Start, Flaky, its one retry, SyncConnectors; each child: its start and Synced.
    assert billing.execution_counts(described["executionArn"]) == {
        "parent": 4,
        "children": 6,
        "child_starts": 3,
    }
    assert billing.lambda_counts() == {"flaky": 2}
    requests = billing.request_counts()
    assert requests["s3"] >= 2  # the ItemReader's GET and the ResultWriter's PUTs
    assert requests["dynamodb"] == 0


def test_dynamodb_requests_are_counted_whoever_sends_them(moto_aws):
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    billing.reset()

    dynamodb.list_tables()
    dynamodb.list_tables()

    assert billing.request_counts()["dynamodb"] == 2
