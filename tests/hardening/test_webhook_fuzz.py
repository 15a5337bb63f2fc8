"""Issue 8 §1: the webhook under hostile input (hypothesis), through the route and the handler.

The route runs through the Chalice test client with the app's real dependencies on moto's
DynamoDB; Step Functions is ``RecordingStepFunctions`` (accepts callbacks, enforces the API's
size limits), so every attempt to complete a token is seen. One token is always parked for
``stripe_prod``; a property that must not complete it checks that it is still there, unclaimed.

Each property runs a fixed number of examples (``EXAMPLES`` under the ``thorough`` hypothesis profile,
a quarter of it under ``ci``, what ``make test`` runs: tests/hypothesis_profiles.py) with a per-example
deadline (``fuzz()``); the number actually run is printed and listed under "hardening figures".
"""

from __future__ import annotations

import json
import string
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chalicelib.platform.config import Settings
from chalicelib.tokens.records import TokenRecord
from chalicelib.webhook.handler import MAX_BODY_BYTES, handle_webhook
from chalicelib.webhook.signature import SIGNATURE_HEADER, sign
from chalicelib.wiring import Dependencies, set_dependencies
from tests.conftest import REGION, TABLE, WEBHOOK_SECRET
from tests.fakes import FakeFivetran
from tests.hardening.support import (
    ANSWER_BOUND_S,
    MAX_CAUSE,
    MAX_ERROR,
    KeyLimitedDynamoDB,
    RecordingStepFunctions,
    Route,
    encode,
    outcomes,
    park,
    raw_item,
    stamp,
    sync_end_body,
    sync_end_payload,
)
from tests.hypothesis_profiles import examples
from tests.tokens import WaitingTask

PARKED = "stripe_prod"
# Example counts under the thorough profile (about 35 s in all on 2 cores; ci runs a quarter of each);
# random data each run, no example database.
EXAMPLES = {
    "unsigned": 400,
    "duplicate_headers": 250,
    "signed_bytes": 400,
    "strange_events": 500,
    "replays": 200,
}


