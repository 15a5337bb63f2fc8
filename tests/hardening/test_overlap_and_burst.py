"""Issue 8 §2: runs that overlap on one connection, and a burst of webhooks while runs wait.

- Overlap: the real state machine in moto (``tests/pipeline.Pipeline``), two executions syncing the
  same connection at once; one ``sync_end`` hands each exactly one outcome.
- Burst: the local runtime (moto server, the Fivetran simulator, ``chalice local`` serving the real
  route). Two executions wait on ten connections that never end by themselves; then 500 webhooks
  (genuine, duplicated, replayed, for unknown connections, test deliveries, other events, wrongly
  signed, malformed) hit ``chalice local`` on 127.0.0.1 from 8 threads. None lost, none doubled,
  no 5xx; the figures are printed.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from chalicelib.webhook.signature import SIGNATURE_HEADER, sign
from local.runtime import WEBHOOK_SECRET as LOCAL_SECRET
from local.runtime import LocalRuntime
from local.scenario import parse_scenario
from tests.conftest import PATIENCE_S
from tests.fakes import FakeFivetran, connection
from tests.hardening.support import encode, percentile, sync_end_payload
from tests.pipeline import Pipeline
from tests.pipeline import sync_end_body as pipeline_sync_end


def _sync_outcomes(pipeline: Pipeline, arn: str) -> list[str]:
    """How each sync task of one execution ended (one entry per connection: its child execution's
    recorded outcome), as the task event Step Functions wrote for it."""
    return [
        "TaskSucceeded" if o["outcome"] == "succeeded" else "TaskFailed"
        for o in pipeline.outcomes_of(arn).values()
    ]


# -- overlap -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected_run", "expected_outcome"),
    [("SUCCESSFUL", "SUCCEEDED", "TaskSucceeded"), ("FAILURE", "FAILED", "TaskFailed")],
    ids=["success", "failure"],
)
def test_two_runs_syncing_the_same_connection_at_once_each_get_exactly_one_outcome_from_one_sync_end(
    moto_aws, status, expected_run, expected_outcome
):
    fivetran = FakeFivetran(connection("stripe_prod", schema="stripe"), connection("hubspot_crm"))
    pipeline = Pipeline(fivetran)
    first = pipeline.start({"connector_ids": ["stripe_prod", "hubspot_crm"]})
    second = pipeline.start({"connector_ids": ["stripe_prod"]})
    # Armed: each trigger answered too (start_sync parks, then triggers, then writes what the trigger
    # said into the token); on a loaded machine the reads below could otherwise run in between.
    pipeline.wait_for_tokens(3, armed=True)
    assert len(pipeline.store.parked_for("stripe_prod")) == 2
    assert fivetran.triggered.count("stripe_prod") == 2  # Fivetran joins the running sync (force=false)

    # Fivetran's events for the one sync both runs wait for (the second trigger joined it), and hubspot's.
    for cid, sync_id in (("stripe_prod", "shared-sync"), ("hubspot_crm", "hubspot-sync")):
        assert (
            pipeline.deliver(pipeline_sync_end(cid, event="sync_start", sync_id=sync_id)).status_code == 200
        )
    shared = pipeline.deliver(pipeline_sync_end("stripe_prod", status, sync_id="shared-sync", reason="boom"))
    own = pipeline.deliver(pipeline_sync_end("hubspot_crm", sync_id="hubspot-sync"))

    assert shared.status_code == 200 and shared.json_body["completed"] == 2, shared.json_body
    assert own.json_body["completed"] == 1
    for arn in (first, second):
        assert pipeline.wait_for_end(arn)["status"] == expected_run
    assert _sync_outcomes(pipeline, second) == [expected_outcome]
    assert sorted(_sync_outcomes(pipeline, first)) == sorted([expected_outcome, "TaskSucceeded"])
    assert pipeline.store.count() == 0


def test_a_run_that_starts_after_the_shared_sync_ended_is_not_completed_by_that_sync_end(moto_aws):
    fivetran = FakeFivetran(connection("stripe_prod", schema="stripe"))
    pipeline = Pipeline(fivetran)
    first = pipeline.start({"connector_ids": ["stripe_prod"]})
    pipeline.wait_for_tokens(1, armed=True)  # its trigger answered: the ends below are judged, not kept
    now = datetime.now(UTC)
    started = pipeline_sync_end("stripe_prod", event="sync_start", sync_id="first-sync", created=now)
    ended = pipeline_sync_end("stripe_prod", sync_id="first-sync", created=now + timedelta(seconds=2))
    assert pipeline.deliver(started).json_body["completed"] == 0
    assert pipeline.deliver(ended).json_body["completed"] == 1
    time.sleep(max(0.0, (now + timedelta(seconds=3) - datetime.now(UTC)).total_seconds()))  # a later trigger
    late = pipeline.start({"connector_ids": ["stripe_prod"]})
    pipeline.wait_for_tokens(1, armed=True)  # armed: the replay is judged against its acceptance

    replayed = pipeline.deliver(ended)

    assert replayed.status_code == 200
    assert replayed.json_body["completed"] == 0
    assert replayed.json_body["newer_than_event"] == 1
    assert pipeline.sfn.describe_execution(executionArn=late)["status"] == "RUNNING"
    pipeline.finish("stripe_prod")
    for arn in (first, late):
        assert pipeline.wait_for_end(arn)["status"] == "SUCCEEDED"
        assert _sync_outcomes(pipeline, arn) == ["TaskSucceeded"]


# -- burst ---------------------------------------------------------------------------------------------

CONNECTORS = [f"burst_{i:02d}" for i in range(10)]
FAILING = "burst_09"
WORKERS = 8
BURST_DEADLINE_S = 60


def _scenario() -> Any:
    return parse_scenario(
        {
            "name": "burst",
            "group_id": "burst_group",
            "input": {"on_sync_failure": "fail"},
            "settings": {"heartbeat_seconds": 120, "timeout_s": 60, "reconcile_interval_s": 1},
            "connectors": [
                {"id": cid, "sync": {"duration_s": 0.2, "outcome": "never_ends", "rows": 5}}
                for cid in CONNECTORS
            ],
            "expect": {"status": "FAILED", "dbt_ran": False},
        }
    )


def _deliveries(now: datetime, sync_ids: dict[str, str]) -> list[tuple[str, bytes, str]]:
    """500 deliveries: (kind, body, signature header), in a fixed shuffled order. ``sync_ids``: the
    sync each connection's runs wait for (the one the simulator is running)."""
    good = LOCAL_SECRET
    out: list[tuple[str, bytes, str]] = []
    for cid in CONNECTORS:
        status = "FAILURE" if cid == FAILING else "SUCCESSFUL"
        for n in range(2):  # the sync's own sync_end and a second (replayed, later) one
            body = encode(
                sync_end_payload(
                    cid,
                    status,
                    created=now + timedelta(seconds=n),
                    sync_id=sync_ids[cid],
                    reason="burst failure",
                )
            )
            out += [("genuine", body, sign(body, good))] * 6
    for i in range(80):
        body = encode(
            {"event": "test_event", "connector_id": f"_connector_{i}", "group_id": "_destination_1"}
        )
        out.append(("test", body, sign(body, good)))
    for i in range(80):
        body = encode({**sync_end_payload(CONNECTORS[i % 10], created=now), "event": "sync_start"})
        out.append(("other", body, sign(body, good)))
    for i in range(100):
        body = encode(sync_end_payload(f"unknown_{i}", created=now))
        out.append(("unknown", body, sign(body, good)))
    for i in range(80):
        # Would fail a connection that succeeded, if it were ever believed.
        body = encode(sync_end_payload(CONNECTORS[i % 9], "FAILURE", created=now, reason="forged"))
        out.append(("forged", body, sign(body, "not-the-webhook-secret")))
    for i in range(40):
        body = b'{"event": "sync_end", "connector_id": "' + CONNECTORS[i % 10].encode() + b'", '
        out.append(("malformed", body, sign(body, good)))
    random.Random(8).shuffle(out)
    return out


