"""The transform lease (one dbt at a time per stage and target) on moto's DynamoDB and Step Functions:
take a free lease, wait while a RUNNING run holds it, take it over from a run that ended without
releasing it, release it, and give up past the run's bound naming the holder. Also the
``transform_lease`` Lambda entry point's input checks."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from chalice.test import Client

from app import app
from chalicelib.platform.errors import InvalidInput, TransformLeaseError, TransformLeaseTimedOut
from chalicelib.run.transform_lease import MAX_WAIT_SECONDS, TransformLeases, lease_key, wait_seconds
from chalicelib.tokens.store import TokenStore
from chalicelib.wiring import Dependencies
from tests.conftest import REGION

ROOT = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::123456789012:role/test"
NOW = datetime(2026, 1, 15, 10, 0, 0, tzinfo=UTC)
FAR = NOW + timedelta(hours=6)
TARGET = "snowflake"


@pytest.fixture
def sfn(moto_aws: None) -> Any:
    return boto3.client("stepfunctions", region_name=REGION)


@pytest.fixture
def leases(token_table: str, sfn: Any) -> TransformLeases:
    return TransformLeases(token_table, boto3.client("dynamodb", region_name=REGION), sfn)


def running_execution(sfn: Any, name: str) -> str:
    """A real execution that stays RUNNING (it waits an hour)."""
    machine = sfn.create_state_machine(
        name=f"m-{name}-{time.monotonic_ns()}",
        definition=json.dumps(
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
        ),
        roleArn=ROLE,
    )
    return str(sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name=name)["executionArn"])


def take(leases: TransformLeases, execution: str, **kwargs: Any) -> Any:
    arguments: dict[str, Any] = {"now": NOW, "deadline": FAR, "dbt_timeout_seconds": 7200, **kwargs}
    return leases.take(target=TARGET, execution_id=execution, **arguments)


def test_a_free_lease_is_taken_at_once_and_says_the_run_never_waited(leases, sfn):
    run_a = running_execution(sfn, "a")

    answer = take(leases, run_a)

    assert (answer.held, answer.waited_for, answer.waited_s, answer.wait_seconds) == (True, None, 0, 0)
    assert leases.holder(TARGET) == run_a


def test_while_a_running_run_holds_it_another_run_is_told_to_wait_for_that_run(leases, sfn):
    run_a, run_b = running_execution(sfn, "a"), running_execution(sfn, "b")
    take(leases, run_a)

    answer = take(leases, run_b)

    assert answer.held is False
    assert answer.waited_for == run_a
    assert answer.wait_seconds >= 1
    assert leases.holder(TARGET) == run_a


def test_a_retried_take_by_the_holder_keeps_the_lease(leases, sfn):
    run_a = running_execution(sfn, "a")
    take(leases, run_a)

    assert take(leases, run_a).held is True


def test_the_lease_of_one_target_never_blocks_another_target(leases, sfn):
    run_a, run_b = running_execution(sfn, "a"), running_execution(sfn, "b")
    take(leases, run_a)

    assert leases.take(
        target="duckdb", execution_id=run_b, now=NOW, deadline=FAR, dbt_timeout_seconds=60
    ).held


def test_once_the_holder_releases_it_the_waiting_run_takes_it_and_says_whom_and_how_long_it_waited(
    leases, sfn
):
    run_a, run_b = running_execution(sfn, "a"), running_execution(sfn, "b")
    take(leases, run_a)
    first = take(leases, run_b)

    assert leases.release(target=TARGET, execution_id=run_a) is True
    answer = take(leases, run_b, now=NOW + timedelta(seconds=42), previous=first.to_dict())

    assert (answer.held, answer.waited_for, answer.waited_s) == (True, run_a, 42)
    assert leases.holder(TARGET) == run_b


def test_a_holder_whose_execution_ended_without_releasing_is_taken_over(leases, sfn):
    run_a, run_b = running_execution(sfn, "a"), running_execution(sfn, "b")
    take(leases, run_a)
    sfn.stop_execution(executionArn=run_a, error="Stopped", cause="by hand")

    answer = take(leases, run_b)

    assert (answer.held, answer.holder) == (True, run_b)
    assert leases.holder(TARGET) == run_b


def test_a_holder_step_functions_no_longer_knows_is_taken_over(leases, sfn):
    forgotten = "arn:aws:states:us-east-1:123456789012:execution:fivetran-orchestrator-dev:gone"
    leases.take(target=TARGET, execution_id=forgotten, now=NOW, deadline=FAR, dbt_timeout_seconds=60)
    run_b = running_execution(sfn, "b")

    assert take(leases, run_b).held is True


def test_only_the_holder_can_release_and_a_second_release_is_a_no_op(leases, sfn):
    run_a, run_b = running_execution(sfn, "a"), running_execution(sfn, "b")
    take(leases, run_a)

    assert leases.release(target=TARGET, execution_id=run_b) is False
    assert leases.holder(TARGET) == run_a
    assert leases.release(target=TARGET, execution_id=run_a) is True
    assert leases.release(target=TARGET, execution_id=run_a) is False
    assert leases.holder(TARGET) is None


def test_past_the_runs_deadline_the_wait_ends_with_a_named_error_naming_the_holder(leases, sfn):
    run_a, run_b = running_execution(sfn, "a"), running_execution(sfn, "b")
    take(leases, run_a)
    began = take(leases, run_b, dbt_timeout_seconds=60).to_dict()

    with pytest.raises(TransformLeaseTimedOut) as raised:
        take(leases, run_b, now=NOW + timedelta(hours=6), dbt_timeout_seconds=60, previous=began)

    assert run_a in str(raised.value)
    assert "still RUNNING" in str(raised.value)
    assert type(raised.value).__name__ == "Orchestrator.TransformLeaseTimedOut"
    assert leases.holder(TARGET) == run_a


def test_a_run_whose_deadline_has_nearly_passed_may_still_wait_out_one_dbt_timeout(leases, sfn):
    run_a, run_b = running_execution(sfn, "a"), running_execution(sfn, "b")
    take(leases, run_a)
    began = take(leases, run_b, deadline=NOW, dbt_timeout_seconds=600).to_dict()

    assert take(leases, run_b, now=NOW + timedelta(seconds=500), deadline=NOW, previous=began).held is False
    with pytest.raises(TransformLeaseTimedOut):
        take(
            leases,
            run_b,
            now=NOW + timedelta(seconds=600),
            deadline=NOW,
            dbt_timeout_seconds=600,
            previous=began,
        )


def test_the_lease_is_not_a_parked_token(leases, sfn, token_table):
    take(leases, running_execution(sfn, "a"))
    store = TokenStore(token_table, boto3.client("dynamodb", region_name=REGION))

    assert store.count() == 0
    assert list(store.all_parked()) == []


def test_an_unreachable_table_is_a_transform_lease_error_not_a_botocore_error(sfn):
    leases = TransformLeases("no-such-table", boto3.client("dynamodb", region_name=REGION), sfn)

    with pytest.raises(TransformLeaseError, match="ResourceNotFoundException"):
        take(leases, "arn:aws:states:us-east-1:123456789012:execution:m:a")


class RefusingStepFunctions:
    """A Step Functions client whose DescribeExecution is denied (a policy without the permission)."""

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeExecution")


def test_a_denied_describe_execution_names_the_call_and_the_holder(token_table, sfn):
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    holder = running_execution(sfn, "a")
    TransformLeases(token_table, dynamodb, sfn).take(
        target=TARGET, execution_id=holder, now=NOW, deadline=FAR, dbt_timeout_seconds=60
    )

    with pytest.raises(TransformLeaseError, match="states:DescribeExecution answered AccessDeniedException"):
        take(TransformLeases(token_table, dynamodb, RefusingStepFunctions()), "run-b")


def test_the_lease_item_sits_in_the_lease_partition_keyed_by_target(leases, sfn, token_table):
    run_a = running_execution(sfn, "a")
    take(leases, run_a)

    item = boto3.client("dynamodb", region_name=REGION).get_item(TableName=token_table, Key=lease_key(TARGET))
    assert item["Item"]["token_id"]["S"] == "transform#snowflake"
    assert item["Item"]["holder"]["S"] == run_a


@pytest.mark.parametrize(("waited", "expected"), [(0, 1), (3, 1), (8, 2), (60, 15), (3600, MAX_WAIT_SECONDS)])
def test_the_wait_is_a_quarter_of_the_time_waited_at_least_one_second_at_most_the_cap(waited, expected):
    assert wait_seconds(waited) == expected


# -- the Lambda entry point ------------------------------------------------------------------------


@pytest.fixture
def client(deps: Dependencies) -> Client:
    return Client(app, stage_name="dev", project_dir=str(ROOT))


def test_the_entry_point_takes_and_releases_through_the_state_machines_payload(client, sfn):
    run_a = running_execution(sfn, "a")
    payload = {"target": TARGET, "execution_id": run_a}

    taken = client.lambda_.invoke(
        "transform_lease",
        {
            **payload,
            "action": "take",
            "deadline": "2099-01-01T00:00:00Z",
            "dbt_timeout_seconds": 60,
            "previous": {"since": None, "waited_for": None},
        },
    ).payload
    released = client.lambda_.invoke("transform_lease", {**payload, "action": "release"}).payload

    assert taken["held"] is True and taken["waited_for"] is None
    assert released == {"released": True}


@pytest.mark.parametrize(
    "event",
    [{}, {"action": "steal", "target": TARGET, "execution_id": "x"}, {"action": "take", "target": TARGET}],
)
def test_the_entry_point_refuses_an_event_without_action_target_or_execution(client, event):
    with pytest.raises(InvalidInput):
        client.lambda_.invoke("transform_lease", event)