def fuzz(name: str) -> settings:
    return settings(
        max_examples=examples(EXAMPLES[name]),
        deadline=timedelta(seconds=5),
        database=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


@dataclass
class Harness:
    """The route, its moto-backed dependencies, the recorded callbacks and the token parked for PARKED."""

    deps: Dependencies
    sfn: RecordingStepFunctions
    route: Route
    fivetran: FakeFivetran
    parked: TokenRecord | None = None
    examples: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    slowest_s: float = 0.0

    def start_example(self) -> TokenRecord:
        """Each example starts with no recorded callback and a token parked (unclaimed) for PARKED."""
        self.examples += 1
        self.sfn.clear()
        if self.parked is not None and _claimed(self.deps, self.parked):
            # Left claimed by an example that failed: start the next one from a clean table.
            self.deps.store.remove(self.parked.connector_id, self.parked.token_id)
        if self.parked is None or self.deps.store.get(self.parked.connector_id, self.parked.token_id) is None:
            self.parked = park(self.deps.store, f"token-{uuid.uuid4()}", PARKED, ago=60)
        return self.parked

    def note(self, status: int, elapsed: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.slowest_s = max(self.slowest_s, elapsed)

    def token_untouched(self) -> None:
        assert self.parked is not None
        assert self.sfn.calls == [], "a callback was sent"
        assert self.deps.store.get(self.parked.connector_id, self.parked.token_id) == self.parked
        assert not _claimed(self.deps, self.parked), "the token was left claimed"

    def summary(self, name: str) -> str:
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(self.statuses.items()))
        return (
            f"hypothesis {name}: {self.examples} examples (max_examples={examples(EXAMPLES[name])}); "
            f"answers {{{counts}}}; slowest answer {self.slowest_s * 1000:.1f} ms"
        )


def _claimed(deps: Dependencies, record: TokenRecord) -> bool:
    item = raw_item(deps.store.table_name, record)
    return bool(item and "claimed_by" in item)


def _settings() -> Settings:
    return Settings(
        token_table=TABLE,
        fivetran_api_key="key",
        fivetran_api_secret="secret",
        webhook_secret=WEBHOOK_SECRET,
    )


@pytest.fixture
def harness(moto_aws: None, token_table: str) -> Iterator[Harness]:
    recorder = RecordingStepFunctions()
    dynamodb = KeyLimitedDynamoDB(boto3.client("dynamodb", region_name=REGION))
    fivetran = FakeFivetran()  # an empty sync history: what the webhooks say decides
    deps = Dependencies.from_clients(
        _settings(), dynamodb=dynamodb, stepfunctions=recorder, fivetran_factory=lambda credentials: fivetran
    )
    set_dependencies(deps)
    yield Harness(deps=deps, sfn=recorder, route=Route(WEBHOOK_SECRET), fivetran=fivetran)


# -- strategies ------------------------------------------------------------------------------------

SIGNATURE_NAMES = [
    SIGNATURE_HEADER,
    SIGNATURE_HEADER.lower(),
    SIGNATURE_HEADER.upper(),
    "x-FIVETRAN-signature-256",
    "X-Fivetran-Signature",
    "X-Fivetran-Signature-256 ",
    "X-Hub-Signature-256",
]
CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON", "text/plain", ""]
LONG = [65, 4096, 100_000]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
fivetran_keys = st.sampled_from(
    ["event", "created", "connector_id", "connector_type", "sync_id", "data", "destination_group_id"]
)
fivetran_like = st.dictionaries(
    fivetran_keys,
    st.one_of(json_values, st.sampled_from(["sync_end", "sync_start", "test_event", PARKED, "_connector_1"])),
    max_size=7,
)
bodies = st.one_of(
    st.binary(max_size=2048),
    st.text(max_size=400).map(lambda t: t.encode("utf-8")),
    json_values.map(encode),
    fivetran_like.map(encode),
    st.sampled_from(["SUCCESSFUL", "FAILURE", "RESCHEDULED"]).map(lambda s: sync_end_body(PARKED, s)),
    st.just(b"x" * (MAX_BODY_BYTES + 1)),
)


def signature_values(body: bytes) -> st.SearchStrategy[str]:
    good = sign(body, WEBHOOK_SECRET)
    return st.one_of(
        st.just(""),
        st.text(max_size=80),
        st.from_regex(r"[0-9a-fA-F]{0,128}", fullmatch=True),
        st.sampled_from(LONG).map(lambda n: "a" * n),
        st.just(sign(body + b" ", WEBHOOK_SECRET)),
        st.just(sign(body, "not-the-webhook-secret")),
        st.just("sha256=" + good),
        st.integers(0, 63).map(lambda i: good[:i] + ("0" if good[i] != "0" else "1") + good[i + 1 :]),
        st.just(good[:-1]),
    )


@st.composite
def unsigned_deliveries(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    """A body and a header set in which no signature header carries the body's signature."""
    body = draw(bodies)
    header_names = st.one_of(
        st.sampled_from(SIGNATURE_NAMES), st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True)
    )
    headers = draw(st.dictionaries(header_names, signature_values(body), max_size=5))
    content_type = draw(st.sampled_from([*CONTENT_TYPES, None]))
    if content_type is not None:
        headers["Content-Type"] = content_type
    return body, headers


def _correct(body: bytes, value: str) -> bool:
    return value.strip().lower() == sign(body, WEBHOOK_SECRET)


def _signature_values(headers: dict[str, str]) -> list[str]:
    return [v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()]


# -- without a correct signature -------------------------------------------------------------------


def test_any_body_with_any_headers_but_no_correct_signature_is_refused_and_completes_nothing(harness, figure):
    @fuzz("unsigned")
    @given(unsigned_deliveries())
    @example((sync_end_body(PARKED), {}))
    @example((sync_end_body(PARKED), {SIGNATURE_HEADER: "", "Content-Type": "application/json"}))
    @example((sync_end_body(PARKED), {SIGNATURE_HEADER: "a" * 100_000}))
    @example((sync_end_body(PARKED), {SIGNATURE_HEADER: "zz" * 32, SIGNATURE_HEADER.lower(): "0" * 64}))
    def check(delivery: tuple[bytes, dict[str, str]]) -> None:
        body, headers = delivery
        if any(_correct(body, v) for v in headers.values()):
            return  # not this property's case (vanishingly rare)
        harness.start_example()

        answer = harness.route.post(body, headers)

        harness.note(answer.status, answer.elapsed_s)
        assert answer.status in (401, 413, 415), answer.text
        if answer.status == 401:
            assert answer.body["error"] == "invalid signature"
            assert answer.body["detail"]
        assert answer.elapsed_s < ANSWER_BOUND_S
        harness.token_untouched()

    check()
    figure(harness.summary("unsigned"))


def test_duplicate_and_odd_case_signature_headers_never_raise_and_never_accept_a_wrong_signature(
    harness, figure
):
    """The handler itself, given header mappings with several spellings of the signature header."""
    # Each example parks its token 60 s before it runs: an end dated an hour ahead stays after every
    # example's acceptance however long the examples take on a loaded machine (one body for all).
    body = sync_end_body(
        PARKED, "FAILURE", reason="tampered?", created=datetime.now(UTC) + timedelta(hours=1)
    )
    good = sign(body, WEBHOOK_SECRET)
    spellings = st.sampled_from(SIGNATURE_NAMES[:4])
    values = st.one_of(st.just(good), st.just(good.upper()), signature_values(body))

    @fuzz("duplicate_headers")
    @given(st.dictionaries(spellings, values, max_size=4))
    @example({SIGNATURE_HEADER: "0" * 64, SIGNATURE_HEADER.lower(): good})
    @example({SIGNATURE_HEADER.lower(): good, SIGNATURE_HEADER: "0" * 64})
    def check(headers: dict[str, str]) -> None:
        parked = harness.start_example()

        started = time.perf_counter()
        result = handle_webhook(
            body,
            headers,
            secret=harness.deps.secrets.webhook_secret,
            resolver=harness.deps.resolver,
            history_reader=harness.fivetran.sync_history,
        )
        elapsed = time.perf_counter() - started

        harness.note(result.status, elapsed)
        assert elapsed < ANSWER_BOUND_S
        if not any(_correct(body, v) for v in headers.values()):
            assert result.status == 401
            harness.token_untouched()
        elif _correct(body, headers.get(SIGNATURE_HEADER, "")):
            assert result.status == 200  # the exact header name carries the right signature
        assert result.status in (200, 401)
        if result.status == 401:
            harness.token_untouched()
        else:
            assert result.body["completed"] == 1
            assert harness.deps.store.get(parked.connector_id, parked.token_id) is None

    check()
    figure(harness.summary("duplicate_headers"))


# -- correctly signed, arbitrary content -----------------------------------------------------------


def _check_signed_answer(harness: Harness, payload: Any, answer: Any) -> None:
    """What must hold for any correctly signed body."""
    harness.note(answer.status, answer.elapsed_s)
    assert answer.status in (200, 400, 413), answer.text
    assert answer.elapsed_s < ANSWER_BOUND_S
    if answer.status == 400:
        assert answer.body["error"] == "invalid payload"
        assert 0 < len(answer.body["detail"]) <= 300
    if answer.status == 413:
        assert answer.body["error"] == "payload too large"
    if answer.status != 200 or not harness.sfn.calls:
        harness.token_untouched()
        return
    assert answer.body["status"] == "ok"
    # Only a usable sync_end for the parked connection may complete its token, and exactly once.
    assert isinstance(payload, dict) and payload.get("event") == "sync_end"
    assert payload.get("connector_id") == PARKED
    assert len(harness.sfn.calls) == 1
    assert answer.body["completed"] == 1
    method, kwargs = harness.sfn.calls[0]
    if method == "send_task_failure":
        assert len(kwargs["error"]) <= MAX_ERROR and len(kwargs["cause"]) <= MAX_CAUSE
    assert harness.parked is not None
    assert harness.deps.store.get(PARKED, harness.parked.token_id) is None


def _payload(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def test_any_correctly_signed_body_is_answered_2xx_or_4xx_with_a_reason(harness, figure):
    @fuzz("signed_bytes")
    @given(bodies)
    @example(b"")
    @example(b"\xff\xfe\x00")
    @example(b"[1, 2, 3]")
    @example(b'{"event": 1}')
    @example(b'{"event":"sync_end","connector_id":"stripe_prod","sync_id":"s","data":[]}')
    @example(b"[" * 100_000)
    def check(body: bytes) -> None:
        harness.start_example()

        answer = harness.route.deliver(body)

        _check_signed_answer(harness, _payload(body), answer)

    check()
    figure(harness.summary("signed_bytes"))


# Signed but strange sync_end events: a genuine one for the parked connection, then mutated.

ENORMOUS = [10_000, 100_000, 400_000]
odd_text = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(min_codepoint=0x80), min_size=1, max_size=60),
    st.sampled_from(ENORMOUS).map(lambda n: "é" * n),
    st.sampled_from(ENORMOUS).map(lambda n: "x" * n),
)
timestamps = st.one_of(
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2200, 1, 1)).map(
        lambda d: stamp(d.replace(tzinfo=UTC))
    ),
    st.sampled_from(  # the ends of time, some of them out of range once converted to UTC
        [
            "9999-12-31T23:59:59.999Z",
            "9999-12-31T23:59:59.500-01:00",
            "0001-01-01T00:00:00Z",
            "0001-01-01T00:00:00+01:00",
        ]
    ),
    odd_text,
)
statuses = st.one_of(
    st.sampled_from(["SUCCESSFUL", "FAILURE", "FAILURE_WITH_TASK", "CANCELED", "RESCHEDULED", "successful"]),
    odd_text,
)
odd_values = st.one_of(json_values, odd_text, timestamps)


