"""The attribution benchmark's generator and the peer's rule (``benchmarks/attribution/``), and the
side-by-side tables. No timing is asserted: the benchmark itself runs in ``python -m benchmarks``."""

from __future__ import annotations

import itertools

import pytest

from benchmarks.attribution import PeerRule, Trigger, TrueSync, World, generate, peer_decision


def test_the_same_seed_gives_the_same_world_and_another_seed_another():
    assert generate(7) == generate(7)
    assert generate(7) != generate(8)


@pytest.mark.parametrize("seed", range(300))
def test_the_truth_is_the_sync_the_trigger_joined_or_started(seed):
    world = generate(seed)
    syncs = sorted(world.syncs, key=lambda s: s.start)
    for earlier, later in itertools.pairwise(syncs):
        assert earlier.end < later.start  # Fivetran runs one sync of a connection at a time
    for sync in world.syncs:
        assert sync.end - sync.start >= 1.1
    for trigger in world.triggers:
        truth = world.sync(trigger.truth)
        if trigger.joined:
            assert truth.start < trigger.accepted < truth.end
        else:
            assert truth.origin == trigger.run
            assert trigger.accepted <= truth.start <= trigger.accepted + 2.0
            assert not any(s.start < trigger.accepted < s.end for s in world.syncs)
    delivered = {(d.sync_id, d.event) for d in world.deliveries}
    for sync in world.syncs:  # every event is delivered at least once, never before it happened
        assert (sync.sync_id, "sync_end") in delivered
        assert world.sync_end_only or (sync.sync_id, "sync_start") in delivered
    for d in world.deliveries:
        sync = world.sync(d.sync_id)
        assert d.at > (sync.end if d.event == "sync_end" else sync.start)


def _trigger(accepted: float, truth: str, *, read_before: float = 1.0) -> Trigger:
    return Trigger(
        run="run-1",
        accepted=accepted,
        joined=False,
        truth=truth,
        parked_before_s=0.1,
        answer_after_s=0.2,
        peer_read_before_s=read_before,
        peer_first_poll_s=0.1,
    )


def _world(*syncs: TrueSync, trigger: Trigger) -> World:
    return World(
        seed=0, syncs=syncs, triggers=(trigger,), deliveries=(), clock_offset_s=0, sync_end_only=False
    )


def test_the_peer_takes_a_scheduled_sync_that_ended_between_its_read_and_its_trigger():
    # a scheduled sync fails 0.5 s after the peer read `previous`, just before its trigger
    scheduled = TrueSync("scheduled", 10.0, 99.5, "FAILURE", "scheduled")
    ours = TrueSync("ours", 100.2, 130.0, "SUCCESSFUL", "run-1")
    world = _world(scheduled, ours, trigger=_trigger(100.0, "ours", read_before=1.0))

    assert peer_decision(world, world.triggers[0], PeerRule(10.0)) == "scheduled"


def test_the_peer_takes_a_later_sync_that_ended_before_its_poll():
    ours = TrueSync("ours", 100.2, 102.0, "FAILURE", "run-1")
    later = TrueSync("later", 104.0, 106.0, "SUCCESSFUL", "scheduled")
    world = _world(ours, later, trigger=_trigger(100.0, "ours", read_before=0.5))

    assert peer_decision(world, world.triggers[0], PeerRule(10.0)) == "later"  # its poll at 110.1
    assert peer_decision(world, world.triggers[0], PeerRule(1.0)) == "ours"  # a poll at 102.1


def test_the_peer_is_right_when_nothing_else_ends():
    before = TrueSync("before", 10.0, 50.0, "SUCCESSFUL", "scheduled")
    ours = TrueSync("ours", 100.2, 130.0, "FAILURE", "run-1")
    world = _world(before, ours, trigger=_trigger(100.0, "ours"))

    assert peer_decision(world, world.triggers[0], PeerRule(10.0)) == "ours"


def test_the_side_by_side_tables_say_how_they_measure_and_give_ratios():
    from benchmarks.report.sidebyside import trouble_section, walltime_section
    from benchmarks.sidebyside import CaseRun

    ours = CaseRun("ours", 100, True, 20.0, 20.5, {"succeeded": 100}, 101, "SUCCEEDED")
    label = {"label": "dagster-fivetran"}
    peer = CaseRun("peer", 100, True, 25.0, 25.0, {"succeeded": 100}, 900, "SUCCEEDED", extra=label)
    text = walltime_section([(100, ours, peer, ""), (1000, None, None, "not run")], 5, 20, "the inline Map")

    assert "| 100 | 20.0 | 20.5 | 25.0 | 25.0 | 0.80 | 0.82 | 101 / 900 |" in text
    assert "ExecutionStarted" in text and "not run" in text
    failed = CaseRun("peer", 10, False, None, None, {"failed": 10}, 70, "FAILED", "Failure x10")
    table = trouble_section([("API outage (503)", "every call answers 503", [ours], [failed])])
    assert "| API outage (503) | this design | 1 / 1 |" in table
    assert "| peer | 0 / 1 | 10 | 0 | 10 |" in table


def test_the_sync_durations_are_spread_and_interleaved():
    from benchmarks.sidebyside import spread

    values = spread(100, 5, 20)
    assert sorted(values) == [round(5 + 15 * i / 99, 2) for i in range(100)]
    assert values[:2] != sorted(values)[:2]


def test_the_real_path_gives_each_run_its_own_sync_in_a_few_worlds_with_a_second_run():
    """Plays the benchmark's real path (start_sync, the signed webhook, the token store on moto) so the
    benchmark cannot silently stop running it (it once passed start_sync a function for a client)."""
    from benchmarks.attribution.run import run_attribution

    result = run_attribution(8, seed=16)

    assert result.second_runs >= 1
    assert result.ours_real.runs == result.runs > 8
    assert (result.ours_real.wrong, result.ours_real.unresolved_after_safety_net) == (0, 0)
    assert result.ours_real.completed_twice == 0


def test_the_benchmark_gives_the_handlers_logger_its_level_back():
    """It quiets the handlers' logger while it plays; the tests that read logs run after it on one worker."""
    import logging

    from benchmarks.attribution.run import run_attribution

    service_log = logging.getLogger("fivetran-orchestrator")
    before = service_log.level

    run_attribution(1, seed=16)

    assert service_log.level == before
