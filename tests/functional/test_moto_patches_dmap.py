"""The Distributed Map patches applied by ``local/moto_patches.py`` (``local/patches/dmap_*.py``)
do what they say. moto is pinned; these fail if an upgrade breaks a patch.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import boto3
import pytest

from local import moto_patches
from tests.conftest import PATIENCE_S, REGION
from tests.functional.moto_support import ROLE, lambda_function, run_machine


def _items(items: list[Any], max_concurrency: int = 0) -> dict[str, Any]:
    s3 = boto3.client("s3", region_name=REGION)
    if "runs" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket="runs")
    s3.put_object(Bucket="runs", Key="items.json", Body=json.dumps(items).encode())
    return {"items": {"bucket": "runs", "key": "items.json"}, "options": {"max_concurrency": max_concurrency}}


def _dmap(child: dict[str, Any], *, writer: bool = True, **fields: Any) -> dict[str, Any]:
    """A one-state machine shaped like the orchestrator's SyncConnectors map (JSONPath)."""
    state: dict[str, Any] = {
        "Type": "Map",
        "Label": "Sync",
        "ItemReader": {
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket.$": "$.items.bucket", "Key.$": "$.items.key"},
        },
        "ItemSelector": {"item.$": "$$.Map.Item.Value", "parent.$": "$$.Execution.Id"},
        "MaxConcurrencyPath": "$.options.max_concurrency",
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, **child},
        "ResultPath": "$.map_run",
        "End": True,
        **fields,
    }
    if writer:
        state["ResultWriter"] = {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": "runs", "Prefix": "map-runs"},
        }
    return {"StartAt": "SyncConnectors", "States": {"SyncConnectors": state}}


def _fail_bad(name: str, otherwise: dict[str, Any]) -> dict[str, Any]:
    """A child that fails for the item "bad" and runs state ``name`` for any other."""
    return {
        "StartAt": "Route",
        "States": {
            "Route": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.item", "StringEquals": "bad", "Next": "Broken"}],
                "Default": name,
            },
            "Broken": {"Type": "Fail", "Error": "Fivetran.SyncFailed", "Cause": "connector broke"},
            name: otherwise,
        },
    }


_PASS_OR_FAIL = _fail_bad("Done", {"Type": "Pass", "Parameters": {"synced.$": "$.item"}, "End": True})


def _token_task(function_arn: str, **fields: Any) -> dict[str, Any]:
    """A task that hands its item and its task token to a Lambda function, then waits for the token."""
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {
            "FunctionName": function_arn,
            "Payload": {"item.$": "$.item", "token.$": "$$.Task.Token"},
        },
        **fields,
    }


def _s3_json(key: str) -> Any:
    body = boto3.client("s3", region_name=REGION).get_object(Bucket="runs", Key=key)["Body"].read()
    return json.loads(body)


