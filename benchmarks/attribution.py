"""Attribution under chaos: is each run given its own sync's outcome? Ours versus the polling peer's rule.

A **world** is one connection's syncs on Fivetran's clock, generated from a seed, with one or two
runs triggering it; which sync each run's trigger joined (409) or started (200) is known by
construction (``Trigger.truth``):

- 0-3 syncs Fivetran ran by itself before the trigger (some end a fraction of a second before it);
- the trigger joins a sync already running (409) or starts one (200) that begins up to 2 s later;
- 0-2 syncs after it, sometimes a second run's trigger (joining a running sync, possibly the first
  run's, or starting its own), then 0-2 more;
- every sync sends ``sync_start`` and ``sync_end`` (in a fifth of the worlds the account's webhook
  sends ``sync_end`` only); each delivery is delayed (mostly under a second, sometimes up to 60 s),
  a third are delivered twice, so they arrive reordered; syncs and gaps last over 1.1 s (the rule's
  one documented limit: no sync starts and ends within the trigger's acceptance second);
- Fivetran's clock is offset from AWS's by up to ±120 s.

**Ours** runs the real code: ``chalicelib.run.syncs.start_sync`` (park, trigger, arm, settle) and
``chalicelib.webhook.handler.handle_webhook`` (signed bodies, ``record`` + ``settle`` with the sync-history
confirmation) against the token store on moto's DynamoDB, in delivery order. The trigger's answer
reaches the Lambda up to 1.5 s after Fivetran accepted it, and the deliveries due in between are
handled first (an end can beat the arm). The history reader answers what Fivetran would show at that
moment. Step Functions is replaced by a recorder of ``SendTaskSuccess``/``SendTaskFailure``, so each
completion's ``sync_id`` is compared with the truth. The pure rule (``chalicelib.tokens.identity.bind``) is
also applied to everything the webhooks said (``complete=False``) and to the full history
(``complete=True``).

**The peer** (``dagster-fivetran``'s ``sync_and_poll``) does not read webhooks: it reads the
connection's ``succeeded_at``/``failed_at`` before triggering (``previous``), triggers, then polls
every ``poll_interval`` seconds until ``max(succeeded_at, failed_at) > previous``, and takes the
outcome of whatever sync set that time (``peer_decision``). It is applied to the same worlds; the
delivery chaos and the clock offset cannot affect it (it compares Fivetran's times with Fivetran's).
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "AttributionResult",
    "Delivery",
    "PeerRule",
    "Trigger",
    "TrueSync",
    "World",
    "generate",
    "peer_decision",
    "run_attribution",
]

STATUSES = ("SUCCESSFUL", "SUCCESSFUL", "FAILURE", "FAILURE_WITH_TASK")
MIN_SPAN_S = 1.1  # syncs and the gaps between them (the rule's documented limit)
SECRET = "attribution-bench-secret"  # noqa: S105  signs the benchmark's own bodies


@dataclass(frozen=True)
class TrueSync:
    sync_id: str
    start: float  # seconds on Fivetran's clock from the world's zero
    end: float
    status: str
    origin: str  # "scheduled", "run-1", "run-2"


@dataclass(frozen=True)
class Trigger:
    run: str
    accepted: float  # when Fivetran accepted it (Fivetran's clock); the Date header is its whole second
    joined: bool
    truth: str  # the sync this trigger joined or started
    parked_before_s: float  # the token was parked this long before the acceptance
    answer_after_s: float  # the trigger's answer reached the Lambda this long after it
    peer_read_before_s: float  # the peer read `previous` this long before the acceptance
    peer_first_poll_s: float  # the peer's first poll, after the acceptance


@dataclass(frozen=True)
class Delivery:
    at: float  # when it reaches the webhook (Fivetran's clock)
    event: str
    sync_id: str
    copy: int


@dataclass(frozen=True)
class World:
    seed: int
    syncs: tuple[TrueSync, ...]
    triggers: tuple[Trigger, ...]
    deliveries: tuple[Delivery, ...]
    clock_offset_s: float  # Fivetran's clock = AWS's + this
    sync_end_only: bool

    def sync(self, sync_id: str) -> TrueSync:
        return next(s for s in self.syncs if s.sync_id == sync_id)


def _status(rng: random.Random) -> str:
    return rng.choice(STATUSES)


def generate(seed: int) -> World:  # noqa: C901  one branch per kind of world
    """One random world; the same seed gives the same world."""
    rng = random.Random(seed)
    syncs: list[TrueSync] = []
    triggers: list[Trigger] = []
    clock = rng.uniform(0, 30)
    counter = iter(range(100))

    def new_sync(start: float, origin: str, duration: float | None = None) -> TrueSync:
        sync = TrueSync(
            f"s{seed}-{next(counter)}",
            start,
            start + (duration if duration is not None else rng.uniform(MIN_SPAN_S, 40)),
            _status(rng),
            origin,
        )
        syncs.append(sync)
        return sync

    def scheduled(count: int) -> None:
        nonlocal clock
        for _ in range(count):
            sync = new_sync(clock + rng.uniform(MIN_SPAN_S, 20), "scheduled")
            clock = sync.end

    def trigger(run: str, *, join: TrueSync | None = None) -> None:
        nonlocal clock
        timing = {
            "parked_before_s": rng.uniform(0.02, 0.5),
            "answer_after_s": rng.uniform(0.02, 1.5),
            "peer_read_before_s": rng.uniform(0.3, 2.0),
            "peer_first_poll_s": rng.uniform(0.05, 0.5),
        }
        if join is not None:  # 409: a sync is running at the acceptance
            accepted = rng.uniform(join.start + 0.05, join.end - 0.05)
            triggers.append(Trigger(run, accepted, True, join.sync_id, **timing))
            return
        if rng.random() < 0.4 and syncs and clock - syncs[-1].end < 0.05:
            accepted = clock + rng.uniform(0.05, 0.9)  # right after a sync ended: the end races the trigger
        else:
            accepted = clock + rng.uniform(MIN_SPAN_S, 20)
        sync = new_sync(accepted + rng.uniform(0.0, 2.0), run)
        triggers.append(Trigger(run, accepted, False, sync.sync_id, **timing))
        clock = sync.end

    scheduled(rng.randint(0, 3))
    if rng.random() < 0.35:  # run-1 joins a sync Fivetran was already running
        running = new_sync(clock + rng.uniform(MIN_SPAN_S, 20), "scheduled")
        clock = running.end
        trigger("run-1", join=running)
    else:
        trigger("run-1")
    scheduled(rng.randint(0, 2))
    if rng.random() < 0.3:
        choice = rng.random()
        if choice < 0.3:
            trigger("run-2", join=syncs[-1])  # the latest sync (run-1's own, or a scheduled one)
        elif choice < 0.6:
            running = new_sync(clock + rng.uniform(MIN_SPAN_S, 20), "scheduled")
            clock = running.end
            trigger("run-2", join=running)
        else:
            trigger("run-2")
    scheduled(rng.randint(0, 2))

    sync_end_only = rng.random() < 0.2
    deliveries: list[Delivery] = []
    for sync in syncs:
        events = (
            [("sync_end", sync.end)]
            if sync_end_only
            else [("sync_start", sync.start), ("sync_end", sync.end)]
        )
        for event, created in events:
            for copy in range(2 if rng.random() < 0.33 else 1):
                delay = rng.uniform(0.05, 1.0) if rng.random() < 0.8 else rng.uniform(1.0, 60.0)
                deliveries.append(Delivery(created + delay, event, sync.sync_id, copy))
    deliveries.sort(key=lambda d: d.at)
    return World(
        seed=seed,
        syncs=tuple(syncs),
        triggers=tuple(triggers),
        deliveries=tuple(deliveries),
        clock_offset_s=rng.uniform(-120, 120),
        sync_end_only=sync_end_only,
    )


# -- the peer's rule -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeerRule:
    """dagster-fivetran's completion test (``FivetranClient.poll_sync``), on the connector's fields."""

    poll_interval_s: float = 10.0


def _completed_at(world: World, t: float) -> tuple[float, TrueSync | None]:
    """``max(succeeded_at, failed_at)`` as the connector shows it at ``t``, and the sync that set it."""
    ended = [s for s in world.syncs if s.end <= t and s.status != "RESCHEDULED"]
    if not ended:
        return float("-inf"), None
    last = max(ended, key=lambda s: s.end)
    return last.end, last


def peer_decision(world: World, trigger: Trigger, rule: PeerRule) -> str | None:
    """The sync whose outcome the peer would report for ``trigger`` (None: it never saw one end)."""
    previous, _ = _completed_at(world, trigger.accepted - trigger.peer_read_before_s)
    horizon = max(s.end for s in world.syncs) + rule.poll_interval_s
    t = trigger.accepted + trigger.peer_first_poll_s
    while t <= horizon:
        completed, sync = _completed_at(world, t)
        if sync is not None and completed > previous:
            return sync.sync_id
        t += rule.poll_interval_s
    return None


# -- ours: the real start_sync and webhook handler on moto's DynamoDB -----------------------------------


class RecordingCallbacks:
    """Stands in for Step Functions: records which sync each token was completed with."""

    _CAUSE = re.compile(r"\(sync (\S+), reported by")

    def __init__(self) -> None:
        self.sent: dict[str, list[str | None]] = {}
        self.before_safety_net: set[str] = set()  # runs the webhooks alone left waiting

    def succeed(self, task_token: str, output: dict[str, Any]) -> Any:
        from chalicelib.tokens.callbacks import CallbackResult

        self.sent.setdefault(task_token, []).append(output.get("sync_id"))  # type: ignore[arg-type]
        return CallbackResult.SENT

    def fail(self, task_token: str, error: str, cause: str) -> Any:
        from chalicelib.tokens.callbacks import CallbackResult

        match = self._CAUSE.search(cause)
        self.sent.setdefault(task_token, []).append(match.group(1) if match else None)
        return CallbackResult.SENT

    def heartbeat(self, task_token: str) -> Any:
        from chalicelib.tokens.callbacks import CallbackResult

        return CallbackResult.SENT


@dataclass
class Tally:
    runs: int = 0
    wrong: int = 0  # given another sync's outcome
    unresolved: int = 0  # no outcome once every event was delivered
    completed_twice: int = 0
    wrong_seeds: list[int] = field(default_factory=list)
    unresolved_seeds: list[int] = field(default_factory=list)
    unresolved_after_safety_net: int = 0


@dataclass
class AttributionResult:
    worlds: int
    runs: int  # triggers (tokens)
    ours_real: Tally
    ours_rule_webhooks: Tally  # bind(complete=False) on every webhook record: BOUND to a wrong sync
    ours_rule_history: Tally  # bind(complete=True) on the full history
    peer: dict[float, Tally]  # by poll interval
    joined: int
    second_runs: int
    sync_end_only: int
    max_offset_s: float
    seconds: float


def _moto_store() -> Iterator[Any]:
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


def _play_ours(world: World, store: Any, callbacks: RecordingCallbacks, base: datetime) -> dict[str, str]:  # noqa: C901
    """Play one world through the real code; the tokens by run."""
    from chalicelib.fivetran.client import TriggerResult
    from chalicelib.run.syncs import SyncRequest, start_sync
    from chalicelib.tokens.identity import SyncRecord
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
            answer,
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


def _rule_checks(world: World, base: datetime) -> tuple[list[bool], list[bool]]:
    """Per trigger: did the pure rule bind another sync (webhooks only; full history)?"""
    from chalicelib.tokens.identity import Anchor, Decision, SyncRecord, bind

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


def run_attribution(  # noqa: C901
    worlds: int = 300,
    *,
    real_worlds: int | None = None,
    seed: int = 16,
    poll_intervals: tuple[float, ...] = (10.0, 1.0),
) -> AttributionResult:
    """Generate ``worlds`` worlds from ``seed`` and count misattributions on each side."""
    from aws_lambda_powertools import Logger

    began = time.monotonic()
    Logger(service="fivetran-orchestrator").setLevel("ERROR")  # a line per webhook would drown the output
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    ours, hooks, hist = Tally(), Tally(), Tally()
    peer = {interval: Tally() for interval in poll_intervals}
    joined = second = end_only = 0
    max_offset = 0.0
    store_context = _moto_store()
    store = next(store_context)
    quiet = contextlib.redirect_stdout(io.StringIO())  # the handlers' metric lines (EMF)
    quiet.__enter__()
    try:
        for i in range(worlds):
            world = generate(seed * 1_000_003 + i)
            joined += sum(t.joined for t in world.triggers)
            second += len(world.triggers) > 1
            end_only += world.sync_end_only
            max_offset = max(max_offset, abs(world.clock_offset_s))
            real = i < (worlds if real_worlds is None else real_worlds)
            callbacks = RecordingCallbacks()
            tokens = _play_ours(world, store, callbacks, base) if real else {}
            by_webhooks, by_history = _rule_checks(world, base)
            for trig, hook_wrong, hist_wrong in zip(world.triggers, by_webhooks, by_history, strict=True):
                for tally in (hooks, hist, *peer.values()):
                    tally.runs += 1
                if real:
                    ours.runs += 1
                sent = callbacks.sent.get(tokens.get(trig.run, ""), [])
                if not real:
                    pass
                elif trig.run in callbacks.before_safety_net:
                    ours.unresolved += 1
                    ours.unresolved_seeds.append(world.seed)
                if real and not sent:
                    ours.unresolved_after_safety_net += 1
                if not real or not sent:
                    pass
                elif sent[0] != trig.truth:
                    ours.wrong += 1
                    ours.wrong_seeds.append(world.seed)
                if len(sent) > 1:
                    ours.completed_twice += 1
                hooks.wrong += hook_wrong
                hist.wrong += hist_wrong
                for interval, tally in peer.items():
                    decided = peer_decision(world, trig, PeerRule(interval))
                    if decided is None:
                        tally.unresolved += 1
                    elif decided != trig.truth:
                        tally.wrong += 1
                        tally.wrong_seeds.append(world.seed)
    finally:
        quiet.__exit__(None, None, None)
        store_context.close()
    return AttributionResult(
        worlds=worlds,
        runs=hist.runs,
        ours_real=ours,
        ours_rule_webhooks=hooks,
        ours_rule_history=hist,
        peer=peer,
        joined=joined,
        second_runs=second,
        sync_end_only=end_only,
        max_offset_s=max_offset,
        seconds=time.monotonic() - began,
    )


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Attribution under chaos (used by python -m benchmarks).")
    parser.add_argument("--worlds", type=int, default=200)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--only", type=int, help="play this one world seed and print what ours sent")
    args = parser.parse_args(argv)
    result = run_attribution(args.worlds, seed=args.seed)
    print(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
