"""The dbt session: a task's dbt commands run one after the other in one child process (dbt imported once),
each with its own environment and the dbt CLI's exit code; a session that dies, or is stopped, ends the
command as a dbt process would have ended."""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tests.conftest import PATIENCE_S
from tests.dbt.support import REPO

sys.path.insert(0, str(REPO / "dbt_container"))
from task.command_line import dbt_session_invocation  # the dbt image's package, beside its entrypoint
from task.dbt_session import serve
from task.process import DbtProcess

# A session whose "dbt" is a script: the real session (task.dbt_session.main), commands that say what
# the process is and how a command ends. `wait` sleeps until interrupted, as dbt does on a long query:
# dbt's runner turns the KeyboardInterrupt into a result, as dbtRunner does (it catches BaseException).
SCRIPTED_SESSION = textwrap.dedent(
    f"""
    import os, signal, sys, time
    from types import SimpleNamespace
    sys.path.insert(0, {str(REPO / "dbt_container")!r})
    from task.dbt_session import main

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a parent that ignores SIGINT leaves it to its children

    def invoke(args):
        if args[0] == "record":
            with open(args[1], "a") as out:
                out.write(f"{{os.getpid()}} {{os.environ.get('MARK', '-')}}\\n")
            return SimpleNamespace(success=True, exception=None)
        if args[0] == "fail":
            return SimpleNamespace(success=False, exception=None)
        if args[0] == "raise":
            return SimpleNamespace(success=False, exception=RuntimeError("compilation error"))
        if args[0] == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        if args[0] == "wait":
            open(args[1], "w").close()
            try:
                time.sleep(60)
            except KeyboardInterrupt as stopped:
                return SimpleNamespace(success=False, exception=stopped)
        raise AssertionError(args)

    sys.exit(main(lambda: invoke))
    """
)


def _scripted(grace_s: float = 5.0) -> DbtProcess:
    return DbtProcess(grace_s, session=[sys.executable, "-c", SCRIPTED_SESSION])


def _records(path: Path) -> list[tuple[str, str]]:
    return [tuple(line.split()) for line in path.read_text().splitlines()]  # type: ignore[misc]


def test_the_commands_of_a_task_run_in_one_session_each_with_its_own_environment(tmp_path: Path) -> None:
    record = tmp_path / "record"
    dbt = _scripted()
    try:
        codes = [
            dbt.run(["record", str(record)], {"MARK": "first"}),
            dbt.run(["fail"], {}),
            dbt.run(["raise"], {}),
            dbt.run(["record", str(record)], {}),
        ]
    finally:
        dbt.close()

    assert codes == [0, 1, 2, 0]  # the dbt CLI's codes: success, a node failed, an error
    (first_pid, first_mark), (second_pid, second_mark) = _records(record)
    assert first_pid == second_pid  # one session: dbt imported once
    assert (first_mark, second_mark) == ("first", "-")  # the second command does not see the first's env


def test_a_session_killed_mid_command_gives_128_plus_the_signal_and_the_next_command_starts_a_new_one(
    tmp_path: Path,
) -> None:
    record = tmp_path / "record"
    dbt = _scripted()
    try:
        assert dbt.run(["record", str(record)], {}) == 0
        assert dbt.run(["die"], {}) == 128 + signal.SIGKILL
        assert dbt.run(["record", str(record)], {}) == 0
    finally:
        dbt.close()

    (before, _), (after, _) = _records(record)
    assert before != after


def test_a_stop_interrupts_the_running_command_and_every_later_one_never_starts(tmp_path: Path) -> None:
    record, waiting = tmp_path / "record", tmp_path / "waiting"
    dbt = _scripted(grace_s=600.0)  # no escalation during the test: only the Ctrl-C can end the command
    codes: list[int] = []
    running = threading.Thread(target=lambda: codes.append(dbt.run(["wait", str(waiting)], {})))
    running.start()
    deadline = time.monotonic() + PATIENCE_S
    while not waiting.exists() and time.monotonic() < deadline:  # the command waits (a warehouse query)
        time.sleep(0.05)
    session = dbt._proc
    dbt._on_signal(signal.SIGTERM, None)  # what the SIGTERM handler does
    running.join(timeout=PATIENCE_S)

    assert codes == [128 + signal.SIGTERM]
    assert session is not None and session.returncode == 130  # it ended on its Ctrl-C, not killed
    assert dbt.run(["record", str(record)], {}) == 128 + signal.SIGTERM
    assert not record.exists()
    dbt.close()


def test_close_ends_the_session_and_a_session_never_started_closes_too(tmp_path: Path) -> None:
    dbt = _scripted()
    dbt.close()
    assert dbt.run(["record", str(tmp_path / "record")], {}) == 0
    session = dbt._proc
    assert session is not None and session.poll() is None
    dbt.close()
    assert session.returncode == 0


def test_a_line_that_is_not_a_request_is_answered_2_and_never_runs() -> None:
    ran: list[list[str]] = []

    def invoke(args: list[str]) -> Any:
        ran.append(args)
        return SimpleNamespace(success=True, exception=None)

    answers = io.StringIO()
    requests = ["not json\n", json.dumps({"args": ["build", 3], "env": {}}) + "\n"]
    requests.append(json.dumps({"args": ["build"], "env": {"A": "1"}}) + "\n")
    environ: dict[str, str] = {"LEFT_OVER": "x"}

    assert serve(requests, answers, invoke, environ) == 0
    assert [json.loads(line) for line in answers.getvalue().splitlines()] == [
        {"exit_code": 2},
        {"exit_code": 2},
        {"exit_code": 0},
    ]
    assert ran == [["build"]] and environ == {"A": "1"}


def test_the_real_dbt_session_answers_with_the_dbt_clis_exit_codes(dbt_python: Path, tmp_path: Path) -> None:
    dbt = DbtProcess(5.0, session=dbt_session_invocation(str(dbt_python)))
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "DO_NOT_TRACK": "1"}
    try:
        assert dbt.run(["--version"], env) == 0
        first = dbt._proc
        assert dbt.run(["parse", "--project-dir", str(tmp_path / "no-project")], env) == 2
        assert dbt.run(["--no-such-flag"], env) == 2
        assert dbt._proc is first  # one session for the three commands
    finally:
        dbt.close()
    assert first is not None and first.returncode == 0
