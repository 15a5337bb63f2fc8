"""How runs look in a terminal (rich): the ``runs`` table, ``show``'s report, and short formats.

Pure rendering: every function takes ``RunView``s and returns rich renderables or text.
"""

from __future__ import annotations

import shlex
from datetime import datetime

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ops.dbt_build import build_lines
from ops.run_model import DbtView, MapProgress, RunView, SyncView
from ops.waits_display import waits_text

__all__ = [
    "SAFETY_NET_HINT",
    "STYLE",
    "dbt_text",
    "duration",
    "headline_cause",
    "listing_refused",
    "make_console",
    "more_lines",
    "progress_text",
    "rerun_command",
    "resolved_without_sync_id",
    "run_report",
    "runs_table",
    "shown_syncs",
    "stamp",
    "sync_line",
]

STYLE = {
    "SUCCEEDED": "green",
    "FAILED": "red",
    "TIMED_OUT": "yellow",
    "ABORTED": "yellow",
    "RUNNING": "cyan",
    "succeeded": "green",
    "failed": "red",
    "timed_out": "yellow",
    "unfinished": "yellow",
    "running": "cyan",
    "queued": "dim",
    "skipped": "dim",
    "not_run": "dim",
}
# Past this many succeeded connections, `show` (and `start-run --wait`) count the rest in one line;
# every connection that did not succeed is always printed.
SUCCEEDED_LIMIT = 50
SKIPPED_LIMIT = 50
# More rows than this (``show --all`` of a big run) are printed as lines: a table measures every cell
# first (10,000 rows: half a minute), lines print in about a second.
TABLE_LIMIT = 500
MARK = {"succeeded": "✓", "failed": "✗", "timed_out": "⏱", "unfinished": "■", "running": "…", "queued": "·"}


