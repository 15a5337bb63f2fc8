"""``orchestrator logs RUN [--connection ID]``: one run's log lines from every part, in time order.

Which lines are the run's is ``contracts.run_logs``' rule (the lines name the run's execution, or one
of its connections while it ran); where they come from depends on the target:

- **a deployed stage**: CloudWatch Logs, ``FilterLogEvents`` over the stage's log groups, from a minute
  before the run started to five minutes after it ended:

  - each state machine Lambda, ``/aws/lambda/<app>-<stage>-<function>`` (``list_connectors``,
    ``start_sync``, ``collect_outcomes``, ``transform_lease``) and the safety net's
    (``reconcile_syncs``), with the filter pattern ``"<run name>"`` (their lines carry the run's
    ``execution_id``, ``chalicelib.platform.log.names_run``);
  - the webhook, ``/aws/lambda/<app>-<stage>`` (Chalice names the API handler ``<app>-<stage>``):
    ``"<run name>"`` (the tokens it completed), and ``"<ID>"`` with ``--connection`` (its
    ``sync_start``/``sync_end`` lines name the connection, not the run);
  - the dbt task, the stack's ``DbtLogGroupName`` (``/ecs/<app>-<stage>-dbt``): the streams whose lines
    name the run (the entrypoint's ``run_id``), then every line of those streams.

  A log group that does not exist (a function never invoked) is left out, with a note.
- **the local runtime**: its log files (``handlers.log``, ``chalice-local.log``, ``dbt-N.log`` in the
  folder the state file names, ``log_dir``).

The operator's credentials need ``logs:FilterLogEvents`` on those groups (docs/operate.md, "The operator CLI's
permissions").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from contracts.run_logs import LogLine, RunWindow, local_run_logs, parse_json_line, select
from ops.errors import OpsError
from ops.runs import run_view
from ops.target import LocalTarget, StageTarget, Target

__all__ = ["MAX_LINES", "RunLogs", "lambda_log_groups", "run_logs", "run_window"]

STATE_MACHINE_FUNCTIONS = ("list_connectors", "start_sync", "collect_outcomes", "transform_lease")
SAFETY_NET = "reconcile_syncs"
BEFORE = timedelta(minutes=1)
AFTER = timedelta(minutes=5)
MAX_LINES = 20_000  # per log group: past it, the rest is left out (said in a note)


@dataclass
class RunLogs:
    """The run's lines in time order, and notes on what could not be read."""

    lines: list[LogLine]
    notes: list[str] = field(default_factory=list)


def run_window(target: Target, arn: str) -> RunWindow:
    """The run as its log lines name it: ARN, name, start and stop, its connections."""
    view = run_view(target, arn)
    connections = {sync.connector_id for sync in view.syncs} | {s.connector_id for s in view.skipped}
    return RunWindow(
        arn=view.arn,
        name=view.name,
        started=view.started.astimezone(UTC),
        stopped=view.stopped.astimezone(UTC) if view.stopped else None,
        connections=frozenset(connections),
    )


def lambda_log_groups(app: str, stage: str) -> list[tuple[str, str]]:
    """(log group, part) of every Lambda of the stage: the state machine's, the safety net, the webhook."""
    groups = [(f"/aws/lambda/{app}-{stage}-{name}", name) for name in (*STATE_MACHINE_FUNCTIONS, SAFETY_NET)]
    return [*groups, (f"/aws/lambda/{app}-{stage}", "webhook")]


def run_logs(target: Target, arn: str, connection: str | None = None) -> RunLogs:
    """The run's log lines (only ``connection``'s when given), from the target's logs."""
    window = run_window(target, arn)
    if isinstance(target, LocalTarget):
        if not target.state.log_dir:
            raise OpsError(
                "this local runtime's state file names no log folder: restart `python -m local serve`"
            )
        return RunLogs(local_run_logs(Path(target.state.log_dir), window, connection))
    if not isinstance(target, StageTarget):
        raise OpsError(f"logs cannot be read from {target.label}")
    return _cloudwatch_logs(target, window, connection)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _cloudwatch_logs(target: StageTarget, window: RunWindow, connection: str | None) -> RunLogs:
    logs = target.client("logs")
    start = _ms(window.started - BEFORE)
    end = _ms((window.stopped or datetime.now(UTC)) + AFTER)
    found = RunLogs([])
    for group, part in lambda_log_groups(target.app_name, target.stage):
        patterns = [f'"{window.name}"']
        if part == "webhook" and connection:
            patterns.append(f'"{connection}"')
        for pattern in patterns:
            events = _filter(logs, found, group, start, end, filterPattern=pattern)
            found.lines += [_line(event, part) for event in events]
    dbt_group = target.outputs.get("DbtLogGroupName") or f"/ecs/{target.app_name}-{target.stage}-dbt"
    naming = _filter(logs, found, dbt_group, start, end, filterPattern=f'"{window.name}"')
    streams = sorted({str(event.get("logStreamName")) for event in naming if event.get("logStreamName")})
    if streams:
        events = _filter(logs, found, dbt_group, start, end, logStreamNames=streams[:100])
        # The whole stream is the run's task: its lines are tagged with the run's name.
        for event in events:
            line = _line(event, "dbt")
            found.lines.append(LogLine(line.time, "dbt", line.text, {**line.record, "run_id": window.name}))
    unique = {(line.time, line.part, line.text): line for line in found.lines}
    found.lines = select(unique.values(), window, connection)
    return found


def _line(event: dict[str, Any], part: str) -> LogLine:
    text = str(event.get("message") or "").strip()
    when = datetime.fromtimestamp(int(event.get("timestamp") or 0) / 1000, UTC)
    return LogLine(when, part, text, parse_json_line(text) or {})


def _filter(
    logs: Any, found: RunLogs, group: str, start: int, end: int, **kwargs: Any
) -> list[dict[str, Any]]:
    """Every event ``FilterLogEvents`` returns (all pages, at most ``MAX_LINES``); a missing group is
    a note."""
    events: list[dict[str, Any]] = []
    request: dict[str, Any] = {"logGroupName": group, "startTime": start, "endTime": end, **kwargs}
    while True:
        try:
            page = logs.filter_log_events(**request)
        except logs.exceptions.ResourceNotFoundException:
            found.notes.append(f"no log group {group} (nothing logged there yet)")
            return events
        events += page.get("events") or []
        if len(events) >= MAX_LINES:
            found.notes.append(f"{group}: more than {MAX_LINES:,} lines, the rest left out")
            return events[:MAX_LINES]
        if not page.get("nextToken"):
            return events
        request["nextToken"] = page["nextToken"]
