"""``orchestrator doctor``'s source-naming check: the dbt sources and the Fivetran connections of the
latest run that built with dbt.

Every dbt task checks, at its start, the run's connections against the sources its project declares
(``dbt_container/task/contract_check.py``): a connection with no dbt source (its failure would exclude
nothing under ``on_sync_failure: continue``) and a dbt source with no connection of the run are warnings,
in the task's summary and so in the run's output (``dbt.build.summary.source_contract_warnings``). The
doctor reads that output from the newest succeeded runs (at most ``RUNS_READ``) and lists each warning
as its own line: ``✔`` with ``warning: ...`` (a warning never fails the doctor, as it never fails a run).
Same check on a deployed stage and on the local runtime: both answer ``ListExecutions`` and
``DescribeExecution``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ops.doctor import Check

__all__ = ["RUNS_READ", "check_source_contract"]

NAME = "dbt sources"
RUNS_READ = 10  # the newest succeeded runs read for a dbt summary (a run may succeed without dbt)


def _dbt_summary(output: str | None) -> dict[str, Any] | None:
    """``dbt.build.summary`` of a run's output (BuildRunReport), None when the run has none."""
    try:
        parsed = json.loads(output or "{}")
    except ValueError:
        return None
    dbt = parsed.get("dbt") if isinstance(parsed, dict) else None
    build = dbt.get("build") if isinstance(dbt, dict) else None
    summary = build.get("summary") if isinstance(build, dict) else None
    return summary if isinstance(summary, dict) else None


def check_source_contract(stepfunctions: Any, state_machine_arn: str) -> Iterator[Check]:
    """One line per source-naming warning of the latest run whose dbt task left a summary."""
    executions = stepfunctions.list_executions(
        stateMachineArn=state_machine_arn, statusFilter="SUCCEEDED", maxResults=RUNS_READ
    ).get("executions", [])
    for execution in sorted(executions, key=lambda e: e["startDate"], reverse=True):
        described = stepfunctions.describe_execution(executionArn=execution["executionArn"])
        summary = _dbt_summary(described.get("output"))
        if summary is not None:
            break
    else:
        yield Check(
            NAME,
            True,
            "no succeeded run with a dbt build yet: each run checks its connections against the dbt "
            "sources when its dbt task starts",
        )
        return
    run = execution["name"]
    if "source_contract_warnings" not in summary:
        yield Check(NAME, True, f"run {run}: its dbt image predates the check (build the image again)")
        return
    warnings = [str(w) for w in summary.get("source_contract_warnings") or []]
    if not warnings:
        yield Check(
            NAME, True, f"run {run}: every connection has a dbt source and every dbt source a connection"
        )
        return
    for warning in warnings:
        yield Check(NAME, True, f"warning: {warning} (run {run})")
    more = int(summary.get("source_contract_warnings_count") or 0) - len(warnings)
    if more > 0:
        yield Check(NAME, True, f"warning: {more} more in the dbt task's log of run {run}")
