"""The simulator's one timer thread, whatever the number of connections: every timed event (sync
ends, scheduled syncs, resumes, mid-run changes, webhook redeliveries) waits in one heap and runs
on this thread when due. ``stopped`` is the whole simulator's stop flag."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Any

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self) -> None:
        self.stopped = threading.Event()
        self._due: list[tuple[float, int, Any, tuple[Any, ...]]] = []  # (monotonic due, seq, fn, args)
        self._due_changed = threading.Condition(threading.Lock())
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def later(self, delay: float, fn: Any, *args: Any) -> None:
        """Run ``fn(*args)`` on the scheduler thread after ``delay`` seconds (a heap, not a thread per
        event). ``fn`` must not block: webhook deliveries go on to the senders' pool, warehouse
        writes to the writer thread."""
        if self.stopped.is_set():
            return
        with self._due_changed:
            heapq.heappush(self._due, (time.monotonic() + max(0.0, delay), next(self._seq), fn, args))
            self._due_changed.notify()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fivetran-sim-clock", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Set the stop flag and drop every event still waiting."""
        self.stopped.set()
        with self._due_changed:
            self._due.clear()
            self._due_changed.notify_all()

    def _run(self) -> None:
        while not self.stopped.is_set():
            with self._due_changed:
                wait = self._due[0][0] - time.monotonic() if self._due else None
                if wait is None or wait > 0:
                    self._due_changed.wait(timeout=wait)
                    continue
                _, _, fn, args = heapq.heappop(self._due)
            try:
                fn(*args)
            except Exception:
                log.exception("simulator event %s failed", getattr(fn, "__name__", fn))
