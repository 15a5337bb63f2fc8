"""The dbt session: one child process that imports dbt once and runs the task's dbt commands one after
the other, each as the ``dbt`` CLI would run it.

A task runs up to four dbt commands (``deps``, ``source freshness``, the row counts' ``show``, the
build). As separate processes, each paid dbt's start-up again: importing dbt and its adapter takes about
2 s of CPU (measured: ``python -c "import dbt.cli.main"`` 1.96 s user, dbt-core 1.11, x86_64). The session
pays it once; each command is then one call of dbt's programmatic runner (``dbtRunner().invoke``, dbt's
documented way to run commands from Python: https://docs.getdbt.com/reference/programmatic-invocations),
with the environment the entrypoint gives that command, and dbt's partial parsing (``target/
partial_parse.msgpack``) spares most of the parse after the first.

The protocol (``task/process.py`` is the other side), one JSON object per line:

- the session reads ``{"args": [dbt's arguments], "env": {name: value}}`` on stdin;
- it writes ``{"exit_code": n}`` on its stdout when the command ends, with the dbt CLI's codes: 0 success,
  1 a node failed (``ResultExit``), 2 an error (``ExceptionExit``, a usage error);
- dbt's console output goes to stderr (the session points its own stdout there before dbt is imported,
  and keeps the original stdout for the answers);
- end of input: the session exits 0. SIGINT (dbt's Ctrl-C) interrupts the command: dbt cancels the
  queries it has open, and the session exits 130 without an answer.

Run as ``python -m task.dbt_session`` from the entrypoint's folder. Only the standard library at import
time; dbt is imported when the session starts.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from typing import Any, TextIO

__all__ = ["MODEL_ERROR", "STOPPED", "UNHANDLED_ERROR", "exit_code", "main", "serve"]

# dbt's exit codes (dbt.utils.ExitCodes): what ``dbt`` on the command line returns.
MODEL_ERROR = 1
UNHANDLED_ERROR = 2
STOPPED = 130  # 128 + SIGINT: the session's exit code when a Ctrl-C stopped it


def exit_code(result: Any) -> int:
    """The dbt CLI's exit code for one ``dbtRunnerResult``: 0 success, 2 an exception, else 1."""
    if result.success:
        return 0
    return UNHANDLED_ERROR if result.exception is not None else MODEL_ERROR


def serve(
    requests: Iterable[str],
    answers: TextIO,
    invoke: Callable[[list[str]], Any],
    environ: MutableMapping[str, str] = os.environ,
) -> int:
    """Run each request of ``requests`` (JSON lines) with ``invoke``; answer each on ``answers``.

    A request that is not ``{"args": [str...], "env": {str: str}}`` is answered with exit code 2 and
    the problem on stderr (it never runs). A command that raised (a usage error, a crash inside dbt) is
    answered 2 with the exception on stderr, as the CLI prints it. Returns the session's exit code."""
    for line in requests:
        if not line.strip():
            continue
        request = _request(line)
        if request is None:
            _answer(answers, UNHANDLED_ERROR)
            continue
        args, env = request
        environ.clear()
        environ.update(env)
        result = invoke(args)
        if isinstance(result.exception, KeyboardInterrupt):
            return STOPPED  # no answer, as a dbt process ended by Ctrl-C gives none
        if result.exception is not None:
            print(f"dbt: {type(result.exception).__name__}: {result.exception}", file=sys.stderr, flush=True)
        _answer(answers, exit_code(result))
    return 0


def _request(line: str) -> tuple[list[str], dict[str, str]] | None:
    try:
        request = json.loads(line)
    except ValueError:
        request = None
    args = request.get("args") if isinstance(request, Mapping) else None
    env = request.get("env") if isinstance(request, Mapping) else None
    if (
        not isinstance(args, list)
        or not all(isinstance(a, str) for a in args)
        or not isinstance(env, Mapping)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
    ):
        print(f"dbt session: not a request: {line[:200]!r}", file=sys.stderr, flush=True)
        return None
    return args, dict(env)


def _answer(answers: TextIO, code: int) -> None:
    answers.write(json.dumps({"exit_code": code}) + "\n")
    answers.flush()


def main(runner: Callable[[], Callable[[list[str]], Any]] | None = None) -> int:
    """The session's process: answers on the original stdout, everything else on stderr, SIGINT as
    Ctrl-C. ``runner`` makes the function that runs one command (default: dbt's ``dbtRunner``)."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    # SIGINT raises KeyboardInterrupt (dbt's Ctrl-C) whatever the disposition inherited. The entrypoint
    # catches SIGINT, so its children start with the default; but a parent that ignores SIGINT (a test
    # runner's worker, a shell's background job) passes the ignore on, and dbt would never hear the stop.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        invoke = runner() if runner is not None else _dbt_runner()
    except ImportError as exc:
        print(f"dbt session: dbt cannot be imported: {exc}", file=sys.stderr, flush=True)
        return UNHANDLED_ERROR
    try:
        return serve(sys.stdin, answers, invoke)
    except KeyboardInterrupt:  # SIGINT between two commands
        return STOPPED


def _dbt_runner() -> Callable[[list[str]], Any]:
    from dbt.cli.main import dbtRunner

    return lambda args: dbtRunner().invoke(args)


if __name__ == "__main__":
    sys.exit(main())
