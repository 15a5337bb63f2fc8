"""The identity rule (``chalicelib/tokens/identity.py``): which sync a parked token waits for.

Examples for each row of the rule's table, then a property test over random interleavings:
Fivetran runs syncs one at a time on its own clock, our trigger is accepted somewhere among
them (joining a running sync or starting one), and the webhooks arrive late, twice, out of
order or never, with sync-history reads (the webhook's confirmation and the safety net's
passes) at random moments, some of them during an outage. No token may ever be completed
with another sync's outcome, and once everything Fivetran knows has been read, the token's
own sync is found.

Times are Fivetran's: the rule compares nothing else, so an offset between Fivetran's and
AWS's clocks cannot enter it (the e2e scenarios ``clock_behind``/``clock_ahead`` run the whole
product with one). The model keeps the rule's one documented limit: no sync both starts and
ends within the trigger's acceptance second (syncs and the gaps between them last over 1 s).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.tokens.identity import Anchor, Decision, SyncRecord, bind, merge
from tests.hypothesis_profiles import examples

T0 = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ended(sync_id: str, start: float | None, end: float, status: str = "SUCCESSFUL") -> SyncRecord:
    return SyncRecord(sync_id, at(start) if start is not None else None, at(end), status)


def started(sync_id: str, start: float) -> SyncRecord:
    return SyncRecord(sync_id, started_at=at(start))


# -- the table, row by row ---------------------------------------------------------------------------


def test_a_sync_running_across_the_acceptance_second_is_the_tokens():
    anchor = Anchor(at(100))
    syncs = [
        ended("before", 10, 50),
        started("running", 90),
        ended("running", None, 200),
        ended("next", 300, 400),
    ]

    binding = bind(anchor, syncs, complete=False)

    assert binding.decision is Decision.BOUND
    assert binding.sync.sync_id == "running"
    assert binding.sync.ended_at == at(200)


def test_a_joined_trigger_binds_the_sync_that_started_before_the_end_of_its_second():
    anchor = Anchor(at(100), joined=True)

    binding = bind(anchor, [ended("prev", 10, 60), started("scheduled", 100.2)], complete=False)

    assert binding.sync.sync_id == "scheduled"


def test_a_started_trigger_binds_the_first_sync_that_starts_in_or_after_its_second():
    anchor = Anchor(at(100))
    syncs = [
        ended("before", 10, 99.5, "FAILURE"),
        started("ours", 100.4),
        ended("later", 150, 160, "FAILURE"),
    ]

    binding = bind(anchor, syncs, complete=False)

    assert binding.decision is Decision.BOUND
    assert binding.sync.sync_id == "ours"
    assert not binding.sync.ended  # bound, still running: the token waits


def test_a_sync_that_ended_before_the_acceptance_second_is_never_the_tokens():
    binding = bind(Anchor(at(100)), [ended("before", 10, 99.9, "FAILURE")], complete=True)

    assert binding.decision is Decision.WAITING


def test_a_later_start_seen_only_in_webhooks_is_unsure_until_the_history_confirms_it():
    anchor = Anchor(at(100))
    later = [started("maybe", 130), ended("maybe", None, 160)]

    assert bind(anchor, later, complete=False).decision is Decision.UNSURE
    # the history shows another sync in between: that one is the token's
    history = [*later, ended("ours", 103, 120, "FAILURE")]
    confirmed = bind(anchor, history, complete=True)
    assert confirmed.decision is Decision.BOUND
    assert confirmed.sync.sync_id == "ours"


def test_a_resume_binds_the_first_sync_after_the_rescheduled_one_but_never_that_one():
    anchor = Anchor(at(100), precision=timedelta(0), exclude=frozenset({"rescheduled"}))
    syncs = [ended("rescheduled", 40, 100, "RESCHEDULED"), ended("resumed", 400, 500)]

    binding = bind(anchor, syncs, complete=True)

    assert binding.sync.sync_id == "resumed"


def test_an_end_without_a_start_inside_the_acceptance_second_asks_the_history():
    anchor = Anchor(at(100))
    only_end = [ended("short", None, 100.8)]

    assert bind(anchor, only_end, complete=False).decision is Decision.UNSURE
    assert bind(anchor, [ended("short", 100.1, 100.8)], complete=True).sync.sync_id == "short"
    assert bind(anchor, [ended("short", 98.0, 100.3)], complete=True).decision is Decision.WAITING


def test_a_joined_trigger_with_only_an_end_inside_its_second_asks_the_history():
    # An account that sends sync_end only: the sync the trigger joined may be the one that ended in
    # the acceptance second, or one before it; the history decides (found by the attribution benchmark).
    anchor = Anchor(at(100), joined=True)
    only_end = [ended("joined", None, 100.4)]

    assert bind(anchor, only_end, complete=False).decision is Decision.UNSURE
    assert bind(anchor, [ended("joined", 90.0, 100.4)], complete=True).sync.sync_id == "joined"


def test_a_duplicate_or_contradicting_end_never_changes_the_first_one_recorded():
    first = ended("s", 10, 20, "FAILURE")
    again = ended("s", None, 25, "SUCCESSFUL")

    merged = merge([first, again])["s"]

    assert (merged.status, merged.ended_at) == ("FAILURE", at(20))


def test_a_sync_still_running_in_the_history_after_a_later_sync_started_was_dropped():
    # Paused and resumed (or moved) mid-sync: Fivetran drops the running sync with no end, and a new
    # sync follows. Syncs of one connection never overlap, so the token's sync is over.
    anchor = Anchor(at(100))
    history = [started("ours", 101), ended("after-resume", 130, 160)]

    binding = bind(anchor, history, complete=True)

    assert binding.decision is Decision.BOUND
    assert binding.sync.sync_id == "ours"
    assert binding.dropped
    assert binding.superseded_by.sync_id == "after-resume"


def test_webhooks_alone_never_call_a_sync_dropped():
    # The token's sync_end may still be on its way: only the complete history shows it never came.
    anchor = Anchor(at(100))
    seen = [started("ours", 101), started("next", 130)]

    binding = bind(anchor, seen, complete=False)

    assert binding.sync.sync_id == "ours"
    assert not binding.dropped


def test_a_sync_that_ended_is_never_dropped_whatever_started_after_it():
    anchor = Anchor(at(100), joined=True)
    history = [ended("joined", 90, 110, "FAILURE"), started("next", 130)]

    binding = bind(anchor, history, complete=True)

    assert binding.sync.sync_id == "joined"
    assert not binding.dropped
    assert binding.superseded_by is None


# -- random interleavings -------------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    syncs: list[SyncRecord]  # Fivetran's truth, in order
    anchor: Anchor
    ours: str


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """A connection's syncs around one accepted trigger, on Fivetran's clock."""
    clock = draw(st.floats(0, 30))
    before: list[SyncRecord] = []
    for i in range(draw(st.integers(0, 3))):
        start = clock + draw(st.floats(1.1, 20))
        end = start + draw(st.floats(1.1, 30))
        before.append(
            SyncRecord(f"before-{i}", at(start), at(end), draw(st.sampled_from(["SUCCESSFUL", "FAILURE"])))
        )
        clock = end
    accept = clock + draw(st.floats(-15, 15))  # may fall inside the last sync: then the trigger joins it
    running = [s for s in before if s.started_at <= at(accept) < s.ended_at]
    previous_end = max((s.ended_at for s in before if s.ended_at <= at(accept)), default=T0)
    if (at(accept) - previous_end).total_seconds() < 1.1 and not running:
        accept = (previous_end - T0).total_seconds() + 1.1
        # Moved forward, the acceptance may now fall inside a sync (Fivetran runs one sync of a
        # connection at a time: the trigger then joins it, never starts a second one beside it).
        running = [s for s in before if s.started_at <= at(accept) < s.ended_at]
    syncs = [s for s in before if s.started_at <= at(accept)]
    if running:
        ours = running[0].sync_id
        joined = True
        clock = (running[0].ended_at - T0).total_seconds()
    else:
        start = accept + draw(st.floats(0, 5))  # Fivetran may take a while to start it
        end = start + draw(st.floats(1.1, 30))
        syncs.append(SyncRecord("ours", at(start), at(end), draw(st.sampled_from(["SUCCESSFUL", "FAILURE"]))))
        ours, joined, clock = "ours", False, end
    for i in range(draw(st.integers(0, 3))):  # syncs Fivetran starts later, by schedule or for other runs
        start = clock + draw(st.floats(1.1, 20))
        end = start + draw(st.floats(1.1, 30))
        syncs.append(
            SyncRecord(f"after-{i}", at(start), at(end), draw(st.sampled_from(["SUCCESSFUL", "FAILURE"])))
        )
        clock = end
    whole_second = at(accept).replace(microsecond=0)  # what the HTTP Date header carries
    return World(syncs, Anchor(whole_second, joined=joined), ours)


def events(world: World) -> list[tuple[datetime, SyncRecord]]:
    """Every webhook Fivetran sends: (when it was created, what it says)."""
    out = []
    for s in world.syncs:
        out.append((s.started_at, SyncRecord(s.sync_id, started_at=s.started_at)))
        out.append((s.ended_at, SyncRecord(s.sync_id, ended_at=s.ended_at, status=s.status)))
    return out


def history(world: World, now: datetime) -> list[SyncRecord]:
    """The sync history as Fivetran answers it at ``now``: what has started, ended or not."""
    return [
        s if s.ended_at <= now else SyncRecord(s.sync_id, started_at=s.started_at, source="history")
        for s in world.syncs
        if s.started_at <= now
    ]


@settings(max_examples=examples(400))
@given(world=worlds(), data=st.data())
def test_no_interleaving_ever_completes_a_token_with_another_syncs_outcome(world: World, data: st.DataObject):
    sent = events(world)
    deliveries = data.draw(
        st.lists(st.sampled_from(range(len(sent))), max_size=3 * len(sent)),
        label="deliveries (any order, repeats)",
    )
    seen: list[SyncRecord] = []
    completed_with: str | None = None
    now = world.anchor.at  # Fivetran's clock when each delivery arrives: never before what it reports
    for index in deliveries:
        created, event = sent[index]
        seen.append(event)
        now = max(now, created)
        decision = bind(world.anchor, seen, complete=False)
        if decision.decision is Decision.UNSURE and data.draw(st.booleans(), label="history readable"):
            decision = bind(world.anchor, seen + history(world, now), complete=True)
        if decision.decision is Decision.BOUND and decision.sync.ended:
            completed_with = completed_with or decision.sync.sync_id
        if data.draw(st.booleans(), label="a safety-net pass now"):
            passed = bind(world.anchor, seen + history(world, now), complete=True)
            if passed.decision is Decision.BOUND and passed.sync.ended:
                completed_with = completed_with or passed.sync.sync_id
        assert completed_with in (None, world.ours), (completed_with, world)

    # Once Fivetran's whole history is readable, the token's own sync is found and has ended.
    last = max(s.ended_at for s in world.syncs)
    final = bind(world.anchor, seen + history(world, last), complete=True)
    assert final.decision is Decision.BOUND
    assert final.sync.sync_id == world.ours
    assert final.sync.ended


@settings(max_examples=200, deadline=None)
@given(world=worlds(), resumed=st.floats(1.1, 20), data=st.data())
def test_a_dropped_sync_is_told_apart_from_the_syncs_after_it(
    world: World, resumed: float, data: st.DataObject
):
    """The token's sync is dropped (no end, ever; the history keeps it running) and a sync follows
    the resume: no read completes the token with another sync's outcome, a read before the later sync
    started keeps it waiting, and a read after it names the token's own sync as dropped by it."""
    ours = next(s for s in world.syncs if s.sync_id == world.ours)
    dropped = SyncRecord(ours.sync_id, started_at=ours.started_at, source="history")
    # The resume comes after the trigger was accepted (before it, the trigger would have met that sync).
    after_start = max(ours.started_at, world.anchor.until) + timedelta(seconds=resumed)
    follow = SyncRecord("after-resume", after_start, after_start + timedelta(seconds=5), "SUCCESSFUL")
    before = [s for s in world.syncs if s.started_at < ours.started_at]
    truth = [*before, dropped, follow]

    def history_at(now: datetime) -> list[SyncRecord]:
        return [
            s if s.ended_at is not None and s.ended_at <= now else replace(s, ended_at=None, status=None)
            for s in truth
            if s.started_at <= now
        ]

    moment = data.draw(st.floats(0, 40), label="seconds after our start")
    now = max(ours.started_at, world.anchor.until) + timedelta(seconds=moment)
    binding = bind(world.anchor, history_at(now), complete=True)

    assert binding.decision is Decision.BOUND
    assert binding.sync.sync_id == world.ours
    assert not binding.sync.ended
    assert binding.dropped == (now >= after_start)
    if binding.dropped:
        assert binding.superseded_by.sync_id == "after-resume"
