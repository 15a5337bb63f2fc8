"""Running the task's dbt commands in one child process, the dbt session (``task/dbt_session.py``), and
stopping them when the task is stopped (SIGTERM, or Ctrl-C).

dbt's console output goes to our stderr; the exit code of a stopped run is 128 + the signal."""

from __future__ import annotations

import contextlib
import json
import os
import select
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from types import FrameType

from task.command_line import dbt_session_invocation
from task.events import log_event

KILL_AFTER_S = 5.0
CLOSE_TIMEOUT_S = 10.0  # how long the session may take to exit once it has no more commands
POLL_S = 0.2


class DbtProcess:
    """Runs dbt commands one after the other; a SIGTERM/SIGINT stops the current one and any that follow.

    The commands run in one dbt session, started by the first and ended by ``close()`` (or by the end of
    this process): dbt is imported once per task, not once per command. On a stop signal the session
    gets SIGINT (dbt's Ctrl-C: it cancels the queries it has open in the warehouse), then SIGTERM after
    the grace period, then SIGKILL. The session runs in its own process group, so a Ctrl-C in a terminal
    reaches it once (through us), and it is told to stop if this process dies.
    """

    def __init__(self, grace_s: float, session: Sequence[str] | None = None) -> None:
        self.grace_s = grace_s
        self.stop_signal: int | None = None
        self._command = list(session) if session is not None else dbt_session_invocation()
        self._proc: subprocess.Popen[bytes] | None = None
        self._interrupted = False
        self._escalations: list[tuple[float, signal.Signals]] = []

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)

    def run(self, args: list[str], env: Mapping[str, str]) -> int:
        """Run one dbt command (``args``: dbt's arguments, without ``dbt``) to its end, with ``env`` as
        its environment; its exit code, or 128 + the signal when the run was stopped."""
        if self.stop_signal is not None:
            return 128 + self.stop_signal
        log_event("dbt_started", args=shlex.join(args))
        proc = self._session(env)
        request = json.dumps({"args": list(args), "env": dict(env)}) + "\n"
        answer: int | None = None
        try:
            assert proc.stdin is not None
            proc.stdin.write(request.encode("utf-8"))
            proc.stdin.flush()
        except OSError:  # the session has ended: its exit code says why
            pass
        else:
            answer = self._answer(proc)
        code = answer if answer is not None else self._ended(proc)
        if self.stop_signal is None:
            return code
        log_event("dbt_stopped", level="warning", signal=signal.Signals(self.stop_signal).name, dbt_exit=code)
        return 128 + self.stop_signal

    def close(self) -> None:
        """End the session (no more commands): it exits on the end of its input; terminated if it does not."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            assert proc.stdin is not None
            proc.stdin.close()
        try:
            proc.wait(timeout=CLOSE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _send(proc, signal.SIGTERM)
            proc.wait()

    def _session(self, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._interrupted = False
            self._proc = subprocess.Popen(  # noqa: S603 (our own interpreter, arguments built here)
                self._command,
                env=dict(env),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=sys.stderr.fileno(),
                start_new_session=True,
                preexec_fn=_parent_death_signal(),
            )
            log_event("dbt_session_started", pid=self._proc.pid)
        return self._proc

    def _answer(self, proc: subprocess.Popen[bytes]) -> int | None:
        """The session's answer to the command just sent: its exit code, or None when the session ended
        without one (stopped, killed, crashed)."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        line = b""
        while not line.endswith(b"\n"):
            self._stop_when_asked(proc)
            ready, _, _ = select.select([fd], [], [], POLL_S)
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                return None
            line += chunk
        try:
            return int(json.loads(line)["exit_code"])
        except (ValueError, KeyError, TypeError):
            unreadable = line[:200].decode(errors="replace")
            log_event("dbt_session_answer_unreadable", level="error", answer=unreadable)
            return None

    def _ended(self, proc: subprocess.Popen[bytes]) -> int:
        """The exit code of a session that ended without answering (it is waited for)."""
        while True:
            try:
                code = proc.wait(timeout=POLL_S)
                break
            except subprocess.TimeoutExpired:
                self._stop_when_asked(proc)
        self._proc = None
        if code < 0:  # ended by a signal: report it as a shell does (128 + the signal)
            code = 128 - code
            if self.stop_signal is None:  # not ours: the OOM killer, say
                log_event("dbt_killed", level="error", exit_code=code)
        return code

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