@st.composite
def strange_sync_ends(draw: st.DrawFn) -> dict[str, Any]:
    payload = sync_end_payload(PARKED, draw(statuses), created=datetime.now(UTC))
    data = payload["data"]
    for key in ("reason", "rescheduledAt", "taskType"):
        if draw(st.booleans()):
            data[key] = draw(st.one_of(odd_text, timestamps, json_values))
    for key in draw(st.lists(st.sampled_from(sorted(payload)), max_size=3, unique=True)):
        if draw(st.booleans()):
            del payload[key]
        else:
            payload[key] = draw(st.one_of(odd_values, st.lists(odd_values, max_size=3)))
    if draw(st.booleans()):
        payload["created"] = draw(timestamps)
    if draw(st.booleans()):
        payload[draw(st.text(string.ascii_letters, min_size=1, max_size=8))] = draw(json_values)
    return payload


def test_signed_but_strange_sync_end_events_never_get_a_5xx_and_keep_the_token_when_refused(harness, figure):
    @fuzz("strange_events")
    @given(strange_sync_ends())
    @example({**sync_end_payload(PARKED), "created": "not a date"})
    @example({**sync_end_payload(PARKED), "data": ["SUCCESSFUL"]})
    @example({**sync_end_payload(PARKED), "connector_id": 42})
    @example(sync_end_payload(PARKED, "SOMETHING_NEW_FROM_FIVETRAN"))
    @example(sync_end_payload(PARKED, "FAILURE", reason="ü" * 400_000))
    @example(sync_end_payload("ストライプ_prod", "FAILURE", reason="失敗しました"))
    @example({**sync_end_payload(PARKED), "created": "0001-01-01T00:00:00+01:00"})
    @example(
        {
            **sync_end_payload(PARKED, "RESCHEDULED", rescheduledAt="9999-12-31T23:59:59.500Z"),
            "created": "9999-12-31T23:58:00.000Z",
        }
    )
    @example(sync_end_payload(PARKED, sync_id="s" * 300_000))
    @example(sync_end_payload("c" * 3000))
    @example(sync_end_payload("\udfff", "FAILURE", reason="\ud800 lone surrogates, escaped in JSON"))
    def check(payload: dict[str, Any]) -> None:
        harness.start_example()

        answer = harness.route.deliver(encode(payload))

        _check_signed_answer(harness, payload, answer)

    check()
    figure(harness.summary("strange_events"))


