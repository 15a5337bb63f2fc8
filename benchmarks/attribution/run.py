"""Running the attribution benchmark: seeded worlds through both sides, and the tally of what each got
wrong (``run_attribution``; ``python -m benchmarks.attribution`` for a look on its own).

Per world (``world.generate``), every trigger is checked three ways on our side (the real path, the
pure rule on the webhooks, the pure rule on the full history: ``ours``) and once per poll interval on
the peer's (``peer``); a ``Tally`` per check counts runs given another sync's outcome and runs left
without one.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from benchmarks.attribution.ours import RecordingCallbacks, moto_store, play_ours, rule_checks
from benchmarks.attribution.peer import PeerRule, peer_decision
from benchmarks.attribution.world import generate

__all__ = ["AttributionResult", "Tally", "main", "run_attribution"]


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


def run_attribution(  # noqa: C901
    worlds: int = 300,
    *,
    real_worlds: int | None = None,
    seed: int = 16,
    poll_intervals: tuple[float, ...] = (10.0, 1.0),
) -> AttributionResult:
    """Generate ``worlds`` worlds from ``seed`` and count misattributions on each side."""
    began = time.monotonic()
    service_log = logging.getLogger("fivetran-orchestrator")  # the handlers' logger (Powertools' service)
    level = service_log.level
    service_log.setLevel(logging.ERROR)  # a line per webhook would drown the output; restored below
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    ours, hooks, hist = Tally(), Tally(), Tally()
    peer = {interval: Tally() for interval in poll_intervals}
    joined = second = end_only = 0
    max_offset = 0.0
    store_context = moto_store()
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
            tokens = play_ours(world, store, callbacks, base) if real else {}
            by_webhooks, by_history = rule_checks(world, base)
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
        service_log.setLevel(level)
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
