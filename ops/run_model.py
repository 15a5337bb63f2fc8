"""The view of one run (pure data): what ``show``, ``runs``, ``start-run --wait`` and the timeline print.

``RunView`` holds the run, one ``SyncView`` per connection, the ``SkippedView``s, a ``DbtView``,
and for a Distributed Map run the ``SyncCounts`` (``CollectOutcomes``' counts) or, while its
syncs run, the map run's ``MapProgress``. Its properties say how many succeeded and failed
whether ``syncs`` holds every connection or only the first ones. ``ops.runview`` builds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.run.collect import FAILED, SUCCEEDED, TIMED_OUT
from chalicelib.run.run_files import S3Location

__all__ = [
    "NOT_OK",
    "BuildSummary",
    "DbtView",
    "MapProgress",
    "RunView",
    "SkippedView",
    "SyncCounts",
    "SyncView",
    "WaitView",
]

# The outcomes that count as failed: chalicelib.run.collect's two, and a sync the run's end cut short.
NOT_OK = {FAILED, TIMED_OUT, "unfinished"}


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


@dataclass(frozen=True)
class WaitView:
    """One free wait of a connection's sync: from ``start`` (when it was told to wait) to ``end``.

    ``kind``: ``rescheduled`` (Fivetran: the source's quota), ``rate_limited`` (Fivetran's API: 429),
    ``api_budget`` (the account's API budget gave the trigger a later slot); ``reason`` says why.
    """

    start: datetime | None
    end: datetime | None
    kind: str = "rescheduled"
    reason: str = ""


@dataclass
class SyncView:
    """One connection's sync in this run.

    ``outcome``: queued, running, succeeded, failed, timed_out, or unfinished (the run ended first).
    """

    connector_id: str
    schema: str = ""
    outcome: str = "queued"
    sync_id: str | None = None
    started: datetime | None = None
    ended: datetime | None = None
    error: str | None = None
    cause: str | None = None
    # Free waits (reschedules, rate limits): from the recorded outcome's ``waits``. ``waits`` holds the
    # ones known in detail (the first ten and the last); ``wait_counts`` every one:
    # ``{"count", "rescheduled", "rate_limited"}``.
    waits: list[WaitView] = field(default_factory=list)
    wait_counts: dict[str, int] = field(default_factory=dict)

    @property
    def waited(self) -> int:
        """How many times the sync waited (at least the waits known in detail)."""
        return max(self.wait_counts.get("count", 0), len(self.waits))

    @property
    def duration_s(self) -> float | None:
        return _seconds(self.started, self.ended)


@dataclass(frozen=True)
class SkippedView:
    connector_id: str
    reason: str


@dataclass(frozen=True)
class BuildSummary:
    """What dbt built and why, from the dbt task's ``summary.json`` (the state machine reads it into
    ``$.dbt_build``, or ``$.dbt_summary`` when dbt failed): ``models_built`` (at most 500 names,
    ``models_built_count`` all), ``mode`` (``new_data`` or ``all``), the explicit ``select``/``exclude``,
    ``selection`` (selection by new data: ``reason``, ``skipped_count``, ``full_list``, ``skipped``) and
    ``artifacts`` (the run's ``s3://…/dbt-runs/<run>/``, where ``selection.json`` lists every node)."""

    models_built: tuple[str, ...] = ()
    models_built_count: int = 0
    mode: str | None = None
    select: str = ""
    exclude: str = ""
    selection: dict[str, Any] | None = None
    artifacts: str | None = None


@dataclass
class DbtView:
    """``state``: not_run, running, succeeded, failed."""

    state: str = "not_run"
    command: str = "build"
    started: datetime | None = None
    ended: datetime | None = None
    exit_code: int | None = None
    excluded_sources: list[str] = field(default_factory=list)
    cause: str | None = None
    # The transform lease (one dbt at a time per target): the run whose dbt this one waited for (or
    # waits for, while ``waiting``) and for how long (whole seconds).
    waited_for: str | None = None
    waited_s: int | None = None
    waiting: bool = False
    build: BuildSummary | None = None  # once the state machine read dbt's summary

    @property
    def duration_s(self) -> float | None:
        return _seconds(self.started, self.ended)


@dataclass(frozen=True)
class SyncCounts:
    """``chalicelib.run.collect.Collected.counts`` read back: how many connections a distributed run
    synced, by outcome (``CollectOutcomes``' ``counts``, ``outcomes.json``'s ``counts``)."""

    total: int = 0
    succeeded: int = 0
    failed: int = 0
    timed_out: int = 0
    skipped: int = 0

    @property
    def not_succeeded(self) -> int:
        return self.failed + self.timed_out


@dataclass(frozen=True)
class MapProgress:
    """A map run's item counts while it runs (``DescribeMapRun``'s ``itemCounts``: child executions
    by status, which AWS defines, not connections by outcome)."""

    total: int = 0
    pending: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    timed_out: int = 0
    aborted: int = 0
    status: str = "RUNNING"

    @property
    def done(self) -> int:
        return self.succeeded + self.failed + self.timed_out + self.aborted

    @property
    def not_succeeded(self) -> int:
        return self.failed + self.timed_out + self.aborted


@dataclass
class RunView:
    arn: str
    name: str
    status: str
    started: datetime
    stopped: datetime | None
    input: dict[str, Any]
    error: str | None = None
    cause: str | None = None
    listed: bool = False
    syncs: list[SyncView] = field(default_factory=list)
    skipped: list[SkippedView] = field(default_factory=list)
    dbt: DbtView = field(default_factory=DbtView)
    history_events: int = 0
    # A Distributed Map run (``distributed``): the syncs are in child executions.
    distributed: bool = False
    listed_count: int | None = None  # connections to sync, from the listing's items file
    skipped_count: int | None = None  # skipped in all (``skipped`` holds at most 100 of them)
    map_run_arn: str | None = None
    map_run_status: str | None = None  # RUNNING, SUCCEEDED, FAILED, ABORTED (from the history)
    counts: SyncCounts | None = None  # once CollectOutcomes has run (or from outcomes.json)
    progress: MapProgress | None = None  # the map run's item counts (in flight, or no CollectOutcomes)
    collected: bool = False  # CollectOutcomes has run
    outcomes_location: S3Location | None = None
    outcomes_read: bool = False  # ``syncs`` came from outcomes.json: every connection is there
    outcomes_problem: str | None = None  # why outcomes.json could not be read (set by ops.runs)
    failure_summary: str | None = None
    retried_by: str | None = None  # the latest run that retries this one (runs/<name>/retried_by.json)

    @property
    def retry_of(self) -> str | None:
        """The run this one retries (its input's ``retry_of``), or None."""
        value = self.input.get("retry_of") if isinstance(self.input, dict) else None
        return str(value) if value else None

    @property
    def duration_s(self) -> float | None:
        return _seconds(self.started, self.stopped)

    @property
    def outcomes_uri(self) -> str | None:
        return self.outcomes_location.uri if self.outcomes_location else None

    @property
    def complete(self) -> bool:
        """``syncs`` holds every connection of the run (always so for a run that never reached
        the Map: it has none)."""
        if not self.distributed:
            return True
        if self.counts is not None:
            return self.outcomes_read or len(self.syncs) >= self.counts.total
        return False

    def _tally(self, outcomes: set[str], figure: str) -> int:
        """The syncs listed with these outcomes; while ``syncs`` is not complete, the counts' (else the
        map run's) ``figure`` instead."""
        if not self.complete:
            for counts in (self.counts, self.progress):
                if counts is not None:
                    return int(getattr(counts, figure))
        return sum(1 for s in self.syncs if s.outcome in outcomes)

    @property
    def ok(self) -> int:
        return self._tally({SUCCEEDED}, "succeeded")

    @property
    def failed(self) -> int:
        return self._tally(NOT_OK, "not_succeeded")

    @property
    def skipped_total(self) -> int:
        return max(len(self.skipped), self.skipped_count or 0)

    @property
    def to_sync(self) -> int:
        """How many connections the listing gave the sync Map."""
        if self.listed_count is not None:
            return self.listed_count
        if self.counts is not None:
            return self.counts.total
        return len(self.syncs)

    @property
    def failed_connectors(self) -> list[str]:
        return [s.connector_id for s in self.syncs if s.outcome in NOT_OK]

    @property
    def failed_connectors_complete(self) -> bool:
        """``failed_connectors`` names every connection that did not succeed."""
        return len(self.failed_connectors) >= self.failed

    def sync(self, connector_id: str) -> SyncView | None:
        return next((s for s in self.syncs if s.connector_id == connector_id), None)