# -- regressions for what the properties found: each a signed event that must not get a 5xx ----------


def test_a_signed_body_nested_deeper_than_the_json_parser_allows_is_a_400_not_a_500(harness):
    for body in (b"[" * 100_000, b'{"a":' * 100_000):
        harness.start_example()

        answer = harness.route.deliver(body)

        assert answer.status == 400, answer.text
        harness.token_untouched()


@pytest.mark.parametrize(
    "created",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"],
    ids=["before-year-1-in-utc", "after-year-9999-in-utc"],
)
def test_a_signed_sync_end_whose_created_is_out_of_range_in_utc_is_a_400_not_a_500(harness, created):
    harness.start_example()

    answer = harness.route.deliver(encode({**sync_end_payload(PARKED), "created": created}))

    assert answer.status == 400, answer.text
    assert "created" in answer.body["detail"]
    harness.token_untouched()


@pytest.mark.parametrize(
    "data",
    [
        {"status": "RESCHEDULED"},  # created + the default 5 minutes is past year 9999
        {"status": "RESCHEDULED", "rescheduledAt": "9999-12-31T23:59:59.500Z"},  # rounded up past 9999
        {"status": "RESCHEDULED", "reason": "Rescheduled for 9999-12-31T23:59:59.900Z, quota"},
    ],
    ids=["default-delay", "rescheduled-at", "reason-text"],
)
def test_a_signed_rescheduled_sync_end_at_the_end_of_time_gets_no_5xx_and_leaves_no_claimed_token(
    harness, data
):
    harness.start_example()
    payload = {**sync_end_payload(PARKED), "created": "9999-12-31T23:58:00.000Z", "data": data}

    answer = harness.route.deliver(encode(payload))

    assert answer.status in (200, 400), answer.text
    if not harness.sfn.calls:
        harness.token_untouched()


