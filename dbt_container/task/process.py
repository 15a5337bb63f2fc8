"""Running dbt as a child process, and stopping it when the task is stopped (SIGTERM, or Ctrl-C).

dbt's console output goes to our stderr; the exit code of a stopped run is 128 + the signal."""

from __future__ import annotations

import contextlib
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from types import FrameType

from task.events import log_event

KILL_AFTER_S = 5.0


class DbtProcess:
    """Runs dbt commands one after the other; a SIGTERM/SIGINT stops the current one and any that follow.

    On a stop signal dbt gets SIGINT (its Ctrl-C: it cancels the queries it has open in the warehouse),
    then SIGTERM after the grace period, then SIGKILL. dbt runs in its own session, so a Ctrl-C in a
    terminal reaches it once (through us), and it is told to stop if this process dies.
    """

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self.stop_signal: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._interrupted = False
        self._escalations: list[tuple[float, signal.Signals]] = []

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)

    def run(self, argv: list[str], env: Mapping[str, str]) -> int:
        """Run one dbt command to its end; its exit code, or 128 + the signal when the run was stopped."""
        if self.stop_signal is not None:
            return 128 + self.stop_signal
        log_event("dbt_started", args=shlex.join(argv[3:]))
        self._interrupted = False
        self._proc = subprocess.Popen(  # noqa: S603 (our own interpreter, arguments built here)
            argv,
            env=dict(env),
            stdout=sys.stderr.fileno(),
            stderr=sys.stderr.fileno(),
            start_new_session=True,
            preexec_fn=_parent_death_signal(),
        )
        try:
            code = self._wait(self._proc)
        finally:
            self._proc = None
        if code < 0:  # ended by a signal: report it as a shell does (128 + the signal)
            code = 128 - code
            if self.stop_signal is None:  # not ours: the OOM killer, say
                log_event("dbt_killed", level="error", exit_code=code)
        if self.stop_signal is None:
            return code
        log_event("dbt_stopped", level="warning", signal=signal.Signals(self.stop_signal).name, dbt_exit=code)
        return 128 + self.stop_signal

    def _wait(self, proc: subprocess.Popen[bytes]) -> int:
        while True:
            try:
                return proc.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                self._stop_when_asked(proc)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.stop_signal is not None:
            return
        self.stop_signal = signum
        log_event("stop_requested", level="warning", signal=signal.Signals(signum).name)
        now = time.monotonic()
        self._escalations = [
            (now + self.grace_s, signal.SIGTERM),
            (now + self.grace_s + KILL_AFTER_S, signal.SIGKILL),
        ]
        if self._proc is not None:
            self._stop_when_asked(self._proc)

    def _stop_when_asked(self, proc: subprocess.Popen[bytes]) -> None:
        if self.stop_signal is None:
            return
        if not self._interrupted:
            self._interrupted = True
            _send(proc, signal.SIGINT)
        while self._escalations and time.monotonic() >= self._escalations[0][0]:
            _, signum = self._escalations.pop(0)
            log_event("dbt_escalate", level="warning", signal=signum.name)
            _send(proc, signum)


def _send(proc: subprocess.Popen[bytes], signum: int) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)


def _parent_death_signal() -> Callable[[], None] | None:
    """On Linux, what makes the child get SIGTERM if the entrypoint dies (even by SIGKILL): prctl."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, int(signal.SIGTERM))
