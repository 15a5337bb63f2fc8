"""Our side of the attribution benchmark: a world played through the real code, and our pure rule.

**The real path** (``play_ours``): ``chalicelib.run.syncs.start_sync`` (park, trigger, arm, settle)
and ``chalicelib.webhook.handler.handle_webhook`` (signed bodies, ``record`` + ``settle`` with the
sync-history confirmation) against the token store on moto's DynamoDB (``moto_store``), in delivery
order. The trigger's answer reaches the Lambda up to 1.5 s after Fivetran accepted it, and the
deliveries due in between are handled first (an end can beat the arm). The history reader answers
what Fivetran would show at that moment. Step Functions is replaced by ``RecordingCallbacks``, a
recorder of ``SendTaskSuccess``/``SendTaskFailure``, so each completion's ``sync_id`` can be compared
with the truth.

**The pure rule** (``rule_checks``): ``chalicelib.tokens.identity.bind`` applied to everything the
webhooks said (``complete=False``) and to the full history (``complete=True``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.attribution.world import Delivery, Trigger, World

__all__ = ["RecordingCallbacks", "moto_store", "play_ours", "rule_checks"]

SECRET = "attribution-bench-secret"  # noqa: S105  signs the benchmark's own bodies


class RecordingCallbacks:
    """Stands in for Step Functions: records which sync each token was completed with."""

    _CAUSE = re.compile(r"\(sync (\S+), reported by")

    def __init__(self) -> None:
        self.sent: dict[str, list[str | None]] = {}
        self.before_safety_net: set[str] = set()  # runs the webhooks alone left waiting

    def succeed(self, task_token: str, output: dict[str, Any]) -> Any:
        from chalicelib.tokens.callbacks import CallbackResult

        self.sent.setdefault(task_token, []).append(output.get("sync_id"))
        return CallbackResult.SENT

    def fail(self, task_token: str, error: str, cause: str) -> Any:
        from chalicelib.tokens.callbacks import CallbackResult

        match = self._CAUSE.search(cause)
        self.sent.setdefault(task_token, []).append(match.group(1) if match else None)
        return CallbackResult.SENT

    def heartbeat(self, task_token: str) -> Any:
        from chalicelib.tokens.callbacks import CallbackResult

        return CallbackResult.SENT


def moto_store() -> Generator[Any, None, None]:
    import boto3
    from moto import mock_aws

    from chalicelib.tokens.store import TokenStore
    from infra.template import token_table_spec

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="bench-attribution", BillingMode="PAY_PER_REQUEST", **token_table_spec()
        )
        yield TokenStore("bench-attribution", client)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def play_ours(world: World, store: Any, callbacks: RecordingCallbacks, base: datetime) -> dict[str, str]:  # noqa: C901
    """Play one world through the real code; the tokens by run."""
    from chalicelib.fivetran.client import TriggerResult
    from chalicelib.fivetran.syncs import SyncRecord
    from chalicelib.run.syncs import SyncRequest, start_sync
    from chalicelib.tokens.resolver import Resolver
    from chalicelib.webhook.handler import handle_webhook
    from chalicelib.webhook.signature import SIGNATURE_HEADER, sign

    connector = f"bench_conn_{world.seed}"
    resolver = Resolver(store, callbacks)  # type: ignore[arg-type]
    f_time = lambda s: base + timedelta(seconds=s)  # noqa: E731  Fivetran's clock
    offset = timedelta(seconds=world.clock_offset_s)
    clock = {"now": 0.0}

    def reader(connector_id: str, start: datetime, end: datetime) -> list[SyncRecord]:
        now = f_time(clock["now"])
        rows = []
        for s in world.syncs:
            begun, finished = f_time(s.start), f_time(s.end)
            if begun > now or begun > end or (finished < start and finished <= now):
                continue
            done = finished <= now
            rows.append(
                SyncRecord(
                    s.sync_id,
                    started_at=begun,
                    ended_at=finished if done else None,
                    status=s.status if done else None,
                    source="history",
                )
            )
        return rows

    def deliver(delivery: Delivery) -> None:
        clock["now"] = delivery.at
        sync = world.sync(delivery.sync_id)
        data: dict[str, Any] = {}
        if delivery.event == "sync_end":
            data = {"status": sync.status}
            if sync.status != "SUCCESSFUL":
                data["reason"] = "simulated"
        created = sync.start if delivery.event == "sync_start" else sync.end
        body = json.dumps(
            {
                "event": delivery.event,
                "created": _stamp(f_time(created)),
                "connector_type": "bench",
                "connector_id": connector,
                "connector_name": "bench",
                "sync_id": sync.sync_id,
                "destination_group_id": "bench_group",
                "data": data,
            },
            separators=(",", ":"),
        ).encode()
        answer = handle_webhook(
            body,
            {SIGNATURE_HEADER: sign(body, SECRET)},
            secret=lambda: SECRET,
            resolver=lambda: resolver,
            history_reader=reader,
        )
        if answer.status != 200:
            raise RuntimeError(f"webhook answered {answer.status}: {answer.body}")

    pending = list(world.deliveries)
    actions: list[tuple[float, int, Any]] = [(d.at, 1, d) for d in pending]
    actions += [(t.accepted - t.parked_before_s, 0, t) for t in world.triggers]
    actions.sort(key=lambda a: (a[0], a[1]))
    handled: set[int] = set()
    tokens: dict[str, str] = {}
    for at, kind, item in actions:
        if kind == 1:
            if id(item) not in handled:
                handled.add(id(item))
                deliver(item)
            continue
        trig: Trigger = item
        clock["now"] = at
        token = f"token-{world.seed}-{trig.run}"
        tokens[trig.run] = token

        def answer(trig: Trigger = trig) -> Any:
            class Trig:
                def trigger_sync(self, connector_id: str) -> TriggerResult:
                    # Fivetran accepts; deliveries due before the answer reaches the Lambda land first.
                    reached = trig.accepted + trig.answer_after_s
                    for d in pending:
                        if d.at <= reached and id(d) not in handled:
                            handled.add(id(d))
                            deliver(d)
                    clock["now"] = reached
                    accepted = f_time(trig.accepted).replace(microsecond=0)
                    return TriggerResult("ok", trig.joined, accepted)

            return Trig()

        request = SyncRequest(
            {
                "connector": {"connector_id": connector, "schedule_type": "auto"},
                "task_token": token,
                "execution_id": f"arn:aws:states:us-east-1:123456789012:execution:bench:{trig.run}",
                "sync_timeout_seconds": 3600,
            }
        )
        start_sync(
            request,
            store,
            answer(),
            resolver,
            now=f_time(at) - offset,  # the Lambda's clock (AWS)
            ttl_margin_seconds=3600,
            history_reader=reader,
        )
    # What the webhooks left waiting: one safety-net pass (``settle`` with the full history, as
    # ``reconcile_syncs`` does once a token is older than its threshold), counted apart.
    open_runs = [run for run, token in tokens.items() if token not in callbacks.sent]
    if open_runs:
        clock["now"] = max(s.end for s in world.syncs) + 1
        window = (f_time(min(t.accepted for t in world.triggers) - 1), f_time(clock["now"]))
        callbacks.before_safety_net = set(open_runs)
        resolver.settle(connector, history=reader(connector, *window), source="reconcile")
    return tokens


def rule_checks(world: World, base: datetime) -> tuple[list[bool], list[bool]]:
    """Per trigger: did the pure rule bind another sync (webhooks only; full history)?"""
    from chalicelib.fivetran.syncs import SyncRecord
    from chalicelib.tokens.identity import Anchor, Decision, bind

    f_time = lambda s: base + timedelta(seconds=s)  # noqa: E731
    webhooks: list[SyncRecord] = []
    for d in world.deliveries:
        s = world.sync(d.sync_id)
        if d.event == "sync_start":
            webhooks.append(SyncRecord(s.sync_id, started_at=f_time(s.start)))
        else:
            webhooks.append(SyncRecord(s.sync_id, ended_at=f_time(s.end), status=s.status))
    history = [
        SyncRecord(s.sync_id, f_time(s.start), f_time(s.end), s.status, source="history") for s in world.syncs
    ]
    by_webhooks, by_history = [], []
    for trig in world.triggers:
        anchor = Anchor(f_time(trig.accepted).replace(microsecond=0), joined=trig.joined)
        hook = bind(anchor, webhooks, complete=False)
        by_webhooks.append(
            hook.decision is Decision.BOUND and hook.sync is not None and hook.sync.sync_id != trig.truth
        )
        full = bind(anchor, history, complete=True)
        by_history.append(full.sync is None or full.sync.sync_id != trig.truth)
    return by_webhooks, by_history