def test_a_signed_successful_sync_end_with_an_enormous_sync_id_is_not_a_5xx(harness):
    """Step Functions refuses an output over 256 KiB; Fivetran's retries would all fail the same way."""
    harness.start_example()

    answer = harness.route.deliver(sync_end_body(PARKED, sync_id="s" * 300_000))

    assert answer.status in (200, 400), answer.text
    if answer.status == 400:
        harness.token_untouched()


@pytest.mark.parametrize("length", [2049, 100_000])
def test_a_signed_sync_end_for_a_connector_id_longer_than_a_dynamodb_key_is_not_a_5xx(harness, length):
    """DynamoDB refuses such a key (ValidationException): no retry can help, so a 503 would only make
    Fivetran retry until it disables the webhook."""
    harness.start_example()

    answer = harness.route.deliver(sync_end_body("c" * length))

    assert answer.status in (200, 400), answer.text
    harness.token_untouched()


# -- replays -----------------------------------------------------------------------------------------

T0 = datetime(2026, 1, 15, 10, 0, 0, 386000, tzinfo=UTC)  # whole milliseconds, as Fivetran stamps


def test_a_sync_end_alone_completes_a_token_only_if_it_ended_after_the_acceptance_second_and_only_once(
    harness, figure
):
    """Without a ``sync_start`` and with nothing in the sync history, a ``sync_end`` is the token's
    only if it ended after the second in which Fivetran accepted the trigger (the token's anchor);
    one that ended inside that second may belong to a sync that ended before the trigger, so it
    waits (the safety net decides from the history). ``T0`` is 386 ms into its second."""
    offsets_ms = st.one_of(
        st.integers(-3, 3),
        st.integers(-600_000, 600_000),
        st.integers(-3 * 86_400_000, 3 * 86_400_000),
    )

    @fuzz("replays")
    @given(offset_ms=offsets_ms, copies=st.integers(1, 3))
    @example(offset_ms=0, copies=2)
    @example(offset_ms=1, copies=3)
    @example(offset_ms=613, copies=1)
    @example(offset_ms=614, copies=2)
    @example(offset_ms=-1, copies=1)
    def check(offset_ms: int, copies: int) -> None:
        harness.start_example()
        connector = f"replayed_{uuid.uuid4().hex[:8]}"
        record = park(harness.deps.store, f"token-{uuid.uuid4()}", connector, at=T0)
        body = sync_end_body(connector, created=T0 + timedelta(milliseconds=offset_ms))

        answers = [harness.route.deliver(body) for _ in range(copies)]

        for answer in answers:
            harness.note(answer.status, answer.elapsed_s)
            assert answer.status == 200, answer.text
        assert record.accepted_at is not None
        ended_after = T0 + timedelta(milliseconds=offset_ms) >= record.accepted_at + timedelta(seconds=1)
        assert sum(a.body["completed"] for a in answers) == (1 if ended_after else 0)
        assert len(harness.sfn.calls) == (1 if ended_after else 0)
        left = harness.deps.store.get(connector, record.token_id)
        assert (left is None) == ended_after
        if not ended_after:
            assert all(a.body["newer_than_event"] == 1 for a in answers)

    check()
    figure(harness.summary("replays"))


