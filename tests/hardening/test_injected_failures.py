"""Issue 8 §2: DynamoDB throttling and Step Functions errors injected on the webhook path.

Faults are raised at the client boundary (``FaultyClient`` around moto's clients) exactly where
boto3 would raise them once its own retries are spent. Tokens come from real waiting executions
in moto, so "exactly one outcome" is read from the execution history. The claim: a 5xx only
where Fivetran's retry is the right recovery, the token intact afterwards, and a later delivery
or the reconcile job heals it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from chalicelib.fivetran.syncs import SyncRecord
from chalicelib.platform.config import Settings
from chalicelib.platform.secrets import SecretSource
from chalicelib.safety_net.reconcile import reconcile
from chalicelib.tokens.callbacks import StepFunctionsCallbacks
from chalicelib.tokens.resolver import Resolver
from chalicelib.tokens.store import TokenStore
from chalicelib.wiring import Dependencies, set_dependencies
from tests.conftest import REGION, TABLE, WEBHOOK_SECRET
from tests.fakes import FakeFivetran, connection
from tests.hardening.support import FaultyClient, Route, encode, outcomes, park, raw_item, sync_end_body
from tests.tokens import WaitingTask

CONNECTOR = "stripe_prod"

SYNC_ID = "the-sync-the-history-shows"


@dataclass
class Rig:
    dynamodb: FaultyClient
    sfn: FaultyClient
    deps: Dependencies
    route: Route
    waiting: WaitingTask
    fivetran: FakeFivetran

    def store(self, *, lease_seconds: int = 60) -> TokenStore:
        return TokenStore(TABLE, self.dynamodb, lease_seconds=lease_seconds)

    def reconcile(self, *, lease_seconds: int = 60) -> Any:
        """The safety net as the scheduled Lambda runs it (``lease_seconds=0``: every lease is stale)."""
        store = self.store(lease_seconds=lease_seconds)
        return reconcile(
            store,
            self.fivetran,
            Resolver(store, StepFunctionsCallbacks(self.sfn)),
            now=datetime.now(UTC),
            older_than_seconds=0,
            max_connections=50,
        )


@pytest.fixture
def rig(moto_aws: None, token_table: str) -> Rig:
    settings = Settings(
        token_table=TABLE, webhook_secret=WEBHOOK_SECRET, fivetran_api_key="k", fivetran_api_secret="s"
    )
    dynamodb = FaultyClient(boto3.client("dynamodb", region_name=REGION))
    sfn = FaultyClient(boto3.client("stepfunctions", region_name=REGION))
    fivetran = FakeFivetran(connection(CONNECTOR))
    # The sync history says the sync ended a second ago (after every token here was parked): what
    # reconcile reads, under the id the webhook bodies here carry.
    now = datetime.now(UTC)
    fivetran.history[CONNECTOR] = [
        SyncRecord(
            SYNC_ID, now - timedelta(seconds=30), now - timedelta(seconds=1), "SUCCESSFUL", source="history"
        )
    ]
    deps = Dependencies(
        settings=settings,
        secrets=SecretSource(settings),
        store=TokenStore(TABLE, dynamodb),
        callbacks=StepFunctionsCallbacks(sfn),
        fivetran_factory=lambda credentials: fivetran,
    )
    set_dependencies(deps)
    return Rig(dynamodb, sfn, deps, Route(WEBHOOK_SECRET), WaitingTask(), fivetran)


# (client, method, error code, HTTP status) as AWS answers them.
TRANSIENT = [
    ("dynamodb", "query", "ProvisionedThroughputExceededException", 400),
    ("dynamodb", "query", "ThrottlingException", 400),
    ("dynamodb", "query", "InternalServerError", 500),
    ("dynamodb", "update_item", "ProvisionedThroughputExceededException", 400),
    ("dynamodb", "update_item", "RequestLimitExceeded", 400),
    ("sfn", "send_task_success", "ThrottlingException", 400),
    ("sfn", "send_task_success", "ServiceUnavailable", 503),
    ("sfn", "send_task_success", "InternalFailure", 500),
]
IDS = [f"{client}-{method}-{code}" for client, method, code, _ in TRANSIENT]


def _inject(rig: Rig, client: str, method: str, code: str, status: int) -> None:
    target = rig.dynamodb if client == "dynamodb" else rig.sfn
    target.fail(method, code, status=status, times=1)


@pytest.mark.parametrize(("client", "method", "code", "status"), TRANSIENT, ids=IDS)
def test_a_transient_aws_error_is_a_503_the_token_stays_parked_and_fivetrans_retry_completes_it(
    rig, client, method, code, status
):
    arn, token = rig.waiting.start()
    parked = park(rig.deps.store, token, CONNECTOR)
    body = sync_end_body(CONNECTOR)
    _inject(rig, client, method, code, status)

    refused = rig.route.deliver(body)

    assert refused.status == 503, refused.text
    assert "retry later" in refused.body["error"]
    assert rig.deps.store.get(CONNECTOR, parked.token_id) == parked
    assert "claimed_by" not in raw_item(TABLE, parked), "the token was left claimed"
    assert rig.waiting.status(arn) == "RUNNING"
    # Fivetran delivers the same event again later; by then AWS answers.
    retried = rig.route.deliver(body)
    assert retried.status == 200, retried.text
    assert retried.body["completed"] == 1
    assert rig.waiting.wait_for_end(arn)["status"] == "SUCCEEDED"
    assert outcomes(rig.waiting, arn) == ["TaskSucceeded"]
    assert rig.deps.store.count() == 0


@pytest.mark.parametrize(("client", "method", "code", "status"), TRANSIENT, ids=IDS)
def test_after_a_transient_aws_error_the_reconcile_job_heals_the_token_fivetran_never_redelivers(
    rig, client, method, code, status
):
    arn, token = rig.waiting.start()
    parked = park(rig.deps.store, token, CONNECTOR)
    _inject(rig, client, method, code, status)
    assert rig.route.deliver(sync_end_body(CONNECTOR)).status == 503

    report = rig.reconcile()

    assert report.resolution.completed == 1, report.to_dict()
    assert rig.waiting.wait_for_end(arn)["status"] == "SUCCEEDED"
    assert outcomes(rig.waiting, arn) == ["TaskSucceeded"]
    assert rig.deps.store.get(CONNECTOR, parked.token_id) is None


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
        ConnectTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
        ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    ],
    ids=["endpoint-unreachable", "connect-timeout", "read-timeout"],
)
@pytest.mark.parametrize("client", ["dynamodb", "sfn"])
def test_an_unreachable_aws_endpoint_is_a_503_and_the_token_stays(rig, client, error):
    arn, token = rig.waiting.start()
    parked = park(rig.deps.store, token, CONNECTOR)
    if client == "dynamodb":
        rig.dynamodb.fail_with("query", error)
    else:
        rig.sfn.fail_with("send_task_success", error)

    refused = rig.route.deliver(sync_end_body(CONNECTOR))

    assert refused.status == 503, refused.text
    assert rig.deps.store.get(CONNECTOR, parked.token_id) == parked
    assert "claimed_by" not in raw_item(TABLE, parked)
    assert rig.waiting.status(arn) == "RUNNING"


def test_when_the_delete_fails_after_the_outcome_was_sent_the_run_still_gets_exactly_one_outcome(rig):
    """The callback went through; only the clean-up failed. The leftover lease keeps a retried delivery
    from sending a second outcome, and the reconcile job deletes the token once the lease is stale."""
    arn, token = rig.waiting.start()
    parked = park(rig.deps.store, token, CONNECTOR)
    body = sync_end_body(CONNECTOR)
    rig.dynamodb.fail("delete_item", "ProvisionedThroughputExceededException")

    first = rig.route.deliver(body)

    assert first.status == 503, first.text
    assert rig.waiting.wait_for_end(arn)["status"] == "SUCCEEDED"
    assert rig.deps.store.get(CONNECTOR, parked.token_id) == parked  # not lost: still there to clean up
    retried = rig.route.deliver(body)
    assert retried.status == 200
    assert retried.body["completed"] == 0
    assert retried.body["busy"] == 1
    healed = rig.reconcile(lease_seconds=0)
    assert healed.resolution.already_resolved == 1, healed.to_dict()
    assert rig.deps.store.count() == 0
    assert outcomes(rig.waiting, arn) == ["TaskSucceeded"]


def test_when_releasing_the_lease_fails_too_the_token_waits_for_the_stale_lease_and_is_then_completed(rig):
    arn, token = rig.waiting.start()
    parked = park(rig.deps.store, token, CONNECTOR)
    rig.sfn.fail("send_task_success", "ThrottlingException")
    rig.dynamodb.fail(
        "update_item", "ProvisionedThroughputExceededException", after=2
    )  # recording the sync_end ok, the claim ok, the release not

    refused = rig.route.deliver(sync_end_body(CONNECTOR))

    assert refused.status == 503, refused.text
    assert rig.deps.store.get(CONNECTOR, parked.token_id) == parked
    assert rig.waiting.status(arn) == "RUNNING"
    assert rig.reconcile().resolution.busy == 1  # the lease is live: nobody sends a second outcome
    healed = rig.reconcile(lease_seconds=0)  # once it is stale
    assert healed.resolution.completed == 1, healed.to_dict()
    assert rig.waiting.wait_for_end(arn)["status"] == "SUCCEEDED"
    assert outcomes(rig.waiting, arn) == ["TaskSucceeded"]


def test_two_runs_waiting_on_one_connection_when_one_callback_is_throttled_each_still_gets_one_outcome(rig):
    (arn1, token1), (arn2, token2) = rig.waiting.start(), rig.waiting.start()
    park(rig.deps.store, token1, CONNECTOR)
    park(rig.deps.store, token2, CONNECTOR)
    body = sync_end_body(CONNECTOR)
    rig.sfn.fail("send_task_success", "ThrottlingException")  # the first of the two callbacks

    first = rig.route.deliver(body)

    assert first.status == 503, first.text
    assert first.body["completed"] == 1
    assert first.body["errors"] == 1
    assert rig.deps.store.count() == 1
    retried = rig.route.deliver(body)
    assert retried.status == 200
    assert retried.body["completed"] == 1
    for arn in (arn1, arn2):
        assert rig.waiting.wait_for_end(arn)["status"] == "SUCCEEDED"
        assert outcomes(rig.waiting, arn) == ["TaskSucceeded"]
    assert rig.deps.store.count() == 0


def test_a_task_step_functions_already_timed_out_is_a_200_and_its_token_is_deleted_not_retried(rig):
    parked = park(rig.deps.store, "token-of-a-timed-out-task", CONNECTOR)
    rig.sfn.fail("send_task_success", "TaskTimedOut")

    answer = rig.route.deliver(sync_end_body(CONNECTOR))

    assert answer.status == 200, answer.text
    assert answer.body["already_resolved"] == 1
    assert rig.deps.store.get(CONNECTOR, parked.token_id) is None


def test_with_dynamodb_and_step_functions_down_only_a_sync_end_gets_a_5xx(rig):
    """Deliveries that need neither service are answered as usual: a 5xx would only make Fivetran
    retry (and eventually disable the webhook) for nothing."""
    parked = park(rig.deps.store, "token", CONNECTOR)
    for method in ("query", "update_item", "delete_item", "get_item", "put_item", "scan"):
        rig.dynamodb.fail(method, "ProvisionedThroughputExceededException", times=100)
    for method in ("send_task_success", "send_task_failure", "send_task_heartbeat"):
        rig.sfn.fail(method, "ServiceUnavailable", status=503, times=100)
    probe = encode({"event": "test_event", "connector_id": "_connector_1", "group_id": "_destination_1"})
    other = sync_end_body(CONNECTOR).replace(b'"sync_end"', b'"resume_connector"')
    start = sync_end_body(CONNECTOR).replace(b'"sync_end"', b'"sync_start"')

    answers = {
        "test delivery": rig.route.deliver(probe).status,
        "other event": rig.route.deliver(other).status,
        "sync_start": rig.route.deliver(start).status,  # recorded before it is acknowledged
        "bad signature": rig.route.deliver(sync_end_body(CONNECTOR), secret="wrong").status,
        "malformed": rig.route.deliver(b'{"event": "sync_end", "created": "x"').status,
        "sync_end": rig.route.deliver(sync_end_body(CONNECTOR)).status,
    }

    assert answers == {
        "test delivery": 200,
        "other event": 200,
        "bad signature": 401,
        "malformed": 400,
        "sync_start": 503,
        "sync_end": 503,
    }
    rig.dynamodb.heal()
    assert rig.deps.store.get(CONNECTOR, parked.token_id) == parked