def test_a_distributed_map_result_writer_writes_the_aws_manifest_and_result_files(moto_aws):
    described = run_machine(_dmap(_PASS_OR_FAIL, ToleratedFailurePercentage=100.0), _items(["a", "bad", "c"]))

    assert described["status"] == "SUCCEEDED", described.get("cause")
    map_run = json.loads(described["output"])["map_run"]
    run_id = map_run["MapRunArn"].split(":")[-1]
    assert ":mapRun:" in map_run["MapRunArn"] and "/Sync:" in map_run["MapRunArn"]
    assert map_run["ResultWriterDetails"] == {"Bucket": "runs", "Key": f"map-runs/{run_id}/manifest.json"}
    manifest = _s3_json(map_run["ResultWriterDetails"]["Key"])
    assert manifest["DestinationBucket"] == "runs" and manifest["MapRunArn"] == map_run["MapRunArn"]
    files = manifest["ResultFiles"]
    assert [f["Key"] for f in files["SUCCEEDED"]] == [f"map-runs/{run_id}/SUCCEEDED_0.json"]
    assert [f["Key"] for f in files["FAILED"]] == [f"map-runs/{run_id}/FAILED_0.json"]
    assert files["PENDING"] == []
    succeeded = _s3_json(files["SUCCEEDED"][0]["Key"])
    failed = _s3_json(files["FAILED"][0]["Key"])
    raw = boto3.client("s3", region_name=REGION).get_object(Bucket="runs", Key=files["FAILED"][0]["Key"])
    assert files["FAILED"][0]["Size"] == raw["ContentLength"]

    assert [json.loads(r["Output"]) for r in succeeded] == [{"synced": "a"}, {"synced": "c"}]
    first = succeeded[0]
    assert set(first) == {
        "ExecutionArn", "Input", "InputDetails", "Name", "Output", "OutputDetails", "RedriveCount",
        "RedriveStatus", "RedriveStatusReason", "StartDate", "StateMachineArn", "Status", "StopDate",
    }  # fmt: skip
    machine = described["stateMachineArn"]
    assert first["StateMachineArn"] == f"{machine}/Sync"
    assert (
        first["ExecutionArn"] == machine.replace(":stateMachine:", ":execution:") + f"/Sync:{first['Name']}"
    )
    assert json.loads(first["Input"]) == {"item": "a", "parent": described["executionArn"]}
    assert (first["Status"], first["RedriveStatus"], first["RedriveCount"]) == (
        "SUCCEEDED",
        "NOT_REDRIVABLE",
        0,
    )
    assert first["StartDate"].endswith("Z") and first["StartDate"] <= first["StopDate"]
    assert len(failed) == 1 and "Output" not in failed[0]
    assert (failed[0]["Status"], failed[0]["Error"], failed[0]["Cause"]) == (
        "FAILED",
        "Fivetran.SyncFailed",
        "connector broke",
    )


def test_describe_map_run_counts_items_and_child_executions_as_aws_does(moto_aws):
    arn = lambda_function("dmap-wait")
    tokens: dict[str, str] = {}
    moto_patches.register_handler(
        "dmap-wait", lambda event, context: tokens.update({event["item"]: event["token"]})
    )
    child = {
        "StartAt": "Wait",
        "States": {"Wait": _token_task(arn, TimeoutSeconds=30, End=True)},
    }
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="counts", definition=json.dumps(_dmap(child, ToleratedFailurePercentage=100.0)), roleArn=ROLE
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(_items(["a", "b", "c"])))[
        "executionArn"
    ]
    deadline = time.monotonic() + PATIENCE_S
    while len(tokens) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    (listed,) = sfn.list_map_runs(executionArn=execution)["mapRuns"]
    running = sfn.describe_map_run(mapRunArn=listed["mapRunArn"])
    assert running["status"] == "RUNNING"
    assert (running["itemCounts"]["running"], running["itemCounts"]["total"]) == (3, 3)
    assert (running["executionCounts"]["running"], running["executionCounts"]["total"]) == (3, 3)

    sfn.send_task_success(taskToken=tokens["a"], output="{}")
    sfn.send_task_success(taskToken=tokens["b"], output="{}")
    sfn.send_task_failure(taskToken=tokens["c"], error="Fivetran.SyncFailed", cause="no")
    while (
        sfn.describe_execution(executionArn=execution)["status"] == "RUNNING" and time.monotonic() < deadline
    ):
        time.sleep(0.05)

    done = sfn.describe_map_run(mapRunArn=listed["mapRunArn"])
    assert done["status"] == "SUCCEEDED" and "stopDate" in done
    for counts in (done["itemCounts"], done["executionCounts"]):
        picked = {
            k: counts[k] for k in ("pending", "running", "succeeded", "failed", "total", "resultsWritten")
        }
        assert picked == {
            "pending": 0,
            "running": 0,
            "succeeded": 2,
            "failed": 1,
            "total": 3,
            "resultsWritten": 3,
        }


