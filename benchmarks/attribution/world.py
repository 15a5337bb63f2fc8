"""The attribution benchmark's worlds: one connection's syncs on Fivetran's clock, the runs that
trigger it, and the webhook deliveries, generated from a seed with the truth known by construction.

A **world** has one or two runs triggering it; which sync each run's trigger joined (409) or started
(200) is ``Trigger.truth``:

- 0-3 syncs Fivetran ran by itself before the trigger (some end a fraction of a second before it);
- the trigger joins a sync already running (409) or starts one (200) that begins up to 2 s later;
- 0-2 syncs after it, sometimes a second run's trigger (joining a running sync, possibly the first
  run's, or starting its own), then 0-2 more;
- every sync sends ``sync_start`` and ``sync_end`` (in a fifth of the worlds the account's webhook
  sends ``sync_end`` only); each delivery is delayed (mostly under a second, sometimes up to 60 s),
  a third are delivered twice, so they arrive reordered; syncs and gaps last over 1.1 s (the rule's
  one documented limit: no sync starts and ends within the trigger's acceptance second);
- Fivetran's clock is offset from AWS's by up to ±120 s.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Delivery", "Trigger", "TrueSync", "World", "generate"]

STATUSES = ("SUCCESSFUL", "SUCCESSFUL", "FAILURE", "FAILURE_WITH_TASK")
MIN_SPAN_S = 1.1  # syncs and the gaps between them (the rule's documented limit)


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


def generate(seed: int) -> World:
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

    def scheduled_sync() -> TrueSync:
        """One sync Fivetran runs by itself, after a gap; the clock moves to its end."""
        nonlocal clock
        sync = new_sync(clock + rng.uniform(MIN_SPAN_S, 20), "scheduled")
        clock = sync.end
        return sync

    def scheduled(count: int) -> None:
        for _ in range(count):
            scheduled_sync()

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
        trigger("run-1", join=scheduled_sync())
    else:
        trigger("run-1")
    scheduled(rng.randint(0, 2))
    if rng.random() < 0.3:
        choice = rng.random()
        if choice < 0.3:
            trigger("run-2", join=syncs[-1])  # the latest sync (run-1's own, or a scheduled one)
        elif choice < 0.6:
            trigger("run-2", join=scheduled_sync())
        else:
            trigger("run-2")
    scheduled(rng.randint(0, 2))
    sync_end_only = rng.random() < 0.2
    return World(
        seed=seed,
        syncs=tuple(syncs),
        triggers=tuple(triggers),
        deliveries=_deliveries(rng, syncs, sync_end_only=sync_end_only),
        clock_offset_s=rng.uniform(-120, 120),
        sync_end_only=sync_end_only,
    )


def _deliveries(rng: random.Random, syncs: list[TrueSync], *, sync_end_only: bool) -> tuple[Delivery, ...]:
    """Every sync's events, each delayed (a fifth of them up to 60 s) and a third delivered twice."""
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
    return tuple(deliveries)
