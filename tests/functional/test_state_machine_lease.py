"""The transform lease in the real state machine (moto, the real handlers, a fake dbt): a run whose
target's lease another RUNNING run holds waits, for free, without starting dbt; once that run has
ended it takes the lease over, runs dbt, says whom it waited for and gives the lease back; a run
that waits past its bound fails naming the holder; a failed dbt gives the lease back too."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import boto3

from chalicelib.run.transform_lease import TransformLeases
from tests.fakes import FakeDbtRunner, FakeFivetran
from tests.pipeline import REGION, Pipeline

TARGET = "duckdb"  # the local stack's DbtTarget (local/provision.py)
ROLE = "arn:aws:iam::123456789012:role/test"
WAIT_AN_HOUR = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}


def holding_run(pipeline: Pipeline) -> str:
    """Another run that holds the lease and stays RUNNING (an execution that waits an hour)."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name=f"holder-{time.monotonic_ns()}",
        definition=json.dumps(WAIT_AN_HOUR),
        roleArn=ROLE,
    )
    arn = str(sfn.start_execution(stateMachineArn=machine["stateMachineArn"])["executionArn"])
    leases = pipeline.deps.transform_leases
    assert leases is not None
    answer = leases.take(
        target=TARGET, execution_id=arn, now=datetime.now(UTC), deadline=None, dbt_timeout_seconds=3600
    )
    assert answer.held
    return arn


def wait_until_entered(pipeline: Pipeline, arn: str, state: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while state not in pipeline.states_entered(arn):
        assert time.monotonic() < deadline, f"{arn} never entered {state}: {pipeline.states_entered(arn)}"
        time.sleep(0.1)


def leases(pipeline: Pipeline) -> TransformLeases:
    assert pipeline.deps.transform_leases is not None
    return pipeline.deps.transform_leases


def test_a_run_waits_for_the_holder_then_takes_the_lease_over_once_the_holder_ended(moto_aws):
    pipeline = Pipeline(FakeFivetran())  # an empty group: straight to dbt
    holder = holding_run(pipeline)

    arn = pipeline.start({"group_id": "group"})
    wait_until_entered(pipeline, arn, "WaitForTransformLease")
    assert "RunDbt" not in pipeline.states_entered(arn) and pipeline.dbt.runs == []
    pipeline.sfn.stop_execution(executionArn=holder, error="Stopped", cause="a stuck run, stopped by hand")
    described = pipeline.wait_for_end(arn)

    assert described["status"] == "SUCCEEDED", described.get("cause")
    lease = json.loads(described["output"])["dbt"]["transform_lease"]
    assert lease["waited_for"] == holder
    assert lease["waited_s"] >= 1
    assert len(pipeline.dbt.runs) == 1
    assert leases(pipeline).holder(TARGET) is None  # given back after dbt


def test_a_run_that_never_waited_says_so_and_gives_the_lease_back(moto_aws):
    pipeline = Pipeline(FakeFivetran())

    described = pipeline.wait_for_end(pipeline.start({"group_id": "group"}))

    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert json.loads(described["output"])["dbt"]["transform_lease"] == {"waited_for": None, "waited_s": 0}
    assert leases(pipeline).holder(TARGET) is None


def test_a_failed_dbt_gives_the_lease_back_and_keeps_its_cause(moto_aws):
    pipeline = Pipeline(FakeFivetran(), dbt=FakeDbtRunner(exit_code=2))

    described = pipeline.wait_for_end(pipeline.start({"group_id": "group"}))

    assert described["status"] == "FAILED"
    assert described["error"] == "Orchestrator.DbtFailed"
    assert "exited with code 2" in described["cause"]
    assert leases(pipeline).holder(TARGET) is None


def test_past_its_bound_a_waiting_run_fails_naming_the_run_that_holds_the_lease(moto_aws):
    # The bound is the later of the deadline (start + 2 s) and one dbt_timeout_seconds (3 s) of waiting.
    pipeline = Pipeline(FakeFivetran(), tunables={"DbtTimeoutSeconds": 3})
    holder = holding_run(pipeline)

    described = pipeline.wait_for_end(pipeline.start({"group_id": "group", "sync_timeout_seconds": 2}))

    assert described["status"] == "FAILED"
    assert described["error"] == "Orchestrator.TransformLeaseTimedOut"
    assert holder in described["cause"]
    assert pipeline.dbt.runs == []
    assert leases(pipeline).holder(TARGET) == holder