def test_a_child_sees_its_own_execution_and_the_item_selector_the_parents(moto_aws):
    child = {
        "StartAt": "Look",
        "States": {
            "Look": {
                "Type": "Pass",
                "Parameters": {
                    "parent.$": "$.parent",
                    "execution.$": "$$.Execution.Id",
                    "name.$": "$$.Execution.Name",
                    "machine.$": "$$.StateMachine.Id",
                },
                "End": True,
            }
        },
    }

    described = run_machine(_dmap(child), _items(["a"]))

    assert described["status"] == "SUCCEEDED", described.get("cause")
    manifest = _s3_json(json.loads(described["output"])["map_run"]["ResultWriterDetails"]["Key"])
    (record,) = _s3_json(manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])
    seen = json.loads(record["Output"])
    assert seen["parent"] == described["executionArn"]  # ItemSelector: evaluated by the parent Map
    assert (seen["execution"], seen["name"]) == (record["ExecutionArn"], record["Name"])
    assert seen["machine"] == record["StateMachineArn"]


@pytest.mark.parametrize("timeouts", [{"HeartbeatSeconds": 1, "TimeoutSeconds": 5}, {"TimeoutSeconds": 1}])
def test_a_child_waiting_for_a_task_token_completes_fails_or_times_out_catchably(moto_aws, timeouts):
    arn = lambda_function("dmap-callback")
    sfn = boto3.client("stepfunctions", region_name=REGION)

    def handler(event: Any, context: Any) -> dict:
        if event["item"] == "ok":
            sfn.send_task_heartbeat(taskToken=event["token"])
            sfn.send_task_success(taskToken=event["token"], output='{"synced": true}')
        elif event["item"] == "bad":
            sfn.send_task_failure(taskToken=event["token"], error="Fivetran.SyncFailed", cause="broke")
        return {}  # "silent": no heartbeat, no outcome

    moto_patches.register_handler("dmap-callback", handler)
    caught = {"ErrorEquals": ["States.HeartbeatTimeout", "States.Timeout"], "Next": "TimedOut"}
    child = {
        "StartAt": "Wait",
        "States": {
            "Wait": _token_task(arn, **timeouts, Catch=[caught], End=True),
            "TimedOut": {"Type": "Pass", "Parameters": {"error.$": "$.Error"}, "End": True},
        },
    }

    described = run_machine(_dmap(child, ToleratedFailurePercentage=100.0), _items(["ok", "bad", "silent"]))

    assert described["status"] == "SUCCEEDED", described.get("cause")
    manifest = _s3_json(json.loads(described["output"])["map_run"]["ResultWriterDetails"]["Key"])
    succeeded = _s3_json(manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])
    failed = _s3_json(manifest["ResultFiles"]["FAILED"][0]["Key"])
    # moto names a heartbeat timeout States.Timeout (everywhere, not only in a child); newer AWS
    # docs say States.HeartbeatTimeout: the Catch lists both, as the orchestrator's does.
    outputs = [json.loads(r["Output"]) for r in succeeded]
    assert {"synced": True} in outputs and len(outputs) == 2
    assert {"error": "States.Timeout"} in outputs or {"error": "States.HeartbeatTimeout"} in outputs
    assert [(r["Error"], r["Cause"]) for r in failed] == [("Fivetran.SyncFailed", "broke")]


def test_a_distributed_map_without_max_concurrency_runs_at_most_10000_children_at_once(moto_aws, monkeypatch):
    from local.patches import dmap_concurrency

    monkeypatch.setattr(dmap_concurrency, "MAX_CHILDREN", 3)  # the cap, scaled down
    arn = lambda_function("dmap-count")
    lock = threading.Lock()
    running = [0, 0]  # now, peak

    def handler(event: Any, context: Any) -> dict:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        time.sleep(0.2)
        with lock:
            running[0] -= 1
        return {}

    moto_patches.register_handler("dmap-count", handler)
    child = {"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": arn, "End": True}}}

    described = run_machine(_dmap(child, writer=False), _items(list(range(9))))

    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert running[1] == 3


@pytest.mark.slow
@pytest.mark.parametrize("max_concurrency", [0, 1])
def test_a_distributed_map_over_2500_items_runs_on_a_small_machine(moto_aws, max_concurrency):
    child = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    run_input = _items(list(range(2500)), max_concurrency)

    described = run_machine(_dmap(child), run_input)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    manifest = _s3_json(json.loads(described["output"])["map_run"]["ResultWriterDetails"]["Key"])
    assert len(_s3_json(manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])) == 2500
