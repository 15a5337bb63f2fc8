"""The safety net when Fivetran refuses the API key (401 after the client read the credentials again):
the waiting tokens end with a cause saying so once every read has been refused for
``FIVETRAN_AUTH_FAILURE_SECONDS``, instead of timing out hours later with a cause that blames the
connection; one read Fivetran answers resets the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.platform.errors import FivetranAuthError
from chalicelib.safety_net.reconcile import reconcile
from tests.fakes import FakeFivetran, connection
from tests.tokens import WaitingTask, park

BOUND = 900
REFUSED = FivetranAuthError(
    "Fivetran refused the API key for GET /v1/connections/stripe_prod (401 AuthFailed), also after reading"
    " the secret fivetran-orchestrator/dev/fivetran-api again: the key was revoked or rotated.",
    status=401,
)


class RefusingFivetran(FakeFivetran):
    def __init__(self) -> None:
        super().__init__(connection("stripe_prod"), connection("hubspot_crm"))
        self.refusing = True

    def get_connection(self, connection_id: str, *, timeout: float | None = None):
        if self.refusing:
            raise REFUSED
        return super().get_connection(connection_id)


@pytest.fixture
def waiting(moto_aws: None) -> WaitingTask:
    return WaitingTask()


def one_pass(deps, fivetran, now: datetime):
    return reconcile(
        deps.store,
        fivetran,
        deps.resolver(),
        now=now,
        older_than_seconds=0,
        max_connections=50,
        auth_failure_seconds=BOUND,
    )


def test_tokens_end_with_the_refused_key_cause_once_every_read_was_refused_past_the_bound(deps, waiting):
    fivetran = RefusingFivetran()
    runs = [waiting.start() for _ in range(2)]
    for (_, token), cid in zip(runs, ("stripe_prod", "hubspot_crm"), strict=True):
        park(deps.store, token, cid)
    start = datetime.now(UTC)

    first = one_pass(deps, fivetran, start)
    within = one_pass(deps, fivetran, start + timedelta(seconds=BOUND - 60))

    assert (first.auth_errors, within.auth_errors) == (2, 2)
    assert [waiting.status(arn) for arn, _ in runs] == ["RUNNING", "RUNNING"]

    past = one_pass(deps, fivetran, start + timedelta(seconds=BOUND + 1))

    assert past.resolution.completed == 2
    for arn, _ in runs:
        described = waiting.wait_for_end(arn)
        assert described["status"] == "FAILED"
        assert described["error"] == "Fivetran.SyncFailed"
        assert "AUTH_FAILED" in described["cause"]
        assert "could not read Fivetran for 15 minutes" in described["cause"]
        assert "Fivetran refused the API key" in described["cause"]
        assert "fivetran-orchestrator/dev/fivetran-api" in described["cause"]
    assert deps.store.count() == 0


def test_a_read_fivetran_answers_resets_the_clock(deps, waiting):
    fivetran = RefusingFivetran()
    arn, token = waiting.start()
    park(deps.store, token, "stripe_prod")
    start = datetime.now(UTC)

    one_pass(deps, fivetran, start)
    fivetran.refusing = False
    one_pass(deps, fivetran, start + timedelta(seconds=600))  # the key works again (rotated in time)
    fivetran.refusing = True
    later = one_pass(deps, fivetran, start + timedelta(seconds=BOUND + 1))

    assert later.auth_errors == 1
    assert later.resolution.completed == 0
    assert waiting.status(arn) == "RUNNING"