EXPECTED_STATUS = {
    "genuine": 200,
    "test": 200,
    "other": 200,
    "unknown": 200,
    "forged": 401,
    "malformed": 400,
}


def _raw_post(port: int, body: bytes, headers: list[tuple[str, str | bytes]]) -> int:
    """A request as raw header lines (duplicates and bytes allowed), to reach what a client library tidies."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("POST", "/webhooks/fivetran")
        for name, value in headers:
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.e2e
def test_a_burst_of_500_webhooks_while_two_runs_wait_loses_none_doubles_none_and_gets_no_5xx(
    tmp_path, figure
):
    # dbt is not the subject: the stand-in (local/dbt_standin.py) ends each run as the entrypoint does.
    with LocalRuntime(_scenario(), workdir=tmp_path, dbt="stand-in") as runtime:
        assert runtime.chalice is not None and runtime.deps is not None
        url = f"{runtime.chalice.url}/webhooks/fivetran"
        runs = [runtime.start_execution(), runtime.start_execution()]
        deadline = time.monotonic() + PATIENCE_S
        # Armed: both runs' triggers answered (the second run's wait for each connection's trigger slot,
        # chalicelib/tokens/trigger_spacing.py, then joined the running sync), so the burst's ends, dated
        # two seconds ahead, come after every acceptance, as Fivetran's would.
        while (armed := sum(r.anchor is not None for r in runtime.deps.store.all_parked())) < 2 * len(
            CONNECTORS
        ):
            assert time.monotonic() < deadline, f"only {armed} tokens armed"
            time.sleep(0.1)
        for cid in CONNECTORS:  # both runs wait on every connection
            assert len(runtime.deps.store.parked_for(cid)) == 2

        # Odd HTTP first: duplicate header lines, non-ASCII bytes, no content type. Nothing parked is touched.
        probe = encode(sync_end_payload("unknown_raw", created=datetime.now(UTC)))
        good = sign(probe, LOCAL_SECRET)
        odd = {
            "duplicate, wrong first": [(SIGNATURE_HEADER, "0" * 64), (SIGNATURE_HEADER, good)],
            "duplicate, right first": [(SIGNATURE_HEADER, good), (SIGNATURE_HEADER, "0" * 64)],
            "two spellings": [(SIGNATURE_HEADER.lower(), good), (SIGNATURE_HEADER.upper(), "f" * 64)],
            "latin-1 bytes": [(SIGNATURE_HEADER, "é".encode("latin-1") * 64)],
            "utf-8 bytes": [(SIGNATURE_HEADER, "署名".encode() * 20)],
            "no content type": [(SIGNATURE_HEADER, good)],
            "empty": [(SIGNATURE_HEADER, "")],
        }
        odd_statuses = {
            name: _raw_post(
                runtime.chalice.port,
                probe,
                headers if name == "no content type" else [("Content-Type", "application/json"), *headers],
            )
            for name, headers in odd.items()
        }
        assert all(status < 500 for status in odd_statuses.values()), odd_statuses
        assert odd_statuses["latin-1 bytes"] == odd_statuses["utf-8 bytes"] == odd_statuses["empty"] == 401
        assert runtime.deps.store.count() == 2 * len(CONNECTORS)

        running = {cid: runtime.simulator.connections[cid].running for cid in CONNECTORS}
        assert all(running.values()), running
        deliveries = _deliveries(
            runtime.simulator.now_f() + timedelta(seconds=2), {cid: s.sync_id for cid, s in running.items()}
        )
        local = threading.local()
        stop_at = time.monotonic() + BURST_DEADLINE_S

        def post(delivery: tuple[str, bytes, str]) -> tuple[str, int, float, Any]:
            kind, body, signature = delivery
            if time.monotonic() > stop_at:
                return kind, -1, 0.0, None
            session = getattr(local, "session", None) or requests.Session()
            local.session = session
            started = time.perf_counter()
            response = session.post(
                url,
                data=body,
                headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature},
                timeout=15,
            )
            elapsed = time.perf_counter() - started
            try:
                answer = response.json()
            except ValueError:
                answer = response.text
            return kind, response.status_code, elapsed, answer

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            results = list(pool.map(post, deliveries))
        wall = time.perf_counter() - started

        ended = [runtime.wait(arn, timeout=PATIENCE_S) for arn in runs]
        histories = [runtime.history(arn) for arn in runs]
        recorded_outcomes = [runtime.outcomes(history) for history in histories]
        tokens_left = runtime.deps.store.count()

    statuses = Counter(status for _, status, _, _ in results)
    latencies = [elapsed for _, status, elapsed, _ in results if status > 0]
    p50, p99, worst = (percentile(latencies, q) * 1000 for q in (0.5, 0.99, 1.0))
    figure(
        f"burst: {len(results)} webhooks in {wall:.2f} s from {WORKERS} threads = "
        f"{len(results) / wall:.0f}/s; latency p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {worst:.0f} ms; "
        f"statuses {dict(sorted(statuses.items()))}"
    )
    assert -1 not in statuses, f"the burst did not finish within {BURST_DEADLINE_S} s"
    assert not [s for s in statuses if s >= 500], statuses  # no 5xx
    wrong = [(kind, status, answer) for kind, status, _, answer in results if status != EXPECTED_STATUS[kind]]
    assert wrong == []
    genuine = [answer for kind, _, _, answer in results if kind == "genuine"]
    completed = sum(a["completed"] for a in genuine)
    figure(
        f"burst: {len(genuine)} genuine deliveries for {2 * len(CONNECTORS)} waiting tokens: "
        f"completed {completed}, already resolved {sum(a['already_resolved'] for a in genuine)}, "
        f"busy {sum(a['busy'] for a in genuine)}, left {tokens_left}; odd HTTP answers {odd_statuses}"
    )
    # None doubled; the few the safety net (its pass runs every second here) completed first from the
    # recorded sync_end are counted in the per-run outcomes below: exactly one per connection and run.
    assert 2 * len(CONNECTORS) - 4 <= completed <= 2 * len(CONNECTORS)
    assert all(a["completed"] == 0 for kind, _, _, a in results if kind == "unknown")
    assert tokens_left == 0
    for described, outcomes_of_run in zip(ended, recorded_outcomes, strict=True):
        assert described["status"] == "FAILED" and described["error"] == "Orchestrator.SyncsFailed"
        outcomes = [o["outcome"] for o in outcomes_of_run]
        assert len(outcomes) == len(CONNECTORS), outcomes  # exactly one outcome per connection and run
        failed = [
            (o["connector_id"], o.get("error"), o.get("cause"))
            for o in outcomes_of_run
            if o["outcome"] == "failed"
        ]
        assert len(failed) == 1, failed  # only FAILING; no forged failure was believed
        recorded = {o["connector_id"]: o["outcome"] for o in outcomes_of_run}
        assert recorded == {cid: ("failed" if cid == FAILING else "succeeded") for cid in CONNECTORS}
        assert "forged" not in json.dumps(described.get("cause", ""))
