"""``python -m local demo``: one whole run, with live progress a person can follow."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from local.report import build_report, expectation_problems
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
        runs = runtime.dbt.runs if runtime.dbt else []
        code = runs[-1].poll() if runs else None
        dbt = "running" if code is None else f"exited {code}"
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
        table.add_row(c["connector_id"], f"[{STYLE.get(c['outcome'], 'white')}]{c['outcome']}[/]", detail)
    for s in report["skipped"]:
        table.add_row(s["connector_id"], "[dim]skipped[/]", s["reason"])
    dbt = report["dbt"]
    summary = dbt.get("summary") or {}
    counts = summary.get("counts") or {}
    detail = ", ".join(f"{k} {v}" for k, v in counts.items())
    if dbt["exclude_sources"]:
        detail += f"; excluded source:{'+, source:'.join(dbt['exclude_sources'])}+"
    table.add_row("[bold]dbt[/]", f"exit {dbt['exit_code']}" if dbt["ran"] else "did not run", detail)
    return table


def run_demo(
    scenario: Scenario, report_path: Path | None, console: Console, workdir: Path | None = None
) -> int:
    console.print(
        f"[bold]Local run[/] · scenario [cyan]{scenario.name}[/] · {len(scenario.connectors)} connections"
    )
    console.print("starting moto (AWS), the Fivetran simulator and chalice local …")
    # The logs outlive the run, so the last line can say where they are.
    workdir = workdir or Path(tempfile.mkdtemp(prefix="orchestrator-demo-"))
    with LocalRuntime(scenario, workdir=workdir) as runtime:
        assert runtime.chalice is not None and runtime.simulator is not None
        # One line each, never wrapped: a URL must stay copyable in a log or a pipe.
        console.print(f"webhook: {runtime.chalice.url}/webhooks/fivetran", soft_wrap=True)
        console.print(f"Fivetran API: {runtime.simulator.url}", soft_wrap=True)
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
    console.print()
    console.print(_summary(report))
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
    if report_path:
        report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        console.print(f"report written to {report_path}")
    logs = ", ".join(sorted(path.name for path in workdir.glob("*.log")))
    console.print(f"logs: {workdir} ({logs})", soft_wrap=True, highlight=False)
    problems = expectation_problems(runtime, report)
    if problems:
        console.print("[red]the run did not end as the scenario expects:[/] " + "; ".join(problems))
        return 1
    console.print("[green]the run ended as the scenario expects[/]")
    return 0
