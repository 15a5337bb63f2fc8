"""The commands that act on one run: ``stop RUN``, ``logs RUN [--connection ID]``, ``retry RUN [--wait]``.

Registered on the ``orchestrator`` group by ``register`` (``ops.cli``), with the same target options
as every command (``--stage S`` or ``--local``). RUN is an execution ARN, a name, or the start of a
recent run's name (``ops.runs.execution_arn``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ops.target import Target

__all__ = ["register", "run_files_line"]


def run_files_line(target: Target, name: str) -> str | None:
    """``run files: <folder>`` for a local run (the folder ``python -m local serve`` keeps it in, after
    it stops too: local/README.md); None on a deployed stage, whose files stay in S3."""
    runs_dir = getattr(getattr(target, "state", None), "runs_dir", "")
    return f"run files: {Path(runs_dir) / name}" if runs_dir else None


def register(group: click.Group, target_options: Callable[..., Any]) -> None:
    """Add ``stop``, ``logs`` and ``retry`` to ``group``; ``target_options`` is the CLI's target decorator."""

    @group.command(short_help="Redo only what a run did not finish: its failed syncs, then dbt from there.")
    @click.argument("run")
    @click.option("--name", metavar="NAME", help="Execution name of the new run (default: generated).")
    @click.option("--wait", is_flag=True, help="Follow the new run to its end; exit 3 unless it succeeded.")
    @target_options
    def retry(target: Callable[[], Target], run: str, name: str | None, wait: bool) -> None:
        """A new run for RUN's input: syncs again only the connections that failed, timed out or were
        dropped in RUN, then dbt from where RUN's dbt stopped (result:error+ result:skipped+, RUN's
        artifacts as --state), or the normal transform. Nothing to retry, or still running: exit 2.
        """
        from ops.follow import report_started
        from ops.retry import plan_retry, read_retry_sources
        from ops.runs import execution_arn, start_run

        resolved = target()
        plan = plan_retry(*read_retry_sources(resolved, execution_arn(resolved, run)))
        for line in plan.lines():
            click.echo(line, err=True)
        code = report_started(resolved, start_run(resolved, plan.run_input, name), wait)
        if code:
            sys.exit(code)

    @group.command(short_help="Stop a run: its execution, its map run and its dbt task.")
    @click.argument("run")
    @target_options
    def stop(target: Callable[[], Target], run: str) -> None:
        """Stop RUN: StopExecution on the run (its Distributed Map run and child executions stop with
        it), then ecs:StopTask on its dbt task if one is running. The task tokens it parked are deleted
        by the safety net's next pass. Prints what was stopped; a run that already ended is left as is.
        """
        from ops.run_stop import stop_run
        from ops.runs import execution_arn

        resolved = target()
        stopped = stop_run(resolved, execution_arn(resolved, run), resolved.client("ecs"))
        for line in stopped.lines():
            click.echo(line)
        if stopped.stopped:
            click.echo(f"see it: orchestrator show {stopped.name} {resolved.flag}", err=True)

    @group.command(short_help="One run's log lines from every part, in time order.")
    @click.argument("run")
    @click.option("--connection", metavar="ID", help="Only the lines of this connection.")
    @target_options
    def logs(target: Callable[[], Target], run: str, connection: str | None) -> None:
        """RUN's log lines from the Lambdas, the webhook and the dbt task, in time order: CloudWatch
        Logs on a deployed stage, the runtime's log files with --local. Each line: its UTC time, the
        part that wrote it, the line as written (JSON).
        """
        from ops.run_logs import run_logs
        from ops.runs import execution_arn

        resolved = target()
        found = run_logs(resolved, execution_arn(resolved, run), connection)
        for line in found.lines:
            click.echo(line.render())
        for note in found.notes:
            click.echo(f"note: {note}", err=True)
        parts = sorted({line.part for line in found.lines})
        about = f" of connection {connection}" if connection else ""
        click.echo(
            f"{len(found.lines)} line(s){about} from {', '.join(parts) or 'no part'} on {resolved.label}",
            err=True,
        )
