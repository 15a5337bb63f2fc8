"""The message a run's end sends: which run, how it ended, which connections failed or timed out and
why, what dbt built, failed or excluded, how long it took, and the commands to see or retry it.

Pure: built from data the notifier read (``chalicelib/notify/notifier.py``), no AWS call here.

Inputs:

- ``execution``: DescribeExecution's answer, or the EventBridge event's ``detail`` (AWS docs, "Step
  Functions execution status change" events: ``executionArn``, ``name``, ``status``, ``startDate``
  and ``stopDate`` in epoch milliseconds, ``error``, ``cause``, ``output``); DescribeExecution gives
  the dates as datetimes (boto3);
- ``outcomes``: the run's ``runs/<run>/outcomes.json`` (``chalicelib/run/collect.py`` ``Collected.file``),
  ``None`` when the run ended before ``CollectOutcomes`` wrote it;
- ``dbt_summary``: the dbt entrypoint's ``dbt-runs/<run>/summary.json`` (``counts``, ``failed_nodes``,
  ``models_built``), ``None`` when dbt did not run.

Which ends send a message (``worth_sending``): FAILED, TIMED_OUT, ABORTED, and SUCCEEDED when a
connection did not succeed (its sources were excluded from dbt). A clean success sends nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.platform.timeutil import from_epoch

__all__ = ["ENDED_STATUSES", "RunMessage", "build_message", "worth_sending"]

ENDED_STATUSES = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")
# How many connections and dbt nodes a message names before "and N more" (Slack's text limit is 40,000
# characters; an email should stay readable): the full list is in ``orchestrator show``.
MAX_NAMED = 20
CAUSE_CHARS = 300
_STATUS_WORDS = {
    "SUCCEEDED": "succeeded with exclusions",
    "FAILED": "failed",
    "TIMED_OUT": "timed out",
    "ABORTED": "was stopped",
}


@dataclass(frozen=True)
class RunMessage:
    """One run's message: ``subject`` (an email subject, < 100 characters) and ``lines`` (the body)."""

    run: str
    status: str
    subject: str
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def slack_payload(self) -> dict[str, Any]:
        """An incoming-webhook body (Slack API docs, "Sending messages using incoming webhooks")."""
        return {"text": f"*{self.subject}*\n{self.text}"}


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return from_epoch(value / 1000)  # EventBridge: epoch milliseconds
    return None


def _duration(execution: dict[str, Any]) -> str:
    start, stop = _when(execution.get("startDate")), _when(execution.get("stopDate"))
    if start is None or stop is None:
        return "unknown"
    seconds = max(0, int((stop - start).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes} min {secs} s" if hours else f"{minutes} min {secs} s"


def _cut(text: str, limit: int = CAUSE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _output(execution: dict[str, Any]) -> dict[str, Any]:
    raw = execution.get("output")
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _not_succeeded(outcomes: dict[str, Any] | None) -> list[dict[str, Any]]:
    connections = (outcomes or {}).get("connections") or []
    return [c for c in connections if isinstance(c, dict) and c.get("outcome") != "succeeded"]


def worth_sending(status: str, outcomes: dict[str, Any] | None, execution: dict[str, Any]) -> bool:
    """Whether this end sends a message: every end but a success where every connection succeeded."""
    if status not in ENDED_STATUSES:
        return False
    if status != "SUCCEEDED":
        return True
    excluded = ((_output(execution).get("dbt") or {}).get("excluded_sources")) or []
    return bool(_not_succeeded(outcomes) or excluded)


def _named(items: list[str], what: str) -> list[str]:
    lines = [f"  • {item}" for item in items[:MAX_NAMED]]
    if len(items) > MAX_NAMED:
        lines.append(f"  • and {len(items) - MAX_NAMED} more {what} (see `show`)")
    return lines


def _connection_lines(outcomes: dict[str, Any] | None) -> list[str]:
    if outcomes is None:
        return ["Connections: no outcomes were written (the run ended before its syncs were collected)."]
    counts = outcomes.get("counts") or {}
    lines = [
        "Connections ({total}): {succeeded} succeeded, {failed} failed, {timed_out} timed out, "
        "{skipped} skipped.".format(
            **{k: counts.get(k, 0) for k in ("total", "succeeded", "failed", "timed_out", "skipped")}
        )
    ]
    bad = [
        f"{c.get('connector_id')} ({c.get('schema') or 'no schema'}): {c.get('outcome')}: "
        + _cut(str(c.get("cause") or c.get("error") or c.get("status") or "no reason given"))
        for c in _not_succeeded(outcomes)
    ]
    if bad:
        lines.append("Failed or timed out:")
        lines += _named(bad, "connections")
    return lines


def _dbt_lines(
    execution: dict[str, Any], outcomes: dict[str, Any] | None, dbt_summary: dict[str, Any] | None
) -> list[str]:
    dbt = _output(execution).get("dbt") or {}
    excluded = [str(s) for s in dbt.get("excluded_sources") or []]
    if (
        not excluded and dbt_summary is not None
    ):  # a failed run has no output: its failed connections' sources
        excluded = list(dict.fromkeys(str(c["schema"]) for c in _not_succeeded(outcomes) if c.get("schema")))
    if dbt_summary is None:
        lines = ["dbt: did not run, or left no summary."]
    else:
        counts = dbt_summary.get("counts") or {}
        built = [str(m) for m in dbt_summary.get("models_built") or []]
        failed = [str(n) for n in dbt_summary.get("failed_nodes") or []]
        lines = [
            f"dbt: exit code {dbt_summary.get('exit_code', '?')}; "
            + ", ".join(f"{counts.get(k, 0)} {k}" for k in ("pass", "warn", "error", "skip") if k in counts)
        ]
        total = int(dbt_summary.get("models_built_count") or len(built))
        lines.append(f"dbt built {total} model(s)" + (": " + ", ".join(built[:MAX_NAMED]) if built else "."))
        if total > min(len(built), MAX_NAMED):
            lines[-1] += f", and {total - min(len(built), MAX_NAMED)} more"
        if failed:
            lines.append("dbt failed:")
            lines += _named(failed, "nodes")
    if excluded:
        lines.append("dbt excluded these sources (their connection did not succeed): " + ", ".join(excluded))
    return lines


def build_message(
    execution: dict[str, Any],
    *,
    outcomes: dict[str, Any] | None,
    dbt_summary: dict[str, Any] | None,
    stage: str,
) -> RunMessage:
    """The message for the run ``execution`` describes (see the module docstring for the inputs)."""
    run = str(execution.get("name") or str(execution.get("executionArn") or "").rsplit(":", 1)[-1])
    status = str(execution.get("status") or "UNKNOWN")
    where = "--local" if stage == "local" else f"--stage {stage}"
    subject = _cut(f"[{stage}] run {run} {_STATUS_WORDS.get(status, status.lower())}", 99)
    lines = [f"Run {run} ({stage}): {status}. Duration: {_duration(execution)}."]
    if status != "SUCCEEDED" and (execution.get("error") or execution.get("cause")):
        lines.append(
            f"Why: {execution.get('error') or 'error'}: {_cut(str(execution.get('cause') or ''), 600)}"
        )
    lines += _connection_lines(outcomes)
    lines += _dbt_lines(execution, outcomes, dbt_summary)
    lines.append(f"See it: orchestrator show {run} {where}")
    lines.append(f"Retry it: orchestrator retry {run} {where}")
    return RunMessage(run=run, status=status, subject=subject, lines=lines)
