"""Each patch applied by ``local/moto_patches.py`` (modules in ``local/patches/``) does what it says.

moto is pinned; these fail if an upgrade breaks a patch. The ECS patches are tested in
``test_moto_patches_ecs.py``, the Distributed Map ones in ``test_moto_patches_dmap.py``.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from local import moto_patches
from tests.conftest import REGION
from tests.functional.moto_support import ROLE, lambda_function, run_machine


def test_lambda_in_process_runs_the_registered_handler(moto_aws):
    lambda_function("echo")
    moto_patches.register_handler("echo", lambda event, context: {"got": event, "fn": context.function_name})

    response = boto3.client("lambda", region_name=REGION).invoke(FunctionName="echo", Payload=b'{"a": 1}')

    assert json.loads(response["Payload"].read()) == {"got": {"a": 1}, "fn": "echo"}
    assert "FunctionError" not in response


def test_lambda_in_process_reports_an_exception_with_its_class_name_as_error_type(moto_aws):
    class Boom(Exception):
        pass

    Boom.__name__ = "Fivetran.RateLimited"
    lambda_function("boom")

    def handler(event: Any, context: Any) -> None:
        raise Boom("slow down")

    moto_patches.register_handler("boom", handler)

    response = boto3.client("lambda", region_name=REGION).invoke(FunctionName="boom", Payload=b"{}")

    body = json.loads(response["Payload"].read())
    assert response["FunctionError"]
    assert (body["errorType"], body["errorMessage"]) == ("Fivetran.RateLimited", "slow down")


def _callback_machine(function_arn: str) -> dict[str, Any]:
    return {
        "StartAt": "Wait",
        "States": {
            "Wait": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": function_arn, "Payload": {"token.$": "$$.Task.Token"}},
                "TimeoutSeconds": 10,
                "HeartbeatSeconds": 5,
                "End": True,
            }
        },
    }


def test_an_outcome_sent_before_the_invoke_returns_is_not_lost(moto_aws):
    arn = lambda_function("inline")
    sfn = boto3.client("stepfunctions", region_name=REGION)

    def handler(event: Any, context: Any) -> dict:
        sfn.send_task_heartbeat(taskToken=event["token"])  # heartbeat_before_endpoint
        sfn.send_task_success(taskToken=event["token"], output='{"done": true}')  # callback_before_heartbeat
        return {}

    moto_patches.register_handler("inline", handler)

    described = run_machine(_callback_machine(arn))

    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"done": True}


def test_send_task_failure_keeps_its_cause(moto_aws):
    arn = lambda_function("fails")
    sfn = boto3.client("stepfunctions", region_name=REGION)

    def handler(event: Any, context: Any) -> dict:
        sfn.send_task_failure(taskToken=event["token"], error="Fivetran.SyncFailed", cause="it broke")
        return {}

    moto_patches.register_handler("fails", handler)

    described = run_machine(_callback_machine(arn))

    assert (described["status"], described["error"], described["cause"]) == (
        "FAILED",
        "Fivetran.SyncFailed",
        "it broke",
    )


def test_an_execution_started_without_a_name_gets_a_unique_one(moto_aws):
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="named",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=ROLE,
    )["stateMachineArn"]

    first = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    second = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    assert first != second and not first.endswith(":None")
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == 2


WAIT_30_S = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}}


def test_a_stopped_execution_is_aborted_as_soon_as_the_stop_answers_and_stays_so(moto_aws):
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="stoppable",
        definition=json.dumps(WAIT_30_S),
        roleArn=ROLE,
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    stopped = sfn.stop_execution(executionArn=execution)
    at_once = sfn.describe_execution(executionArn=execution)
    time.sleep(1.5)  # the interpreter's thread has seen the stop flag by now
    later = sfn.describe_execution(executionArn=execution)

    assert (at_once["status"], at_once["stopDate"]) == ("ABORTED", stopped["stopDate"])
    assert later["status"] == "ABORTED"
    assert [e["status"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]] == ["ABORTED"]


def test_an_aws_sdk_s3_get_object_task_hands_the_state_the_body_as_a_string(moto_aws):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="artifacts")
    s3.put_object(Bucket="artifacts", Key="run/summary.json", Body=b'{"exit_code": 2}')
    machine = {
        "StartAt": "Read",
        "States": {
            "Read": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                "Parameters": {"Bucket": "artifacts", "Key": "run/summary.json"},
                "ResultSelector": {"summary.$": "States.StringToJson($.Body)"},
                "End": True,
            }
        },
    }

    described = run_machine(machine)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"]) == {"summary": {"exit_code": 2}}


def _wait_machine(wait: dict[str, Any], function_arn: str) -> dict[str, Any]:
    return {
        "StartAt": "Wait",
        "States": {
            "Wait": {"Type": "Wait", **wait, "Next": "After"},
            "After": {"Type": "Task", "Resource": function_arn, "End": True},
        },
    }


@pytest.mark.parametrize("field", ["Timestamp", "TimestampPath"])
def test_a_wait_never_ends_before_its_timestamp(moto_aws, field):
    arn = lambda_function(f"after-{field}")
    ended: list[float] = []
    moto_patches.register_handler(f"after-{field}", lambda event, context: ended.append(time.time()) or {})
    # A fraction close to the next whole second: moto alone drops it and rounds the wait down.
    target = int(time.time()) + 1.95
    stamp = datetime.fromtimestamp(target, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    wait = {"Timestamp": stamp} if field == "Timestamp" else {"TimestampPath": "$.until"}

    described = run_machine(_wait_machine(wait, arn), {"until": stamp})

    assert described["status"] == "SUCCEEDED"
    assert ended and ended[0] >= round(target, 3)


def test_a_wait_for_a_past_timestamp_ends_at_once_and_a_bad_one_fails_the_run(moto_aws):
    arn = lambda_function("after-past")
    moto_patches.register_handler("after-past", lambda event, context: {"ran": True})
    machine = _wait_machine({"TimestampPath": "$.until"}, arn)

    assert run_machine(machine, {"until": "2020-01-01T00:00:00Z"})["status"] == "SUCCEEDED"
    failed = run_machine(machine, {"until": "tomorrow"})
    assert (failed["status"], failed["error"]) == ("FAILED", "States.Runtime")


# -- dynamodb_query_one_partition -------------------------------------------------------------------


def _keyed_table() -> Any:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName="keyed",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
    )
    return dynamodb


def test_a_query_returns_its_partition_in_key_order_and_pages_through_it(moto_aws):
    dynamodb = _keyed_table()
    for p in range(30):
        for s in ("sync#b", "tok-2", "sync#a", "tok-1"):
            dynamodb.put_item(TableName="keyed", Item={"pk": {"S": f"conn-{p:02d}"}, "sk": {"S": s}})

    def query(**extra: Any) -> dict[str, Any]:
        return dynamodb.query(
            TableName="keyed",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "conn-07"}, **extra.pop("values", {})},
            **extra,
        )

    assert [i["sk"]["S"] for i in query()["Items"]] == ["sync#a", "sync#b", "tok-1", "tok-2"]
    first = query(Limit=3)
    rest = query(Limit=3, ExclusiveStartKey=first["LastEvaluatedKey"])
    assert [i["sk"]["S"] for i in first["Items"] + rest["Items"]] == ["sync#a", "sync#b", "tok-1", "tok-2"]
    syncs = dynamodb.query(
        TableName="keyed",
        KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
        ExpressionAttributeValues={":p": {"S": "conn-07"}, ":s": {"S": "sync#"}},
    )
    assert [i["sk"]["S"] for i in syncs["Items"]] == ["sync#a", "sync#b"]
    assert (
        dynamodb.query(
            TableName="keyed",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "none"}},
        )["Items"]
        == []
    )


@pytest.mark.slow
def test_queries_never_fail_while_other_threads_add_partitions(moto_aws):
    dynamodb = _keyed_table()
    dynamodb.put_item(TableName="keyed", Item={"pk": {"S": "watched"}, "sk": {"S": "x"}})
    errors: list[BaseException] = []
    done = threading.Event()

    def write(n: int) -> None:
        try:
            for i in range(600):
                dynamodb.put_item(TableName="keyed", Item={"pk": {"S": f"w{n}-{i}"}, "sk": {"S": "x"}})
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        try:
            while not done.is_set():
                items = dynamodb.query(
                    TableName="keyed",
                    KeyConditionExpression="pk = :p",
                    ExpressionAttributeValues={":p": {"S": "watched"}},
                )["Items"]
                assert len(items) == 1
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    readers = [threading.Thread(target=read) for _ in range(3)]
    for thread in writers + readers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    for thread in readers:
        thread.join()

    assert errors == []


# -- dynamodb_item_atomicity ---------------------------------------------------------------------


@pytest.fixture
def frequent_thread_switches() -> Any:
    """Switch threads every microsecond, so a race inside one moto request shows at once."""
    import sys

    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def test_concurrent_conditional_counter_updates_each_get_their_own_value(moto_aws, frequent_thread_switches):
    from concurrent.futures import ThreadPoolExecutor

    dynamodb = _keyed_table()
    key = {"pk": {"S": "budget"}, "sk": {"S": "counter"}}
    dynamodb.put_item(TableName="keyed", Item={**key, "n": {"N": "0"}})

    def add(_: int) -> int:
        answer = dynamodb.update_item(
            TableName="keyed",
            Key=key,
            UpdateExpression="ADD n :one",
            ConditionExpression="n >= :zero",
            ExpressionAttributeValues={":one": {"N": "1"}, ":zero": {"N": "0"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(answer["Attributes"]["n"]["N"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        values = list(pool.map(add, range(200)))

    assert sorted(values) == list(range(1, 201))


@pytest.mark.slow  # ~8 s of CPU: scans of a growing table while 450 items are written (make test runs it)
def test_scans_never_fail_while_other_threads_write(moto_aws, frequent_thread_switches):
    dynamodb = _keyed_table()
    errors: list[BaseException] = []
    done = threading.Event()

    def write(n: int) -> None:
        try:
            for i in range(150):
                dynamodb.put_item(TableName="keyed", Item={"pk": {"S": f"w{n}-{i}"}, "sk": {"S": "x"}})
        except BaseException as exc:
            errors.append(exc)

    def scan() -> None:
        try:
            while not done.is_set():
                dynamodb.scan(TableName="keyed")
        except BaseException as exc:
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(n,)) for n in range(3)]
    scanners = [threading.Thread(target=scan) for _ in range(2)]
    for thread in writers + scanners:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    for thread in scanners:
        thread.join()

    assert errors == []
    assert dynamodb.scan(TableName="keyed", Select="COUNT")["Count"] == 450


def test_a_new_ec2_backend_holds_the_default_vpc_but_no_public_ami_catalogue(moto_aws):
    # install() keeps moto from loading its public AMIs into every new backend (CPU on every reset);
    # what the stack uses, the default VPC's subnets, is still there.
    ec2 = boto3.client("ec2", region_name=REGION)

    assert ec2.describe_images(Owners=["amazon"])["Images"] == []
    assert ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]


def test_a_stop_that_comes_before_the_execution_has_set_up_aborts_it_as_aws_does(moto_aws, monkeypatch):
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    parse = ExecutionWorker._get_evaluation_entrypoint

    def slow_parse(self):  # the interpreter's thread is still parsing when the stop arrives
        time.sleep(1.0)
        return parse(self)

    monkeypatch.setattr(ExecutionWorker, "_get_evaluation_entrypoint", slow_parse)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(name="early", definition=json.dumps(WAIT_30_S), roleArn=ROLE)
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"])["executionArn"]

    stopped = sfn.stop_execution(executionArn=execution)  # moto answered 500 here
    time.sleep(2.0)  # the thread has set up, seen the stop and ended
    later = sfn.describe_execution(executionArn=execution)

    assert (later["status"], later["stopDate"]) == ("ABORTED", stopped["stopDate"])
