"""Each local run's files in a folder that outlives the runtime: ``<runs_dir>/<run name>/``.

On AWS a run's files stay in the artifacts bucket and its logs in CloudWatch Logs; locally both live
in the runtime (moto's S3, the work folder's log files) and would vanish with it. ``RunFolders``
copies them out while runs go on and once more when the runtime stops:

- ``execution.json``: the execution as ``DescribeExecution`` answers (status, dates, input, error, cause);
- ``outcomes.json``, ``connections.json``, ``skipped.json``, ``exclude_sources.json``: the run's
  files (``s3://<bucket>/runs/<run>/``);
- ``dbt/``: the dbt task's artifacts and ``summary.json`` (``s3://<bucket>/dbt-runs/<run>/``), and
  dbt's own ``dbt.log``;
- ``logs/run.log``: the run's log lines from every part (Lambdas, webhook, dbt), in time order
  (``contracts.run_logs``, as ``orchestrator logs --local`` prints them).

``local_path(runs_dir, uri)`` turns such an ``s3://`` link into the file kept here.
"""

from __future__ import annotations

import json
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from contracts.run_logs import RunWindow, dbt_logs_of, local_run_logs

__all__ = ["RunFolders", "local_path"]

PREFIXES = {"runs": "", "dbt-runs": "dbt"}  # artifacts bucket prefix -> sub-folder of the run's folder


def local_path(runs_dir: Path, uri: str) -> Path | None:
    """The file kept for ``s3://<bucket>/runs/<run>/<file>`` or ``.../dbt-runs/<run>/<file>``, else None."""
    if not uri.startswith("s3://"):
        return None
    key = uri.removeprefix("s3://").partition("/")[2]
    prefix, _, rest = key.partition("/")
    if prefix not in PREFIXES or not rest:
        return None
    run, _, file = rest.partition("/")
    return runs_dir / run / PREFIXES[prefix] / file


class RunFolders:
    """Copies every execution's files to ``runs_dir`` (one folder per execution name)."""

    def __init__(
        self, clients: dict[str, Any], bucket: str, state_machine_arn: str, runs_dir: Path, log_dir: Path
    ) -> None:
        self.s3 = clients["s3"]
        self.sfn = clients["stepfunctions"]
        self.bucket = bucket
        self.state_machine_arn = state_machine_arn
        self.runs_dir = runs_dir
        self.log_dir = log_dir
        self._done: set[str] = set()  # runs ended and copied after their end
        self._lock = threading.Lock()

    def folder(self, name: str) -> Path:
        return self.runs_dir / name

    def refresh(self) -> None:
        """Copy every run not yet copied after its end (a run still going is copied again next time)."""
        with self._lock:
            for execution in self._executions():
                name = execution["name"]
                if name in self._done:
                    continue
                self.keep(execution["executionArn"])
                if execution["status"] != "RUNNING":
                    self._done.add(name)

    def keep_all(self) -> None:
        """The last copy, when the runtime stops: every run, ended or not."""
        with self._lock:
            self._done.clear()
        self.refresh()

    def keep(self, arn: str) -> Path:
        """Copy one run's files and log lines to its folder; returns the folder."""
        described = self.sfn.describe_execution(executionArn=arn)
        name = described["name"]
        folder = self.folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        _write(folder / "execution.json", json.dumps(described, indent=2, default=str) + "\n")
        for prefix, sub in PREFIXES.items():
            self._copy_prefix(f"{prefix}/{name}/", folder / sub if sub else folder)
        for number, path in enumerate(dbt_logs_of(self.log_dir, name)):
            dbt_log = path.with_suffix("") / "logs" / "dbt.log"  # dbt-N.log's task wrote dbt-N/logs/
            if dbt_log.exists():
                target = folder / "dbt" / ("dbt.log" if number == 0 else f"dbt-{number + 1}.log")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(dbt_log, target)
        window = RunWindow(
            arn=arn,
            name=name,
            started=_utc(described["startDate"]),
            stopped=_utc(described["stopDate"]) if described.get("stopDate") else None,
            connections=frozenset(self._connections(folder)),
        )
        lines = local_run_logs(self.log_dir, window)
        _write(folder / "logs" / "run.log", "".join(line.render() + "\n" for line in lines))
        return folder

    def _executions(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"stateMachineArn": self.state_machine_arn, "maxResults": 1000}
        while True:
            page = self.sfn.list_executions(**kwargs)
            found += page["executions"]
            if not page.get("nextToken"):
                return found
            kwargs["nextToken"] = page["nextToken"]

    def _copy_prefix(self, prefix: str, target: Path) -> None:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        while True:
            page = self.s3.list_objects_v2(**kwargs)
            for item in page.get("Contents") or []:
                relative = item["Key"][len(prefix) :]
                if not relative or relative.endswith("/") or ".." in Path(relative).parts:
                    continue
                body = self.s3.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
                path = target / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(body)
            if not page.get("IsTruncated"):
                return
            kwargs["ContinuationToken"] = page["NextContinuationToken"]

    @staticmethod
    def _connections(folder: Path) -> list[str]:
        """The run's connection ids, from its ``connections.json`` (the listing) once written."""
        try:
            items = json.loads((folder / "connections.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        return [str(item.get("connector_id")) for item in items if isinstance(item, dict)]


def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
