"""``start-run --wait``: follow one execution until it ends, printing each outcome as it lands.

Every poll reads ``DescribeExecution`` and only the history events that are new
(``HistoryReader``), rebuilds the ``RunView`` and prints what changed: the listing, each
connection's outcome, dbt's start and end. A Distributed Map run's syncs are not in the
history: while they run, a progress line from the map run's counts is printed whenever they
change; once ``CollectOutcomes`` has run, ``outcomes.json`` is read once and the outcome lines
printed (each one that did not succeed, the first succeeded ones, then a count of the rest),
each with its waits (reschedules, rate limits) when it waited. Once dbt's summary is read: the
selection used, the models built and the nodes skipped for no new data (``ops.dbt_build``).
On a terminal a live table shows what is still running; elsewhere (CI logs, pipes) only the
lines are printed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ops.dbt_build import build_lines
from ops.display import (
    STYLE,
    dbt_text,
    duration,
    make_console,
    more_lines,
    progress_text,
    run_report,
    shown_syncs,
    sync_line,
)
from ops.errors import RUN_NOT_SUCCEEDED
from ops.history import HistoryReader
from ops.run_commands import run_files_line
from ops.run_model import RunView
from ops.runs import OutcomesCache, read_run
from ops.target import Target

__all__ = ["follow", "report_started"]


@dataclass
class _Seen:
    listed: bool = False
    outcomes: set[str] = field(default_factory=set)
    dbt: str = "not_run"
    progress: str | None = None
    collected: bool = False
    build: bool = False


def _listed_line(view: RunView) -> Text:
    skipped = ", ".join(f"{s.connector_id} ({s.reason})" for s in view.skipped)
    if skipped and view.skipped_total > len(view.skipped):
        skipped += f" and {view.skipped_total - len(view.skipped):,} more"
    listed = f"  listed {view.to_sync} connection(s) to sync"
    return Text(listed + (f"; skipped {skipped}" if skipped else ""))


def _distributed_news(view: RunView, seen: _Seen) -> list[Text]:
    """A distributed run: a progress line when the map run's counts change, the outcomes once collected."""
    lines: list[Text] = []
    if view.progress is not None and not view.collected:
        text = progress_text(view.progress)
        if text != seen.progress:
            seen.progress = text
            lines.append(Text(f"  {text}", style="cyan"))
    if view.collected and not seen.collected:
        seen.collected = True
        rows, hidden_ok, hidden_not_ok = shown_syncs(view)
        for sync in rows:
            seen.outcomes.add(sync.connector_id)
            lines.append(sync_line(sync))
        lines.extend(more_lines(view, hidden_ok, hidden_not_ok, see=f"orchestrator show {view.name} --all"))
    return lines


def _news(view: RunView, seen: _Seen) -> list[Text]:
    """The lines to print for what changed since the last poll."""
    lines: list[Text] = []
    if view.listed and not seen.listed:
        seen.listed = True
        lines.append(_listed_line(view))
    if view.distributed:
        lines.extend(_distributed_news(view, seen))
    if view.dbt.state != seen.dbt:
        if seen.dbt == "not_run":
            lines.append(Text(f"  … dbt {view.dbt.command} started", style="cyan"))
        if view.dbt.state in ("succeeded", "failed"):
            mark = "✓" if view.dbt.state == "succeeded" else "✗"
            lines.append(Text(f"  {mark} {dbt_text(view.dbt)}", style=STYLE[view.dbt.state]))
        seen.dbt = view.dbt.state
    if view.dbt.build is not None and not seen.build:
        seen.build = True
        lines.extend(Text(f"    {line}") for line in build_lines(view.dbt.build))
    return lines


def _live_table(view: RunView) -> Table:
    table = Table(title=f"run {view.name} · {view.status}", title_justify="left")
    table.add_column("connection")
    table.add_column("state")
    if view.progress is not None and not view.collected:
        table.add_row("syncs", Text(progress_text(view.progress), style=STYLE["running"]))
    for sync in view.syncs:
        if sync.outcome in ("running", "queued"):
            table.add_row(sync.connector_id, Text(sync.outcome, style=STYLE[sync.outcome]))
    table.add_row("dbt", Text(view.dbt.state, style=STYLE.get(view.dbt.state, "")))
    return table


def follow(
    target: Target,
    arn: str,
    console: Console,
    *,
    poll_seconds: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RunView:
    """Poll until the execution ends; returns its final view."""
    sfn = target.stepfunctions()
    reader = HistoryReader(sfn, arn)
    cache = OutcomesCache()
    seen = _Seen()
    interval = poll_seconds if poll_seconds is not None else target.poll_seconds
    live = Live(console=console, transient=True, refresh_per_second=4) if console.is_terminal else None
    if live is not None:
        live.start()
    try:
        while True:
            described = sfn.describe_execution(executionArn=arn)
            reader.refresh()
            view = read_run(target, described, reader.events, cache)
            for line in _news(view, seen):
                console.print(line, soft_wrap=True)  # one line per event, however long: easy to grep
            if live is not None:
                live.update(_live_table(view))
            if view.status != "RUNNING":
                break
            sleep(interval)
    finally:
        if live is not None:
            live.stop()
    colour = STYLE.get(view.status, "")
    console.print(
        Text.assemble(
            "run ", (view.name, "bold"), " ", (view.status, colour), f" in {duration(view.duration_s)}"
        )
    )
    return view


def report_started(target: Target, arn: str, wait: bool) -> int:
    """A run just started: print its ARN (and how to follow it), or with ``wait`` follow it to its end and
    print its report. The exit code: 0, ``RUN_NOT_SUCCEEDED`` when a followed run did not succeed, 130
    when following was interrupted (the run goes on)."""
    run_name = arn.rsplit(":", 1)[-1]
    if not wait:
        click.echo(arn)
        click.echo(f"follow it: orchestrator show {run_name} {target.flag}", err=True)
        return 0
    console = make_console()
    console.print(f"started {arn}")
    try:
        view = follow(target, arn, console)
    except KeyboardInterrupt:
        click.echo(
            f"\nstopped following; the run goes on: orchestrator show {run_name} {target.flag}", err=True
        )
        return 130
    console.print(run_report(view, target.flag))
    if files := run_files_line(target, view.name):
        console.print(files, soft_wrap=True, highlight=False)
    return 0 if view.status == "SUCCEEDED" else RUN_NOT_SUCCEEDED