@pytest.fixture
def real_sfn(moto_aws: None, token_table: str) -> Callable[[], Dependencies]:
    def install() -> Dependencies:
        fivetran = FakeFivetran()
        built = Dependencies.from_clients(
            _settings(),
            dynamodb=boto3.client("dynamodb", region_name=REGION),
            stepfunctions=boto3.client("stepfunctions", region_name=REGION),
            fivetran_factory=lambda credentials: fivetran,
        )
        set_dependencies(built)
        return built

    return install


def test_the_same_signed_sync_end_delivered_again_hours_later_completes_nothing_new(real_sfn):
    deps = real_sfn()
    waiting = WaitingTask()
    route = Route(WEBHOOK_SECRET)
    now = datetime.now(UTC)
    first_arn, first_token = waiting.start()
    park(deps.store, first_token, PARKED, at=now - timedelta(hours=3))
    body = sync_end_body(PARKED, created=now - timedelta(hours=2, minutes=59))
    assert route.deliver(body).body["completed"] == 1
    assert waiting.wait_for_end(first_arn)["status"] == "SUCCEEDED"
    # Hours later a new run parks a token for the same connection; then the old delivery comes again.
    second_arn, second_token = waiting.start()
    second = park(deps.store, second_token, PARKED, at=now)

    replays = [route.deliver(body) for _ in range(3)]

    assert [r.status for r in replays] == [200, 200, 200]
    assert sum(r.body["completed"] + r.body["already_resolved"] for r in replays) == 0
    assert all(r.body["newer_than_event"] == 1 for r in replays)
    assert deps.store.get(PARKED, second.token_id) == second
    assert waiting.status(second_arn) == "RUNNING"
    assert outcomes(waiting, first_arn) == ["TaskSucceeded"]
    # Its own sync_end still completes it.
    assert route.deliver(sync_end_body(PARKED, created=now + timedelta(seconds=1))).body["completed"] == 1
    assert waiting.wait_for_end(second_arn)["status"] == "SUCCEEDED"
    assert outcomes(waiting, second_arn) == ["TaskSucceeded"]
