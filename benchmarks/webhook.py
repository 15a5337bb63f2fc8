"""Webhook receiver throughput: signed ``sync_end`` events against ``chalice local`` and in-process.

One moto server on 127.0.0.1 holds the token table (key schema from ``infra/template.yaml``) and
Step Functions. Four cases, each bounded by a request count and a time limit:

- **in-process**: ``chalicelib.webhook.handler.handle_webhook`` called directly with moto-backed
  ``Dependencies``, one request at a time: what one Lambda container (one request at a time) does.
- **chalice local**: the real route over HTTP, started as ``local/chalice_local.py`` does, with a few
  concurrent clients (``chalice local`` is a threaded development server, not API Gateway).
- **without parked tokens**: every event is for a connection nobody waits for (verify, parse, one
  DynamoDB Query, one UpdateItem recording the sync's end for a token parked later, answer 200
  ``completed: 0``).
- **with parked tokens**: one token is parked per event's connection beforehand, armed as
  ``start_sync`` leaves it (Fivetran accepted its trigger) and with its sync's start recorded as the
  ``sync_start`` webhook leaves it, so the identity rule binds the ``sync_end`` to it
  (``chalicelib/tokens/identity.py``; a ``sync_end`` whose start is unknown is only ``UNSURE``) and each
  event also claims the token, calls ``SendTaskSuccess`` and deletes it. The tokens are written
  straight into the table, so Step Functions (moto) does not know them and answers ``InvalidToken``,
  which the handler treats as "already resolved" and deletes: the same AWS calls as a live token
  (Query, UpdateItem for the sync's end, UpdateItem claim, SendTaskSuccess, DeleteItem). The
  in-process case counts those calls per event for the cost model.

Bodies are signed before the clock starts (the sender signs; the receiver's verification is timed).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import boto3
import requests
from moto.server import ThreadedMotoServer

from benchmarks.stats import percentile
from chalicelib.fivetran.syncs import SyncRecord
from chalicelib.platform.config import Settings
from chalicelib.platform.log import logger as app_logger
from chalicelib.tokens.store import TokenStore
from chalicelib.webhook.handler import handle_webhook
from chalicelib.webhook.signature import SIGNATURE_HEADER, sign
from chalicelib.wiring import Dependencies
from infra.template import token_table_spec
from local.chalice_local import ChaliceLocal, free_port

__all__ = ["CaseResult", "run_webhook_benchmark", "sync_end_body"]

SECRET = "local-webhook-secret"  # noqa: S105 - the local stage's documented secret (.chalice/config.json)
TABLE = "fivetran-orchestrator-local-tokens"
TOKEN_CHARS = 800  # Step Functions task tokens are long opaque strings; size the items like real ones


@dataclass
class CaseResult:
    target: str
    parked: bool
    concurrency: int
    sent: int
    ok: int
    resolved: int
    elapsed_s: float
    latencies_ms: list[float] = field(repr=False, default_factory=list)
    aws_calls_per_event: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 50) if self.latencies_ms else 0.0

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_ms, 99) if self.latencies_ms else 0.0


def sync_end_body(connector_id: str, created: datetime, sync_id: str | None = None) -> bytes:
    """A ``sync_end`` body shaped like Fivetran's (and like the simulator's); ``sync_id``: a new one
    when None."""
    return json.dumps(
        {
            "event": "sync_end",
            "created": created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
            "connector_type": "bench",
            "connector_id": connector_id,
            "connector_name": connector_id,
            "sync_id": sync_id or str(uuid.uuid4()),
            "destination_group_id": "bench_group",
            "data": {"status": "SUCCESSFUL"},
        },
        separators=(",", ":"),
    ).encode()


def _signed(bodies: list[bytes]) -> list[tuple[bytes, dict[str, str]]]:
    return [(b, {"Content-Type": "application/json", SIGNATURE_HEADER: sign(b, SECRET)}) for b in bodies]


Sender = Callable[[bytes, dict[str, str]], tuple[int, dict[str, Any]]]


def _drive(
    send: Sender, requests_: list[tuple[bytes, dict[str, str]]], concurrency: int, time_limit_s: float
) -> tuple[list[float], Counter[int], int, float]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    resolved = 0
    lock = threading.Lock()
    pending = iter(requests_)
    started = time.perf_counter()
    deadline = started + time_limit_s

    def worker() -> None:
        nonlocal resolved
        while time.perf_counter() < deadline:
            with lock:
                item = next(pending, None)
            if item is None:
                return
            begin = time.perf_counter()
            status, answer = send(*item)
            spent = (time.perf_counter() - begin) * 1000
            with lock:
                latencies.append(spent)
                statuses[status] += 1
                resolved += int(answer.get("completed", 0)) + int(answer.get("already_resolved", 0))

    if concurrency == 1:
        worker()
    else:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for future in [pool.submit(worker) for _ in range(concurrency)]:
                future.result()
    return latencies, statuses, resolved, time.perf_counter() - started


class _CallCounter:
    """Counts AWS API calls made through boto3 clients, by operation."""

    def __init__(self, *clients: Any) -> None:
        self.calls: Counter[str] = Counter()
        self.enabled = False
        for client in clients:
            client.meta.events.register("before-call", self._count)

    def _count(self, model: Any = None, **_: Any) -> None:
        if self.enabled and model is not None:
            self.calls[f"{model.service_model.service_name}:{model.name}"] += 1


def _park(store: TokenStore, connector_ids: list[str]) -> dict[str, str]:
    """Park and arm one token per connection, with its sync's start recorded: ``{connector id: sync id}``.

    Armed as ``start_sync`` leaves a token whose trigger started a sync (accepted at ``requested``,
    Fivetran's clock, not joined), and the sync's start recorded as its ``sync_start`` webhook would,
    inside the acceptance second: the identity rule then binds the ``sync_end`` to the token. A token
    left unarmed, or a sync whose start is unknown, is never completed by the webhook alone.
    """
    requested = datetime.now(UTC) - timedelta(seconds=5)
    expires_at = int(time.time()) + 3600
    sync_ids: dict[str, str] = {}
    for cid in connector_ids:
        token = (uuid.uuid4().hex * (TOKEN_CHARS // 32 + 1))[:TOKEN_CHARS]
        record, _created = store.park(
            store.new_record(
                connector_id=cid,
                task_token=token,
                execution_id="arn:aws:states:us-east-1:123456789012:execution:bench:webhook",
                requested_at=requested,
                expires_at=expires_at,
            )
        )
        store.arm(record, accepted_at=requested, joined=False)
        sync_ids[cid] = str(uuid.uuid4())
        started = SyncRecord(sync_id=sync_ids[cid], started_at=requested + timedelta(milliseconds=200))
        store.syncs.record(cid, started, expires_at=expires_at)
    return sync_ids


def run_webhook_benchmark(
    *, requests_per_case: int = 500, time_limit_s: float = 20.0, concurrency: int = 4, workdir: Path
) -> list[CaseResult]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access log
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    chalice: ChaliceLocal | None = None
    log = (workdir / "webhook-chalice-local.log").open("w", encoding="utf-8")
    # The in-process handler logs every event (JSON lines) as it would to CloudWatch: into a file here.
    handler_log = (workdir / "webhook-handlers.log").open("w", encoding="utf-8")
    handler = cast(logging.StreamHandler, app_logger.registered_handler)  # Powertools' stream handler
    previous_stream = handler.setStream(handler_log)
    try:
        requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
        session = boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto
            region_name="us-east-1",
        )
        dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        sfn = session.client("stepfunctions", endpoint_url=endpoint)
        dynamodb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST", **token_table_spec())
        deps = Dependencies.from_clients(
            Settings(token_table=TABLE, webhook_secret=SECRET, fivetran_api_url="http://127.0.0.1:9"),
            dynamodb=dynamodb,
            stepfunctions=sfn,
        )
        counter = _CallCounter(dynamodb, sfn)
        chalice = ChaliceLocal(
            {"AWS_ENDPOINT_URL": endpoint, "TOKEN_TABLE": TABLE, "FIVETRAN_API_URL": "http://127.0.0.1:9"},
            log=log,
        )
        url = chalice.start() + "/webhooks/fivetran"
        local = threading.local()

        def over_http(body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
            if not hasattr(local, "session"):
                local.session = requests.Session()
            answer = local.session.post(url, data=body, headers=headers, timeout=30)
            return answer.status_code, answer.json()

        def in_process(body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
            # The handler's metrics (CloudWatch EMF lines on stdout) go with its logs, not into the Markdown.
            with contextlib.redirect_stdout(handler_log):
                answer = handle_webhook(body, headers, secret=lambda: SECRET, resolver=deps.resolver)
            return answer.status, answer.body

        # Warm both paths (imports, connection pools, chalice local's first request) off the clock.
        for send in (in_process, over_http):
            send(*_signed([sync_end_body("warm_up", datetime.now(UTC))])[0])

        results = []
        for target, send, workers in (
            ("in-process", in_process, 1),
            ("chalice local", over_http, concurrency),
        ):
            for parked in (False, True):
                tag = f"{target.replace(' ', '_')}_{'parked' if parked else 'none'}"
                ids = [f"wh_{tag}_{i:04d}" for i in range(requests_per_case)]
                sync_ids = _park(deps.store, ids) if parked else {}
                signed = _signed([sync_end_body(cid, datetime.now(UTC), sync_ids.get(cid)) for cid in ids])
                counter.calls.clear()
                counter.enabled = target == "in-process"
                latencies, statuses, resolved, elapsed = _drive(send, signed, workers, time_limit_s)
                counter.enabled = False
                sent = len(latencies)
                results.append(
                    CaseResult(
                        target=target,
                        parked=parked,
                        concurrency=workers,
                        sent=sent,
                        ok=statuses.get(200, 0),
                        resolved=resolved,
                        elapsed_s=elapsed,
                        latencies_ms=latencies,
                        aws_calls_per_event={k: v / sent for k, v in sorted(counter.calls.items())}
                        if sent and target == "in-process"
                        else {},
                    )
                )
        return results
    finally:
        if chalice is not None:
            chalice.stop()
        handler.setStream(previous_stream)
        handler_log.close()
        log.close()
        server.stop()
