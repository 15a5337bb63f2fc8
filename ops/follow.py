"""``start-run --wait``: follow one execution until it ends, printing each outcome as it lands.

Every poll reads ``DescribeExecution`` and only the history events that are new
(``HistoryReader``), rebuilds the ``RunView`` and prints what changed: the listing, each
connection's outcome, dbt's start and end. On a terminal a live table shows what is still
running; elsewhere (CI logs, pipes) only the lines are printed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ops.display import STYLE, dbt_text, duration, sync_line
from ops.runview import HistoryReader, RunView, build_run_view
from ops.target import Target

__all__ = ["follow"]

FINAL = {"succeeded", "failed", "timed_out", "unfinished"}


@dataclass
class _Seen:
    listed: bool = False
    outcomes: set[str] = field(default_factory=set)
    dbt: str = "not_run"


def _news(view: RunView, seen: _Seen) -> list[Text]:
    """The lines to print for what changed since the last poll."""
    lines: list[Text] = []
    if view.listed and not seen.listed:
        seen.listed = True
        skipped = ", ".join(f"{s.connector_id} ({s.reason})" for s in view.skipped)
        lines.append(
            Text(
                f"  listed {len(view.syncs)} connection(s) to sync"
                + (f"; skipped {skipped}" if skipped else "")
            )
        )
    for sync in view.syncs:
        if sync.outcome in FINAL and sync.connector_id not in seen.outcomes:
            seen.outcomes.add(sync.connector_id)
            lines.append(sync_line(sync))
    if view.dbt.state != seen.dbt:
        if seen.dbt == "not_run":
            lines.append(Text(f"  … dbt {view.dbt.command} started", style="cyan"))
        if view.dbt.state in ("succeeded", "failed"):
            mark = "✓" if view.dbt.state == "succeeded" else "✗"
            lines.append(Text(f"  {mark} {dbt_text(view.dbt)}", style=STYLE[view.dbt.state]))
        seen.dbt = view.dbt.state
    return lines


def _live_table(view: RunView) -> Table:
    table = Table(title=f"run {view.name} · {view.status}", title_justify="left")
    table.add_column("connection")
    table.add_column("state")
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
    seen = _Seen()
    interval = poll_seconds if poll_seconds is not None else target.poll_seconds
    live = Live(console=console, transient=True, refresh_per_second=4) if console.is_terminal else None
    if live is not None:
        live.start()
    try:
        while True:
            described = sfn.describe_execution(executionArn=arn)
            reader.refresh()
            view = build_run_view(described, reader.events)
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
