"""The run report (``--report FILE``): one JSON document a person or a test can read.

Shape (a contract, see issue 4): ``{"execution": {"arn", "status", "error", "cause",
"history_events"}, "connectors": [{"connector_id", "outcome", "sync_id", "error", "cause"?, "waits"}],
"skipped": [{"connector_id", "reason"}], "dbt": {"ran", "exit_code", "command",
"exclude_sources", "summary", "started_at", "ended_at", "transform_lease", "mode", "selection",
"models_built", "skipped", "source_contract_warnings"}},
"fivetran_api_calls": {"total", "by_endpoint"}, "webhooks": {"sent", "accepted",
"rejected", "by_status"}, "tokens_left", "duration_s", "lambda_invocations": {function: n},
"deferrals", "max_deferrals_per_connection", "state_transitions": {"parent", "children", "total"},
"aws_requests": {"dynamodb", "s3"}, "waits": {"count", "rescheduled", "rate_limited", "connections"}}``
(the counts AWS bills: ``local/patches/billing.py``). A connector's ``waits`` are its reschedules and
rate-limit waits (``chalicelib.run.waits.read_waits``' shape, ``{"count": 0, ...}`` when it never
waited); the top-level ``waits`` adds them up (``connections``: how many waited). A scenario
with ``runs``: ``{"runs": [<one report of that shape per run>]}``.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from local.patches import billing
from local.runs import PlayedRun
from local.runtime import LocalRuntime, RunResult
from local.scenario import Expectation

# The connection a source-naming warning of the dbt task names (dbt_container/task/source_contract.py).
UNMATCHED = re.compile(r"connection (\S+) has no dbt source")

__all__ = ["build_report", "build_runs_report", "expectation_problems", "run_problems"]


def _skipped(runtime: LocalRuntime, history: list[dict[str, Any]]) -> list[dict[str, str]]:
    collected = runtime.run_outcomes(history)
    if collected is not None:
        return list(collected.get("skipped") or [])
    for event in history:
        details = event.get("stateExitedEventDetails")
        if details and details.get("name") == "ListConnectors":
            try:
                return json.loads(details["output"]).get("skipped", [])
            except (ValueError, AttributeError):
                return []
    return []


def _exclude_sources(runtime: LocalRuntime, environment: dict[str, str]) -> list[str]:
    """The sources the dbt task excluded: the file ``DBT_EXCLUDE_SOURCES_URI`` names (or the
    inline ``DBT_EXCLUDE_SOURCES`` of a manual run)."""
    body = runtime.read_s3_uri(environment.get("DBT_EXCLUDE_SOURCES_URI") or "")
    return list(json.loads(body if body is not None else environment.get("DBT_EXCLUDE_SOURCES") or "[]"))


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="milliseconds")


def dbt_run_of(runtime: LocalRuntime, execution_arn: str) -> Any:
    """The dbt task this execution started last (its ``RUN_ID`` is the execution's name), or None."""
    name = execution_arn.rsplit(":", 1)[-1]
    runs = [r for r in (runtime.dbt.runs if runtime.dbt else []) if r.environment.get("RUN_ID") == name]
    return runs[-1] if runs else None


def transform_lease(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """``{"waited_for", "waited_s"}`` from the run's last ``TakeTransformLease`` answer that took
    the lease (``waited_for`` None: it never waited); None if the run never took it."""
    for event in reversed(history):
        details = event.get("stateExitedEventDetails")
        if not details or details.get("name") != "TakeTransformLease":
            continue
        lease = json.loads(details["output"]).get("transform_lease") or {}
        if lease.get("held"):
            return {"waited_for": lease.get("waited_for"), "waited_s": lease.get("waited_s")}
    return None


def _lambda_invocations(runtime: LocalRuntime, webhooks: dict[str, Any]) -> dict[str, int]:
    """Every Lambda invocation of the run: the state machine's (counted in-process), the webhook
    route's (one per delivery ``chalice local`` answered, as API Gateway invokes it) and the
    safety net's passes (the local schedule, ``reconcile_interval_s``, is faster than the stack's)."""
    counts = billing.lambda_counts()
    answered = sum(n for status, n in webhooks["by_status"].items() if status.isdigit())
    if answered:
        counts["api_handler"] = counts.get("api_handler", 0) + answered
    if runtime.reconcile_runs:
        counts["reconcile_syncs"] = counts.get("reconcile_syncs", 0) + runtime.reconcile_runs
    return dict(sorted(counts.items()))


def _billed(runtime: LocalRuntime, result: RunResult, webhooks: dict[str, Any]) -> dict[str, Any]:
    transitions = billing.execution_counts(result.execution_arn)
    deferred = billing.deferrals(result.execution_arn)
    return {
        "lambda_invocations": _lambda_invocations(runtime, webhooks),
        "deferrals": sum(deferred.values()),
        "max_deferrals_per_connection": max(deferred.values(), default=0),
        "state_transitions": {
            "parent": transitions["parent"],
            "children": transitions["children"],
            "total": transitions["parent"] + transitions["children"],
        },
        "aws_requests": billing.request_counts(),
    }


def _built(last: Any) -> dict[str, Any]:
    """What dbt built, from the task's summary line: ``mode``, ``selection`` (selection by new data: the
    reason, counts, sources), ``models_built`` (model names) and ``skipped`` (true when no dbt build
    started: no dbt task, or the task found no new data and did not start the build)."""
    summary = (last.summary if last else None) or {}
    selection = summary.get("selection")
    return {
        "mode": summary.get("mode") or (last.environment.get("DBT_MODE") if last else None),
        "selection": selection,
        "models_built": list(summary.get("models_built") or []),
        "skipped": last is None or bool(selection and selection.get("skipped")),
        "source_contract_warnings": list(summary.get("source_contract_warnings") or []),
    }


NO_WAITS: dict[str, Any] = {
    "count": 0,
    "rescheduled": 0,
    "rate_limited": 0,
    "until": None,
    "reason": "",
    "items": [],
    "omitted": 0,
}


def _waits_total(connectors: list[dict[str, Any]]) -> dict[str, int]:
    """The run's waits in all: ``{"count", "rescheduled", "rate_limited", "connections"}``."""
    waited = [c["waits"] for c in connectors if c["waits"]["count"]]
    return {
        "count": sum(w["count"] for w in waited),
        "rescheduled": sum(w["rescheduled"] for w in waited),
        "rate_limited": sum(w["rate_limited"] for w in waited),
        "connections": len(waited),
    }


def build_report(runtime: LocalRuntime, result: RunResult) -> dict[str, Any]:
    described = result.described
    outcomes = runtime.outcomes(result.history)
    last = dbt_run_of(runtime, result.execution_arn)
    assert runtime.simulator is not None and runtime.deps is not None
    webhooks = runtime.simulator.webhooks.to_dict()
    report: dict[str, Any] = {
        "execution": {
            "arn": result.execution_arn,
            "status": described["status"],
            "error": described.get("error"),
            "cause": described.get("cause"),
            "history_events": len(result.history),
        },
        "connectors": [
            {
                "connector_id": o.get("connector_id"),
                "outcome": o.get("outcome"),
                "sync_id": o.get("sync_id"),
                "error": o.get("error"),
                **({"cause": o["cause"]} if o.get("cause") else {}),
                "waits": o.get("waits") or dict(NO_WAITS),
            }
            for o in outcomes
        ],
        "skipped": _skipped(runtime, result.history),
        "dbt": {
            "ran": last is not None,
            "exit_code": last.poll() if last else None,
            "command": last.environment.get("DBT_COMMAND") if last else None,
            "exclude_sources": _exclude_sources(runtime, last.environment) if last else [],
            "summary": last.summary if last else None,
            "started_at": _stamp(last.started_at) if last else None,
            "ended_at": _stamp(last.ended_at) if last else None,
            "transform_lease": transform_lease(result.history),
            **_built(last),
        },
        "fivetran_api_calls": runtime.simulator.api_calls(),
        "webhooks": webhooks,
        "tokens_left": runtime.deps.store.count(),
        "duration_s": round(result.duration_s, 2),
        **_billed(runtime, result, webhooks),
    }
    report["waits"] = _waits_total(report["connectors"])
    return report


def build_runs_report(runtime: LocalRuntime, played: list[PlayedRun]) -> dict[str, Any]:
    """The report of a scenario with ``runs``: ``{"runs": [one run's report, ...]}``, in order."""
    return {"runs": [build_report(runtime, run.result) for run in played]}


def run_problems(runtime: LocalRuntime, played: list[PlayedRun], reports: list[dict[str, Any]]) -> list[str]:
    """Every way the runs did not end as their ``expect`` says, each prefixed by its run."""
    problems = []
    for index, (run, report) in enumerate(zip(played, reports, strict=True)):
        problems += [f"run {index + 1}: {p}" for p in expectation_problems(runtime, report, run.spec.expect)]
    return problems


def _deferral_problems(report: dict[str, Any], expect: Expectation) -> list[str]:
    """How the report's budget deferrals differ from ``expect``'s ``min_deferrals``, ``max_deferrals``
    and ``max_deferrals_per_connection``."""
    problems = []
    if expect.min_deferrals is not None and report["deferrals"] < expect.min_deferrals:
        problems.append(f"{report['deferrals']} budget deferrals (expected at least {expect.min_deferrals})")
    if expect.max_deferrals is not None and report["deferrals"] > expect.max_deferrals:
        problems.append(f"{report['deferrals']} budget deferrals (expected at most {expect.max_deferrals})")
    most = expect.max_deferrals_per_connection
    if most is not None and report["max_deferrals_per_connection"] > most:
        problems.append(
            f"a connection deferred {report['max_deferrals_per_connection']} times (expected at most {most})"
        )
    return problems


def expectation_problems(
    runtime: LocalRuntime, report: dict[str, Any], expect: Expectation | None = None
) -> list[str]:
    """How one run's report differs from ``expect`` (default: the scenario's)."""
    expect = expect or runtime.scenario.expect
    problems = []
    if report["execution"]["status"] != expect.status:
        problems.append(f"status {report['execution']['status']} (expected {expect.status})")
    if report["dbt"]["ran"] != expect.dbt_ran:
        problems.append(f"dbt ran={report['dbt']['ran']} (expected {expect.dbt_ran})")
    if expect.error is not None and report["execution"]["error"] != expect.error:
        problems.append(f"error {report['execution']['error']} (expected {expect.error})")
    if expect.dbt_exit_code is not None and report["dbt"]["exit_code"] != expect.dbt_exit_code:
        problems.append(f"dbt exit code {report['dbt']['exit_code']} (expected {expect.dbt_exit_code})")
    cause = report["execution"]["cause"] or ""
    if expect.cause_contains is not None and expect.cause_contains not in cause:
        problems.append(f"cause {cause!r} does not contain {expect.cause_contains!r}")
    problems += _deferral_problems(report, expect)
    problems += _built_problems(report["dbt"], expect)
    actual = {c["connector_id"]: c["outcome"] for c in report["connectors"]}
    actual.update({s["connector_id"]: "skipped" for s in report["skipped"]})
    for connector_id, outcome in expect.connectors.items():
        if actual.get(connector_id) != outcome:
            problems.append(f"{connector_id}: {actual.get(connector_id)} (expected {outcome})")
    causes = {c["connector_id"]: c.get("cause") or "" for c in report["connectors"]}
    for connector_id, text in expect.causes.items():
        if text not in causes.get(connector_id, ""):
            problems.append(
                f"{connector_id}: cause {causes.get(connector_id)!r} (expected to contain {text!r})"
            )
    return problems


def _built_problems(dbt: dict[str, Any], expect: Expectation) -> list[str]:
    """``dbt_built`` / ``dbt_not_built`` / ``dbt_skipped`` against the report's ``dbt``."""
    built = set(dbt.get("models_built") or [])
    problems = [f"model {m} not built (expected built)" for m in expect.dbt_built if m not in built]
    problems += [f"model {m} built (expected not built)" for m in expect.dbt_not_built if m in built]
    if expect.dbt_skipped is not None and dbt.get("skipped") != expect.dbt_skipped:
        problems.append(f"dbt skipped={dbt.get('skipped')} (expected {expect.dbt_skipped})")
    if expect.connections_without_dbt_source is not None:
        warned = tuple(sorted(UNMATCHED.findall(" ".join(dbt.get("source_contract_warnings") or []))))
        if warned != expect.connections_without_dbt_source:
            problems.append(
                f"dbt warned of connections without a dbt source {list(warned)} "
                f"(expected {list(expect.connections_without_dbt_source)})"
            )
    return problems
