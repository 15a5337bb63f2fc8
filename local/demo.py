"""``python -m local demo``: one whole run (or a scenario's ``runs``), with progress a person can follow."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from local.dbt_project import ProjectError
from local.report import build_report, dbt_run_of, expectation_problems, run_problems
from local.runs import play_runs
from local.runtime import LocalRuntime
from local.scenario import Scenario

__all__ = ["run_demo"]

STYLE = {"succeeded": "green", "failed": "red", "timed_out": "yellow", "skipped": "dim", "syncing": "cyan"}


def _fivetran_column(state: Any) -> str:
    """What Fivetran says about the connection's sync in this run: syncing, rescheduled, or how it ended.

    (Fivetran's own ``sync_state`` is ``scheduled`` again once any sync ends, failed ones included.)
    """
    if not state.attempts:
        return "idle"
    if state.sync_state in ("syncing", "rescheduled"):
        return state.sync_state
    failed, succeeded = state.failed_at, state.succeeded_at
    failed_last = failed is not None and (succeeded is None or failed > succeeded)
    return "sync failed" if failed_last else "sync succeeded"


def _progress(runtime: LocalRuntime, arn: str, status: str) -> Table:
    history = runtime.history(arn)
    outcomes = {o["connector_id"]: o for o in runtime.outcomes(history)}
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
    assert runtime.simulator is not None
    table = Table(title=f"run {arn.rsplit(':', 1)[-1][:8]}  ·  {status}", expand=False)
    table.add_column("connection")
    table.add_column("fivetran")
    table.add_column("outcome")
    for cid, state in runtime.simulator.connections.items():
        if state.paused:
            shown = "[dim]paused (skipped)[/]"
        elif state.setup_state != "connected":
            shown = "[dim]broken (skipped)[/]"
        elif cid in outcomes:
            outcome = outcomes[cid]["outcome"]
            shown = f"[{STYLE.get(outcome, 'white')}]{outcome}[/]"
        else:
            shown = "waiting for webhook" if state.attempts else "—"
        table.add_row(cid, _fivetran_column(state), shown)
    dbt = "not started"
    if "RunDbt" in entered:
        run = dbt_run_of(runtime, arn)
        code = run.poll() if run else None
        dbt = "running" if code is None else f"exited {code}"
    elif "WaitForTransformLease" in entered:
        dbt = "waiting for another run's dbt"
    table.add_row("[bold]dbt[/]", "", dbt)
    return table


def _summary(report: dict[str, Any]) -> Table:
    table = Table(title="summary")
    table.add_column("connection")
    table.add_column("outcome")
    table.add_column("detail", overflow="fold", max_width=70)
    for c in report["connectors"]:
        detail = c.get("cause") or ""
        if c["outcome"] == "succeeded" and not c.get("sync_id"):
            detail = "no sync id: resolved by the safety net (reconcile_syncs)"
        detail = "; ".join(part for part in (_waits_detail(c.get("waits") or {}), detail) if part)
        table.add_row(c["connector_id"], f"[{STYLE.get(c['outcome'], 'white')}]{c['outcome']}[/]", detail)
    for s in report["skipped"]:
        table.add_row(s["connector_id"], "[dim]skipped[/]", s["reason"])
    dbt = report["dbt"]
    summary = dbt.get("summary") or {}
    counts = summary.get("counts") or {}
    detail = ", ".join(f"{k} {v}" for k, v in counts.items())
    if dbt["exclude_sources"]:
        detail += f"; excluded source:{'+, source:'.join(dbt['exclude_sources'])}+"
    lease = dbt.get("transform_lease") or {}
    if lease.get("waited_for"):
        detail += f"; waited {lease['waited_s']} s for run {lease['waited_for'].rsplit(':', 1)[-1]}'s dbt"
    detail = (detail + _selection_detail(dbt) + _models_detail(dbt)).removeprefix("; ")
    table.add_row("[bold]dbt[/]", f"exit {dbt['exit_code']}" if dbt["ran"] else "did not run", detail)
    return table


def _waits_detail(waits: dict[str, Any]) -> str:
    """``waited 3x free (1 rescheduled, 2 rate-limited), last until <time>: <reason>``, or ""."""
    if not waits.get("count"):
        return ""
    kinds = [
        f"{waits.get(k, 0)} {w}"
        for k, w in (("rescheduled", "rescheduled"), ("rate_limited", "rate-limited"))
    ]
    kinds = [k for k in kinds if not k.startswith("0 ")]
    text = (
        f"waited {waits['count']}x free ({', '.join(kinds)})" if kinds else f"waited {waits['count']}x free"
    )
    if waits.get("until"):
        text += f", last until {waits['until']}"
    return text + (f": {waits['reason']}" if waits.get("reason") else "")


SHOWN_MODELS = 10


def _models_detail(dbt: dict[str, Any]) -> str:
    """``; models built: a, b, c and 4 more (report: dbt.models_built)``, or "" when none was built."""
    models = list(dbt.get("models_built") or [])
    if not models:
        return ""
    more = (
        f" and {len(models) - SHOWN_MODELS} more (report: dbt.models_built)"
        if len(models) > SHOWN_MODELS
        else ""
    )
    return f"; models built: {', '.join(models[:SHOWN_MODELS])}{more}"


def _selection_detail(dbt: dict[str, Any]) -> str:
    """``; selection new_data: <n> models built, <k> skipped (no new data), <reason>`` (or ``all``)."""
    selection = dbt.get("selection") or {}
    if not dbt.get("ran"):
        return ""
    if not selection:
        return f"; selection {dbt.get('mode') or 'all'}: {len(dbt.get('models_built') or [])} models built"
    built = (
        "dbt build not started"
        if dbt.get("skipped")
        else f"{len(dbt.get('models_built') or [])} models built"
    )
    return (
        f"; selection new_data: {built}, {selection.get('skipped_count', 0)} nodes skipped (no new data; "
        f"list in {selection.get('full_list', 'selection.json')}): {selection.get('reason', '')}"
    )


def contract_warnings(dbt_log: Path | None) -> list[str]:
    """The source-naming warnings the dbt task logged (its source_contract_warning events)."""
    if dbt_log is None or not dbt_log.is_file():
        return []
    found = []
    for line in dbt_log.read_text(encoding="utf-8").splitlines():
        if line.startswith("{") and '"source_contract_warning"' in line:
            found.append(str(json.loads(line).get("warning", "")))
    return found


def _print_run(runtime: LocalRuntime, console: Console, report: dict[str, Any], execution_arn: str) -> None:
    console.print()
    console.print(_summary(report))
    dbt_run = dbt_run_of(runtime, execution_arn)
    for warning in contract_warnings(dbt_run.log_path if dbt_run else None):
        console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    dbt_project = runtime.dbt_project_source
    if dbt_project is not None and report["dbt"]["ran"] and report["dbt"]["exit_code"] not in (0, None):
        console.print(
            f"[yellow]dbt project:[/] {dbt_project} parses, but dbt exited {report['dbt']['exit_code']} on "
            "DuckDB: SQL written for your warehouse may not run here; the image runs it there "
            "(docs/your-dbt-project.md)",
            highlight=False,
            soft_wrap=True,
        )
    execution = report["execution"]
    colour = "green" if execution["status"] == "SUCCEEDED" else "red"
    console.print(
        f"execution [{colour}]{execution['status']}[/] in {report['duration_s']} s", highlight=False
    )
    if execution.get("cause"):
        console.print(f"cause: {execution['error']}: {execution['cause']}", highlight=False)
    webhooks = report["webhooks"]
    console.print(
        f"Fivetran API calls: {report['fivetran_api_calls']['total']} · webhooks sent {webhooks['sent']}, "
        f"accepted {webhooks['accepted']}, rejected {webhooks['rejected']}"
        f" · tokens left {report['tokens_left']}",
        highlight=False,
    )


def _play_one(runtime: LocalRuntime, console: Console) -> tuple[dict[str, Any], list[str]]:
    if console.is_terminal:
        with Live(console=console, refresh_per_second=4, transient=False) as live:

            def tick(arn: str, described: dict[str, Any]) -> None:
                live.update(_progress(runtime, arn, described["status"]))

            result = runtime.run(on_tick=tick)
            live.update(_progress(runtime, result.execution_arn, result.described["status"]))
    else:  # a log or a pipe: no redrawing, the final table once
        result = runtime.run()
        console.print(_progress(runtime, result.execution_arn, result.described["status"]))
    report = build_report(runtime, result)
    _print_run(runtime, console, report, result.execution_arn)
    return report, expectation_problems(runtime, report)


def _play_many(runtime: LocalRuntime, console: Console) -> tuple[dict[str, Any], list[str]]:
    """A scenario's ``runs``: one line as each starts, then each run's final table and summary."""

    def started(index: int, arn: str) -> None:
        console.print(f"run {index + 1} started: {arn.rsplit(':', 1)[-1]}", highlight=False)

    played = play_runs(runtime, on_start=started)
    reports = []
    for index, run in enumerate(played):
        console.print()
        console.print(f"[bold]run {index + 1} of {len(played)}[/]")
        console.print(_progress(runtime, run.result.execution_arn, run.result.described["status"]))
        reports.append(build_report(runtime, run.result))
        _print_run(runtime, console, reports[-1], run.result.execution_arn)
    return {"runs": reports}, run_problems(runtime, played, reports)


def run_demo(
    scenario: Scenario,
    report_path: Path | None,
    console: Console,
    workdir: Path | None = None,
    dbt_project: Path | None = None,
) -> int:
    console.print(
        f"[bold]Local run[/] · scenario [cyan]{scenario.name}[/] · {len(scenario.connectors)} connections"
        + (f" · {len(scenario.runs)} runs" if scenario.multi_run else "")
    )
    console.print("starting moto (AWS), the Fivetran simulator and chalice local …")
    if dbt_project is not None:
        console.print(f"dbt project: {dbt_project} (staged as the image build stages it, parsed on DuckDB)")
    # The logs outlive the run, so the last line can say where they are.
    workdir = workdir or Path(tempfile.mkdtemp(prefix="orchestrator-demo-"))
    try:
        runs_dir = workdir / "runs"
        with LocalRuntime(scenario, workdir=workdir, dbt_project=dbt_project, runs_dir=runs_dir) as runtime:
            assert runtime.chalice is not None and runtime.simulator is not None
            # One line each, never wrapped: a URL must stay copyable in a log or a pipe.
            console.print(f"webhook: {runtime.chalice.url}/webhooks/fivetran", soft_wrap=True)
            console.print(f"Fivetran API: {runtime.simulator.url}", soft_wrap=True)
            report, problems = (_play_many if scenario.multi_run else _play_one)(runtime, console)
    except ProjectError as exc:
        console.print(f"[red]dbt project:[/] {exc}", highlight=False, soft_wrap=True)
        return 1
    if report_path:
        report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        console.print(f"report written to {report_path}")
    logs = ", ".join(sorted(path.name for path in workdir.glob("*.log")))
    console.print(f"logs: {workdir} ({logs})", soft_wrap=True, highlight=False)
    console.print(
        f"run files: {runs_dir}/<run>/ (outcomes, dbt artifacts, logs)", soft_wrap=True, highlight=False
    )
    if problems:
        console.print("[red]the run did not end as the scenario expects:[/] " + "; ".join(problems))
        return 1
    console.print("[green]the run ended as the scenario expects[/]")
    return 0
