"""The safety net's webhook watchdog (``chalicelib/safety_net/webhook_watchdog.py``) on the stage's token
table (moto): what it finds for each webhook, at most one Fivetran read per interval, and a silent webhook
told apart from one lost delivery."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib.platform import metrics
from chalicelib.platform.errors import FivetranApiError
from chalicelib.safety_net.webhook_watchdog import (
    NOTE_EVERY_SECONDS,
    SILENT_AFTER_ENDS,
    WebhookState,
    WebhookWatch,
    judge,
    note_every,
    watch_webhook,
)
from tests.conftest import REGION
from tests.fakes import HEALTHY_WEBHOOK, STAGE_WEBHOOK_URL, FakeFivetran

T0 = 1_800_000_000.0
INTERVAL = 900


@pytest.fixture
def watch(token_table: str) -> WebhookWatch:
    return WebhookWatch(token_table, boto3.client("dynamodb", region_name=REGION))


@pytest.fixture
def emitted() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    metrics.set_stream(stream)
    yield stream
    metrics.set_stream(None)


def unhealthy_values(stream: io.StringIO) -> list[float]:
    docs = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [value for d in docs for value in d.get(metrics.WEBHOOK_UNHEALTHY, [])]


def hook(**changes: Any) -> dict[str, Any]:
    return {**HEALTHY_WEBHOOK, **changes}


def check(watch: WebhookWatch, fivetran: FakeFivetran | None, now: float, found_ends: int = 0) -> Any:
    return watch_webhook(
        watch, fivetran, now=now, found_ends=found_ends, url=STAGE_WEBHOOK_URL, interval_seconds=INTERVAL
    )


# -- what it finds (pure) ------------------------------------------------------------------------------


def test_an_active_webhook_to_the_stages_url_is_ok() -> None:
    verdict = judge([hook()], url=STAGE_WEBHOOK_URL + "/", found_ends=0, delivered_since_check=False)
    assert (verdict.state, verdict.webhook_id) == (WebhookState.OK, "webhook_stage")


def test_no_webhook_to_the_stages_url_is_missing_even_if_another_stage_has_one() -> None:
    other = hook(id="webhook_prod", url="https://other.example.com/api/webhooks/fivetran")
    verdict = judge([other], url=STAGE_WEBHOOK_URL, found_ends=0, delivered_since_check=True)
    assert verdict.state is WebhookState.MISSING
    assert f"no Fivetran webhook posts to {STAGE_WEBHOOK_URL}" in verdict.detail


def test_a_webhook_fivetran_disabled_is_inactive_and_says_register_webhook_re_activates_it() -> None:
    verdict = judge([hook(active=False)], url=STAGE_WEBHOOK_URL, found_ends=0, delivered_since_check=False)
    assert (verdict.state, verdict.unhealthy) == (WebhookState.INACTIVE, True)
    assert "orchestrator register-webhook --group <group_id> re-activates it" in verdict.detail


def test_an_active_webhook_that_delivered_nothing_while_the_safety_net_found_ends_is_silent() -> None:
    silent = judge([hook()], url=STAGE_WEBHOOK_URL, found_ends=SILENT_AFTER_ENDS, delivered_since_check=False)
    delivering = judge(
        [hook()], url=STAGE_WEBHOOK_URL, found_ends=SILENT_AFTER_ENDS, delivered_since_check=True
    )
    one_lost = judge([hook()], url=STAGE_WEBHOOK_URL, found_ends=1, delivered_since_check=False)

    assert silent.state is WebhookState.SILENT
    assert f"the safety net found {SILENT_AFTER_ENDS} sync ends itself" in silent.detail
    assert delivering.state is one_lost.state is WebhookState.OK


def test_without_a_known_url_any_webhook_to_the_route_path_stands_for_the_stages() -> None:
    assert judge([hook(active=False)], url=None, found_ends=0, delivered_since_check=False).state is (
        WebhookState.INACTIVE
    )
    elsewhere = hook(url="https://example.com/hooks")
    assert judge([elsewhere], url=None, found_ends=0, delivered_since_check=False).state is (
        WebhookState.MISSING
    )


# -- on the token table --------------------------------------------------------------------------------


def test_a_disabled_webhook_is_checked_once_per_interval_and_emits_webhook_unhealthy(watch, emitted) -> None:
    fivetran = FakeFivetran()
    fivetran.webhooks = [hook(active=False)]

    first = check(watch, fivetran, T0)
    within = check(watch, fivetran, T0 + 60)  # a per-minute safety net: no second read
    after = check(watch, fivetran, T0 + INTERVAL)

    assert first is not None and first.state is WebhookState.INACTIVE
    assert within is None
    assert after is not None and after.state is WebhookState.INACTIVE
    assert fivetran.webhook_reads == 2
    assert unhealthy_values(emitted) == [1.0, 1.0]
    assert watch.read().verdict == after


def test_a_silent_webhook_is_found_from_the_ends_the_safety_net_counted_since_the_last_check(
    watch, emitted
) -> None:
    fivetran = FakeFivetran()
    watch.note_delivery(T0 - 10, STAGE_WEBHOOK_URL)
    assert check(watch, fivetran, T0).state is WebhookState.OK  # delivered before this first check

    for minute in range(1, SILENT_AFTER_ENDS + 1):  # passes that each found an end the webhook missed
        assert check(watch, fivetran, T0 + 60 * minute, found_ends=1) is None
    silent = check(watch, fivetran, T0 + INTERVAL)

    assert silent is not None and silent.state is WebhookState.SILENT
    assert unhealthy_values(emitted) == [0.0, 1.0]
    assert watch.read().found_ends == 0  # the next check starts counting afresh


def test_a_delivery_since_the_last_check_keeps_the_webhook_healthy(watch) -> None:
    fivetran = FakeFivetran()
    check(watch, fivetran, T0)
    check(watch, fivetran, T0 + 60, found_ends=SILENT_AFTER_ENDS)

    watch.note_delivery(T0 + 120, None)

    assert check(watch, fivetran, T0 + INTERVAL).state is WebhookState.OK


def test_the_url_the_route_was_last_reached_at_stands_for_the_stages_when_none_is_configured(watch) -> None:
    fivetran = FakeFivetran()
    fivetran.webhooks = [hook(id="webhook_old", url="https://old.example.com/api/webhooks/fivetran")]
    watch.note_delivery(T0 - 10, STAGE_WEBHOOK_URL)

    verdict = watch_webhook(watch, fivetran, now=T0, found_ends=0, url=None, interval_seconds=INTERVAL)

    assert verdict is not None and verdict.state is WebhookState.MISSING


def test_a_fivetran_error_is_logged_and_the_check_waits_for_its_next_turn(watch, emitted) -> None:
    class Failing(FakeFivetran):
        def list_webhooks(self) -> list[dict[str, Any]]:
            self.webhook_reads += 1
            raise FivetranApiError("Fivetran answered 503", status=503)

    failing = Failing()

    assert check(watch, failing, T0) is None
    assert check(watch, failing, T0 + 60) is None
    assert failing.webhook_reads == 1
    assert unhealthy_values(emitted) == []


def test_without_a_fivetran_client_or_with_interval_0_nothing_is_read_but_ends_are_counted(watch) -> None:
    fivetran = FakeFivetran()

    assert check(watch, None, T0, found_ends=2) is None
    never = watch_webhook(watch, fivetran, now=T0, found_ends=1, url=STAGE_WEBHOOK_URL, interval_seconds=0)

    assert never is None and fivetran.webhook_reads == 0
    assert watch.read().found_ends == 3


# -- the route's delivery notes, at most one per NOTE_EVERY_SECONDS per container ---------------------


class FlakyDynamoDB:
    """A DynamoDB client whose next ``update_item`` is refused once (``fail_next``)."""

    def __init__(self) -> None:
        self.client = boto3.client("dynamodb", region_name=REGION)
        self.fail_next = False
        self.updates = 0

    def update_item(self, **request: Any) -> Any:
        self.updates += 1
        if self.fail_next:
            self.fail_next = False
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem")
        return self.client.update_item(**request)

    def get_item(self, **request: Any) -> Any:
        return self.client.get_item(**request)


def test_a_container_writes_one_delivery_note_per_interval_and_a_new_url_at_once(token_table) -> None:
    dynamodb = FlakyDynamoDB()
    watch = WebhookWatch(token_table, dynamodb)  # type: ignore[arg-type]
    new_url = STAGE_WEBHOOK_URL.replace("https://", "https://new.")

    watch.note_delivery(T0, STAGE_WEBHOOK_URL)
    watch.note_delivery(T0 + 30, None)
    watch.note_delivery(T0 + NOTE_EVERY_SECONDS - 1, STAGE_WEBHOOK_URL)
    assert (dynamodb.updates, watch.last_delivery()) == (1, (T0, STAGE_WEBHOOK_URL))

    watch.note_delivery(T0 + 40, new_url)  # reached at another URL: noted at once
    assert watch.last_delivery() == (T0 + 40, new_url)

    watch.note_delivery(T0 + 40 + NOTE_EVERY_SECONDS, None)
    assert (dynamodb.updates, watch.last_delivery()) == (3, (T0 + 40 + NOTE_EVERY_SECONDS, new_url))


def test_a_delivery_note_that_could_not_be_written_is_written_by_the_next_delivery(token_table) -> None:
    dynamodb = FlakyDynamoDB()
    watch = WebhookWatch(token_table, dynamodb)  # type: ignore[arg-type]

    dynamodb.fail_next = True
    watch.note_delivery(T0, STAGE_WEBHOOK_URL)  # refused, logged, never raised
    assert watch.last_delivery() == (None, None)

    watch.note_delivery(T0 + 1, STAGE_WEBHOOK_URL)
    assert watch.last_delivery() == (T0 + 1, STAGE_WEBHOOK_URL)


def test_a_delivery_noted_after_a_check_keeps_the_webhook_healthy_despite_the_throttle(watch) -> None:
    fivetran = FakeFivetran()
    watch.note_delivery(T0 - 10, STAGE_WEBHOOK_URL)
    check(watch, fivetran, T0)
    check(watch, fivetran, T0 + 60, found_ends=SILENT_AFTER_ENDS)

    watch.note_delivery(T0 + 20, STAGE_WEBHOOK_URL)  # within the interval of the note before the check
    watch.note_delivery(T0 + 120, STAGE_WEBHOOK_URL)  # a later delivery is written

    assert check(watch, fivetran, T0 + INTERVAL).state is WebhookState.OK


def test_notes_keep_pace_with_a_check_interval_shorter_than_fifteen_minutes(token_table) -> None:
    dynamodb = FlakyDynamoDB()
    every_second = WebhookWatch(token_table, dynamodb, note_every_seconds=note_every(1))  # type: ignore[arg-type]

    every_second.note_delivery(T0, STAGE_WEBHOOK_URL)
    every_second.note_delivery(T0 + 0.1, STAGE_WEBHOOK_URL)

    assert (note_every(900), note_every(0)) == (NOTE_EVERY_SECONDS, NOTE_EVERY_SECONDS)
    assert (dynamodb.updates, every_second.last_delivery()) == (2, (T0 + 0.1, STAGE_WEBHOOK_URL))
