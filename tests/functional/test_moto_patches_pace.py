"""Each patch in ``local/patches/pace.py`` keeps moto's own answer, and does the work once."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.utils import boto_client

from local import moto_patches
from local.patches.pace import LOCAL_LAMBDA_CONCURRENCY, in_process_client
from tests.conftest import REGION
from tests.functional.moto_support import lambda_function, run_machine


def test_only_the_pace_opt_in_applies_the_pace_patches(monkeypatch):
    applied: list[str] = []
    fake = {name: (lambda name=name: applied.append(name)) for name in moto_patches._PACE_PATCHES}
    monkeypatch.setattr(moto_patches, "_PACE_PATCHES", fake)
    monkeypatch.setattr(moto_patches, "_installed", list(moto_patches.install()))

    moto_patches.install()
    assert applied == []

    moto_patches.install(pace=True)
    assert applied == ["server_backend_lookup_cache", "lambda_local_concurrency"]


def test_the_interpreter_reuses_one_sdk_client_per_region_and_service(moto_aws):
    first = boto_client.boto_client_for(REGION, "lambda")

    assert boto_client.boto_client_for(REGION, "lambda") is first
    assert boto_client.boto_client_for(REGION, "ecs") is not first
    assert boto_client.boto_client_for("eu-west-1", "lambda") is not first
    assert lambda_eval_utils.boto_client_for is boto_client.boto_client_for


def test_lambda_tasks_still_reach_their_handlers_through_the_shared_client(moto_aws):
    arn = lambda_function("twice")
    moto_patches.register_handler("twice", lambda event, context: {"n": event["n"] * 2})
    definition = {
        "StartAt": "One",
        "States": {
            "One": {"Type": "Task", "Resource": arn, "Next": "Two"},
            "Two": {"Type": "Task", "Resource": arn, "End": True},
        },
    }

    described = run_machine(definition, {"n": 3})

    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"]) == {"n": 12}


def test_the_server_finds_a_hosts_backend_once_and_answers_as_before():
    moto_patches.install(pace=True)
    app = DomainDispatcherApplication(create_backend_app)
    hosts = ["dynamodb.us-east-1.amazonaws.com", "states.us-east-1.amazonaws.com", "s3.amazonaws.com"]
    first = [app.get_backend_for_host(host) for host in hosts]

    app.backend_url_patterns = []  # a second lookup that matched patterns again would find nothing

    assert first == ["dynamodb", "stepfunctions", "s3"]
    assert [app.get_backend_for_host(host) for host in hosts] == first


def test_at_most_the_local_concurrency_of_lambda_invocations_run_at_once_and_all_are_answered(moto_aws):
    moto_patches.install(pace=True)
    lambda_function("slow")
    running, most = 0, 0
    lock = threading.Lock()

    def slow(event, context):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return {"i": event["i"]}

    moto_patches.register_handler("slow", slow)
    client = boto3.client("lambda", region_name=REGION)
    calls = LOCAL_LAMBDA_CONCURRENCY * 3

    def invoke(i: int) -> object:
        return json.loads(client.invoke(FunctionName="slow", Payload=json.dumps({"i": i}))["Payload"].read())

    with ThreadPoolExecutor(max_workers=calls) as pool:
        answers = list(pool.map(invoke, range(calls)))

    assert answers == [{"i": i} for i in range(calls)]
    assert 1 < most <= LOCAL_LAMBDA_CONCURRENCY


def test_an_in_process_client_is_answered_by_motos_backends_without_a_server():
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    client = in_process_client(session, "dynamodb")
    name = f"pace-{time.monotonic_ns()}"

    client.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        assert name in dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables
        assert name in client.list_tables()["TableNames"]
    finally:
        client.delete_table(TableName=name)


def test_the_interpreter_inside_motos_server_calls_the_backends_directly():
    moto_patches.install()  # outside mock_aws: the interpreter would call moto's server over HTTP
    client = boto_client.boto_client_for(REGION, "dynamodb")

    assert "TableNames" in client.list_tables()  # no server listens: only the backends can answer
