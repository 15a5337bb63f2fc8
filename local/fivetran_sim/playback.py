"""How each sync plays out on the simulator's clock: a sync begins (triggered, already running when
the run began, started by Fivetran's own schedule, or resuming a rescheduled one), sends its
``sync_start``, and ends after its duration as the scenario says (its rows written first if it
succeeded), updating the connection and its sync history and sending ``sync_end``; a ``mid_run``
change drops the running sync. Times are on Fivetran's clock."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from local.fivetran_sim.records import ConnectionState, Sync, stamp, utc_now
from local.fivetran_sim.scheduler import Scheduler
from local.fivetran_sim.webhooks import WebhookSender
from local.fivetran_sim.writer import WarehouseWriter
from local.scenario import MidRunSpec, ScheduledSyncSpec

STATUS_BY_OUTCOME = {
    "success": "SUCCESSFUL",
    "failure": "FAILURE",
    "failure_with_task": "FAILURE_WITH_TASK",
    "canceled": "CANCELED",
    "rescheduled": "RESCHEDULED",
}
ALREADY_SYNCING_SINCE_S = 60.0  # an already_syncing sync started this long before the run zero


class SyncPlayer:
    def __init__(
        self,
        *,
        lock: threading.RLock,
        now_f: Callable[[], datetime],
        scheduler: Scheduler,
        sender: WebhookSender,
        duckdb_path: Path,
        errors: list[str],
        sync_ended_at: dict[str, list[datetime]],
    ) -> None:
        self._lock = lock  # the simulator's: guards every connection's state
        self._now_f = now_f  # Fivetran's clock
        self._scheduler = scheduler
        self._sender = sender
        self._sync_ended_at = sync_ended_at  # this machine's clock (benchmarks)
        self.writer = WarehouseWriter(
            duckdb_path, stopped=scheduler.stopped, finish=self._finish_sync, errors=errors
        )

    def begin_run(self, connections: Iterable[ConnectionState]) -> None:
        """At the run's zero: the syncs already running start, and the scenario's scheduled syncs and
        mid-run changes are put on the clock."""
        for state in connections:
            spec = state.spec
            if spec.already_syncing is not None:
                self._start_already_syncing(state)
            for scheduled in spec.scheduled_syncs:
                self._scheduler.later(scheduled.start_s, self._scheduled, state, scheduled)
            for change in spec.mid_run:
                self._scheduler.later(change.at_s, self._change_mid_run, state, change)

    def begin_sync(self, state: ConnectionState, *, ours: bool, started: datetime | None = None) -> Sync:
        """A new sync is running (call with the lock held)."""
        sync = Sync(sync_id=str(uuid.uuid4()), started=started or self._now_f(), ours=ours)
        state.syncs.append(sync)
        state.running = sync
        state.sync_state = "syncing"
        state.rescheduled_for = None
        return sync

    def play(self, state: ConnectionState, sync: Sync, duration_s: float, outcome: str, reason: str) -> None:
        """Send the sync's ``sync_start`` now and end it after ``duration_s``."""
        self._sender.send(state, sync, "sync_start", sync.started, {})
        if outcome != "never_ends":
            self._scheduler.later(duration_s, self._end_sync, state, sync, outcome, reason)

    def _start_already_syncing(self, state: ConnectionState) -> None:
        spec = state.spec.already_syncing
        assert spec is not None
        with self._lock:
            sync = self.begin_sync(
                state, ours=False, started=self._now_f() - timedelta(seconds=ALREADY_SYNCING_SINCE_S)
            )
        self._sender.send(state, sync, "sync_start", sync.started, {})
        if spec.outcome != "never_ends":
            self._scheduler.later(spec.remaining_s, self._end_sync, state, sync, spec.outcome, spec.reason)

    def _scheduled(self, state: ConnectionState, spec: ScheduledSyncSpec) -> None:
        """A sync Fivetran starts on its own schedule (skipped if one is running)."""
        with self._lock:
            if state.running is not None or not state.syncable:
                return
            sync = self.begin_sync(state, ours=False)
        self.play(state, sync, spec.duration_s, spec.outcome, spec.reason)

    def _resume(self, state: ConnectionState, rescheduled: Sync) -> None:
        """An auto-schedule connection resumes a rescheduled sync by itself: a new sync that succeeds."""
        with self._lock:
            if state.sync_state != "rescheduled" or state.running is not None or not state.syncable:
                return
            sync = self.begin_sync(state, ours=rescheduled.ours)
        self.play(state, sync, state.spec.sync.resume_s, "success", "")

    def _change_mid_run(self, state: ConnectionState, change: MidRunSpec) -> None:
        """A ``mid_run`` change. Paused, broken, deleted or moved to another group: the running sync is
        dropped without a sync_end (its sync history row stays RUNNING with no end_time). Resumed
        (``paused: false``) or moved (a move pauses and resumes the connection): Fivetran starts a new
        sync of its own at once, which succeeds after ``sync.duration_s``. Paused, broken or deleted also
        sends ``pause_connector``, ``connection_failure`` or ``delete_connector`` (if the account's
        webhook sends it)."""
        with self._lock:
            if change.paused is False:
                state.paused = False
            else:
                if change.paused:
                    state.paused = True
                elif change.setup_state:
                    state.setup_state = change.setup_state
                elif change.group_id:
                    state.group_id = change.group_id
                else:
                    state.deleted = True
                state.running = None
                if state.sync_state == "syncing":
                    state.sync_state = "scheduled"
            resumes = change.paused is False or bool(change.group_id)
            sync = None
            if resumes and state.running is None and state.syncable:
                sync = self.begin_sync(state, ours=False)
        event = _connection_event(change)
        if event is not None:
            name, data = event
            self._sender.send_connection_event(state, name, self._now_f(), data)
        if sync is not None:
            self.play(state, sync, state.spec.sync.duration_s, "success", "")

    def _end_sync(self, state: ConnectionState, sync: Sync, outcome: str, reason: str) -> None:
        if state.running is not sync:
            return  # dropped
        if outcome == "success":
            self.writer.write_later(state, sync, outcome, reason)
        else:
            self._finish_sync(state, sync, outcome, reason)

    def _finish_sync(self, state: ConnectionState, sync: Sync, outcome: str, reason: str) -> None:
        """The sync ends now (its rows, if any, are written): history, connection state, ``sync_end``."""
        spec = state.spec.sync
        ended = self._now_f()
        data: dict[str, Any] = {"status": STATUS_BY_OUTCOME[outcome]}
        with self._lock:
            if state.running is not sync:
                return
            state.running = None
            sync.ended, sync.status = ended, data["status"]
            if outcome == "success":
                state.succeeded_at, state.sync_state = ended, "scheduled"
            elif outcome == "rescheduled":
                state.sync_state = "rescheduled"
                state.rescheduled_for = ended + timedelta(seconds=spec.rescheduled_for_s)
                sync.rescheduled_for = state.rescheduled_for
                data["rescheduledAt"] = stamp(state.rescheduled_for)
                data["reason"] = f"Rescheduled for {data['rescheduledAt']}, reason: source API quota"
            else:
                state.failed_at, state.sync_state = ended, "scheduled"
                data["reason"] = reason or f"simulated {outcome}"
                if outcome == "failure_with_task":
                    data["taskType"] = "reconnect"
            sync.reason = data.get("reason")
            self._sync_ended_at.setdefault(state.spec.id, []).append(utc_now())
        if outcome == "rescheduled" and state.spec.schedule_type == "auto":
            # An auto-schedule connection resumes by itself at rescheduled_for.
            self._scheduler.later(spec.rescheduled_for_s, self._resume, state, sync)
        self._sender.send(state, sync, "sync_end", ended, data)


def _connection_event(change: MidRunSpec) -> tuple[str, dict[str, Any]] | None:
    """The webhook event Fivetran sends for a ``mid_run`` change, and its ``data`` (None: none)."""
    if change.paused:
        return "pause_connector", {}
    if change.setup_state and change.setup_state != "connected":
        reason = f"simulated connection test failure: the connection's setup is {change.setup_state}"
        return "connection_failure", {"reason": reason}
    if change.deleted:
        return "delete_connector", {}
    return None
