"""One run's log lines, in time order: which lines belong to a run, and the local runtime's log files.

Shared by ``orchestrator logs --local`` (``ops.run_logs``) and the local runtime's run folders
(``local.run_folders``), so both pick the same lines. The same rules pick the lines CloudWatch Logs
returns on AWS (``ops.run_logs``), where each log group is one part.

A line belongs to the run when it names it: its ``execution_id`` or ``execution_arn`` is the run's
ARN, or its ``execution_name`` or ``run_id`` (the dbt task's) is the run's name. A line that names no
run but one of the run's connections (``connector_id``), written while the run ran, belongs too: the
webhook's ``sync_start``/``sync_end`` lines know the connection and the sync, not the run. A line that
names another run never does. A dbt log whose lines name the run belongs whole.

The local runtime's files (local/README.md): ``handlers.log`` (the in-process Lambda handlers and the
safety net, Powertools JSON), ``chalice-local.log`` (the webhook route, JSON lines among the server's
own), ``dbt-N.log`` (one per dbt task: the entrypoint's JSON lines). CloudWatch metric lines (EMF,
``"_aws"``) are no log lines here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = [
    "LOCAL_PARTS",
    "LogLine",
    "RunWindow",
    "dbt_logs_of",
    "local_run_logs",
    "parse_json_line",
    "select",
]

# The local runtime's log files -> the part of the pipeline they hold.
LOCAL_PARTS = {"handlers.log": "lambda", "chalice-local.log": "webhook"}
RUN_KEYS = ("execution_id", "execution_arn")
NAME_KEYS = ("execution_name", "run_id")


@dataclass(frozen=True)
class RunWindow:
    """The run as its log lines name it: ARN, name, connections, and when it ran (UTC; ``stopped``
    None while it runs)."""

    arn: str
    name: str
    started: datetime
    stopped: datetime | None = None
    connections: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LogLine:
    """One log line: when (UTC), which part wrote it (``lambda``, ``webhook``, ``dbt``, or a
    CloudWatch log group's function), the line as written, and its JSON object (empty if not JSON)."""

    time: datetime
    part: str
    text: str
    record: dict[str, Any]

    @property
    def connector_id(self) -> str:
        return str(self.record.get("connector_id") or "")

    def render(self) -> str:
        stamp = self.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return f"{stamp}  {self.part:<8} {self.text}"


def _time(record: dict[str, Any]) -> datetime | None:
    """Powertools' ``timestamp`` (``2026-12-06 14:18:13,154+0000``) or the dbt task's ``ts`` (ISO 8601)."""
    value = record.get("timestamp") or record.get("ts")
    if not isinstance(value, str):
        return None
    for parse in (
        lambda v: datetime.strptime(v, "%Y-%m-%d %H:%M:%S,%f%z"),
        lambda v: datetime.fromisoformat(v.replace("Z", "+00:00")),
    ):
        try:
            found = parse(value)
        except ValueError:
            continue
        return found if found.tzinfo else found.replace(tzinfo=UTC)
    return None


def parse_json_line(text: str) -> dict[str, Any] | None:
    """The line's JSON object, or None (not JSON, or a CloudWatch metric line)."""
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    if not isinstance(record, dict) or "_aws" in record:
        return None
    return record


def names_run(record: dict[str, Any], run: RunWindow) -> bool | None:
    """True: the line names this run; False: it names another; None: it names none."""
    named = [str(record[key]) for key in RUN_KEYS if record.get(key)]
    named_names = [str(record[key]) for key in NAME_KEYS if record.get(key)]
    if not named and not named_names:
        return None
    return run.arn in named or run.name in named_names or any(arn.endswith(f":{run.name}") for arn in named)


def _in_window(line: LogLine, run: RunWindow) -> bool:
    if line.time < run.started:
        return False
    return run.stopped is None or line.time <= run.stopped


def select(lines: Iterable[LogLine], run: RunWindow, connection: str | None = None) -> list[LogLine]:
    """The lines of ``run`` (module docstring), only those of ``connection`` if given (its
    ``connector_id``, or a line naming no connection that mentions it), in time order."""
    chosen = []
    for line in lines:
        named = names_run(line.record, run)
        if named is False:
            continue
        if named is None and not (line.connector_id in run.connections and _in_window(line, run)):
            continue
        mine = not connection or line.connector_id == connection
        if not mine and (line.connector_id or str(connection) not in line.text):
            continue  # another connection's line, or one that does not mention it
        chosen.append(line)
    return sorted(chosen, key=lambda line: line.time)


def _read(path: Path, part: str) -> list[LogLine]:
    """Every JSON line of a file; a line without a time takes the previous one's (dbt's summary line)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found: list[LogLine] = []
    last: datetime | None = None
    for raw in text.splitlines():
        record = parse_json_line(raw)
        if record is None:
            continue
        when = _time(record) or last
        if when is None:
            continue
        last = when
        found.append(LogLine(when, part, raw.strip(), record))
    return found


def dbt_logs_of(log_dir: Path, name: str) -> list[Path]:
    """The dbt tasks' logs (``dbt-N.log``) whose lines name the run ``name`` (their ``run_id``)."""
    found = []
    for path in sorted(log_dir.glob("dbt-*.log")):
        records = (parse_json_line(raw) for raw in _lines(path))
        if any(record is not None and record.get("run_id") == name for record in records):
            found.append(path)
    return found


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def local_run_logs(log_dir: Path, run: RunWindow, connection: str | None = None) -> list[LogLine]:
    """The run's lines from the local runtime's log files in ``log_dir``, in time order."""
    lines: list[LogLine] = []
    for file_name, part in LOCAL_PARTS.items():
        lines += _read(log_dir / file_name, part)
    for path in dbt_logs_of(log_dir, run.name):
        # The whole task is the run's: its lines are tagged with the run's name.
        lines += [
            LogLine(line.time, "dbt", line.text, {**line.record, "run_id": run.name})
            for line in _read(path, "dbt")
        ]
    return select(lines, run, connection)