def make_console(stderr: bool = False) -> Console:
    """A console for this command's output: 160 columns when not a terminal (logs, pipes, tests)."""
    probe = Console(stderr=stderr)
    return Console(stderr=stderr, width=None if probe.is_terminal else 160, highlight=False)


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def stamp(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "—"


def styled(value: str) -> Text:
    return Text(value, style=STYLE.get(value, ""))


def _waited(dbt: DbtView) -> str:
    if not dbt.waited_for:
        return ""
    return f", after waiting {dbt.waited_s} s for run {dbt.waited_for}'s dbt"


def dbt_text(dbt: DbtView) -> str:
    """dbt in a few words: ``dbt build exit 0 in 4.6 s (excluded source:zendesk+)``."""
    if dbt.state == "not_run" and dbt.waiting and dbt.waited_for:
        return f"did not run: waited {dbt.waited_s} s for run {dbt.waited_for}'s dbt (one dbt at a time)"
    if dbt.state == "not_run":
        return "did not run"
    if dbt.state == "running":
        return f"dbt {dbt.command} running" + _waited(dbt)
    code = f"exit {dbt.exit_code}" if dbt.exit_code is not None else dbt.state
    text = f"dbt {dbt.command} {code} in {duration(dbt.duration_s)}"
    if dbt.excluded_sources:
        text += " (excluded " + ", ".join(f"source:{s}+" for s in dbt.excluded_sources) + ")"
    text += _waited(dbt)
    return text


SAFETY_NET_HINT = "no sync id: resolved by the safety net (reconcile_syncs) from the connection's state"


def resolved_without_sync_id(sync: SyncView) -> bool:
    """A success with no sync id: only the safety net reports one (a webhook's sync_end names its sync)."""
    return sync.outcome == "succeeded" and not sync.sync_id


def sync_line(sync: SyncView) -> Text:
    """One line per landed outcome, for ``start-run --wait``."""
    line = Text("  ")
    line.append(f"{MARK.get(sync.outcome, '?')} {sync.connector_id:<24} ", style=STYLE.get(sync.outcome, ""))
    line.append(f"{sync.outcome:<10} {duration(sync.duration_s):>9}")
    if sync.sync_id:
        line.append(f"  sync {sync.sync_id}", style="dim")
    elif resolved_without_sync_id(sync):
        line.append(f"  {SAFETY_NET_HINT}", style="dim")
    if sync.cause:
        line.append(f"  {sync.cause}", style="red")
    if sync.waited:
        line.append(f"  {waits_text(sync)}", style="yellow")
    return line


def progress_text(progress: MapProgress) -> str:
    """A map run's counts: ``syncing: 37/100 done (35 succeeded, 2 failed), 63 running``; while the map run
    has not counted its items yet (``total`` 0, still running), ``syncing: listing connections…``."""
    if progress.total == 0 and progress.status == "RUNNING":
        return "syncing: listing connections…"
    done = f"{progress.succeeded:,} succeeded, {progress.failed:,} failed"
    if progress.timed_out:
        done += f", {progress.timed_out:,} timed out"
    if progress.aborted:
        done += f", {progress.aborted:,} aborted"
    text = f"syncing: {progress.done:,}/{progress.total:,} done ({done}), {progress.running:,} running"
    if progress.pending:
        text += f", {progress.pending:,} pending"
    return text


def shown_syncs(
    run: RunView, show_all: bool = False, limit: int = SUCCEEDED_LIMIT
) -> tuple[list[SyncView], int, int]:
    """The connections to print (each one that did not succeed, the first ``limit`` that did, or all),
    how many succeeded ones are left out, and how many not-succeeded ones the view does not have
    (a distributed run whose ``outcomes.json`` could not be read)."""
    rows: list[SyncView] = []
    succeeded = 0
    for sync in run.syncs:
        if sync.outcome == "succeeded":
            if not show_all and succeeded >= limit:
                continue
            succeeded += 1
        rows.append(sync)
    if run.counts is None and run.progress is not None:
        return rows, 0, 0  # syncs still running: the progress line counts them
    finished_others = sum(1 for s in rows if s.outcome in ("failed", "timed_out", "unfinished"))
    return rows, max(0, run.ok - succeeded), max(0, run.failed - finished_others)


def more_lines(run: RunView, hidden_ok: int, hidden_not_ok: int, see: str = "--all, --html") -> list[Text]:
    """``… and 9,950 more succeeded (see --all, --html or s3://…)`` for what ``shown_syncs`` left out."""
    lines: list[Text] = []
    where = run.outcomes_uri
    if hidden_not_ok:
        full = f" (full list: {where})" if where else ""
        lines.append(Text(f"  … and {hidden_not_ok:,} more did not succeed{full}", style="red"))
    if hidden_ok:
        if run.complete:
            hint = f"see {see} or {where}" if where else f"see {see}"
        else:
            hint = f"not listed here; full list: {where}" if where else "not listed here"
        lines.append(Text(f"  … and {hidden_ok:,} more succeeded ({hint})", style="dim"))
    if run.outcomes_problem:
        lines.append(
            Text(f"  {run.outcomes_problem}: the list above is CollectOutcomes' bounded one", style="yellow")
        )
    return lines


def _dbt_cell(dbt: DbtView) -> Text:
    if dbt.state in ("not_run", "running"):
        return styled(dbt.state)
    code = f"exit {dbt.exit_code}" if dbt.exit_code is not None else dbt.state
    return Text(f"{code} · {duration(dbt.duration_s)}", style=STYLE.get(dbt.state, ""))


def runs_table(runs: list[RunView], where: str) -> Table:
    table = Table(title=f"recent runs on {where}", title_justify="left")
    table.add_column("run", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("started (UTC)", no_wrap=True)
    for column in ("took", "ok", "failed", "skipped"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("dbt", no_wrap=True)
    for run in runs:
        table.add_row(
            run.name,
            styled(run.status),
            run.started.strftime("%Y-%m-%d %H:%M:%S"),
            duration(run.duration_s) if run.stopped else "running",
            str(run.ok),
            Text(str(run.failed), style="red" if run.failed else ""),
            str(run.skipped_total),
            _dbt_cell(run.dbt),
        )
    return table


def _connections_table(run: RunView, syncs: list[SyncView], show_all: bool) -> Table:
    table = Table(title_justify="left", expand=False)
    for column in ("connection", "outcome", "sync id", "started", "took"):
        table.add_column(column, no_wrap=True)
    table.add_column("detail", overflow="fold", min_width=24)
    for sync in syncs:
        detail = sync.cause or (SAFETY_NET_HINT if resolved_without_sync_id(sync) else "")
        if sync.waited:
            detail = f"{waits_text(sync)}. {detail}"
        table.add_row(
            sync.connector_id,
            styled(sync.outcome),
            sync.sync_id or "—",
            sync.started.strftime("%H:%M:%S") if sync.started else "—",
            duration(sync.duration_s),
            Text(detail.strip(), style="red" if sync.outcome in ("failed", "timed_out") else ""),
        )
    for skipped in run.skipped if show_all else run.skipped[:SKIPPED_LIMIT]:
        table.add_row(skipped.connector_id, styled("skipped"), "—", "—", "—", skipped.reason)
    return table


def _connection_lines(run: RunView, syncs: list[SyncView]) -> Text:
    """Too many rows for a table: one ``sync_line`` per connection, then one per skipped one."""
    lines = [sync_line(sync) for sync in syncs]
    lines += [Text(f"  - {s.connector_id:<24} skipped    {s.reason}", style="dim") for s in run.skipped]
    return Text("\n").join(lines)


def rerun_command(run: RunView, flag: str) -> str | None:
    """The command that re-runs what did not succeed (same options), or None when nothing failed.

    A run that succeeded with ``on_sync_failure: continue`` still has failed connections to re-run.
    """
    failed = run.failed_connectors
    if (
        run.status == "RUNNING"
        or run.error == "Orchestrator.InvalidInput"
        or (run.status == "SUCCEEDED" and not failed)
        or listing_refused(run)
    ):
        return None
    words = ["orchestrator", "start-run", *shlex.split(flag)]
    if failed and run.failed_connectors_complete:
        for connector_id in failed:
            words += ["--connector", connector_id]
    elif run.input.get("group_id"):
        words += ["--group", str(run.input["group_id"])]
    else:
        for connector_id in run.input.get("connector_ids") or []:
            words += ["--connector", str(connector_id)]
    dbt = run.input.get("dbt") or {}
    for option, value in (
        ("--on-sync-failure", run.input.get("on_sync_failure")),
        ("--dbt-command", dbt.get("command")),
        ("--dbt-select", dbt.get("select")),
        ("--dbt-exclude", dbt.get("exclude")),
    ):
        if value:
            words += [option, str(value)]
    return shlex.join([*words, "--wait"])


REFUSED_LISTING_HINT = "fix the group id or the API key's access, then start the run again (as is, it fails)"


def listing_refused(run: RunView) -> bool:
    """Fivetran refused the listing (unknown group, bad key): the same run would fail the same way."""
    refusals = ("Fivetran.NotFound", "Fivetran.AuthError")
    return run.error == "Orchestrator.ListingFailed" and (run.cause or "").startswith(refusals)


def headline_cause(run: RunView) -> str | None:
    """The run's cause, without the JSON list of failed syncs that the per-connection rows already show."""
    if not run.cause:
        return None
    if run.error == "Orchestrator.SyncsFailed":
        return run.cause.split(": [", 1)[0]  # the table above has each connection's cause
    return run.cause


def run_report(run: RunView, flag: str, show_all: bool = False) -> Group:
    """``show``: the run's header, one row per connection, dbt, the cause and how to re-run.

    Past ``SUCCEEDED_LIMIT`` succeeded connections (a distributed run may have 10,000), the rest
    are counted in one line unless ``show_all``; every connection that did not succeed is printed."""
    header = Text()
    header.append(f"run {run.name}  ", style="bold")
    header.append(run.status, style=STYLE.get(run.status, ""))
    took = duration(run.duration_s) if run.stopped else "running"
    header.append(f"  ·  started {stamp(run.started)}  ·  took {took}")
    parts: list[RenderableType] = [header, Text(f"arn: {run.arn}", style="dim")]
    if run.retry_of:
        parts.append(Text(f"retry of {run.retry_of}: orchestrator show {run.retry_of} {flag}"))
    if run.retried_by:
        parts.append(Text(f"retried by {run.retried_by}: orchestrator show {run.retried_by} {flag}"))
    parts.append(
        Text(
            f"connections: {run.ok} ok, {run.failed} failed, {run.skipped_total} skipped"
            f"  ·  {run.history_events} history events"
        )
    )
    if run.progress is not None:
        parts.append(Text(progress_text(run.progress)))
    if run.syncs or run.skipped:
        rows, hidden_ok, hidden_not_ok = shown_syncs(run, show_all)
        if len(rows) + len(run.skipped) > TABLE_LIMIT:
            parts.append(_connection_lines(run, rows))
        else:
            parts.append(_connections_table(run, rows, show_all))
        parts.extend(more_lines(run, hidden_ok, hidden_not_ok))
        if not show_all and run.skipped_total > SKIPPED_LIMIT:
            more = run.skipped_total - min(len(run.skipped), SKIPPED_LIMIT)
            parts.append(Text(f"  … and {more:,} more skipped", style="dim"))
    elif run.status != "RUNNING" and run.progress is None and run.counts is None:
        parts.append(Text("no connection was synced (the run ended before listing them)"))
    parts.append(Text(f"dbt: {dbt_text(run.dbt)}" + (f" — {run.dbt.cause}" if run.dbt.cause else "")))
    parts.extend(Text(f"  {line}") for line in build_lines(run.dbt.build))
    cause = headline_cause(run)
    if run.error:
        parts.append(Text(f"{run.error}: {cause or ''}", style="red"))
    rerun = rerun_command(run, flag)
    if rerun:
        parts.append(Text(f"re-run: {rerun}"))
    elif listing_refused(run):
        parts.append(Text(REFUSED_LISTING_HINT))
    return Group(*parts)
