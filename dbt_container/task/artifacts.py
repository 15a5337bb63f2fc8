"""What a dbt run leaves: its artifacts (run_results.json, manifest.json, sources.json, dbt.log), the
counts and failed nodes read from them (``Outcome``), and keeping them in S3 under the run's key."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from task.events import log_event
from task.s3 import s3_client
from task.settings import Settings, artifacts_key_prefix

ARTIFACT_FILES = ("run_results.json", "manifest.json", "sources.json", "selection.json")
LOG_FILE = "dbt.log"
STEP_RESULTS = "run_results.step-{n}.json"  # DBT_STEPS: each step's run_results.json, kept (n from 1)
_PASS, _WARN, _ERROR, _SKIP = "pass", "warn", "error", "skip"
_STATUS_COUNTS = {
    "success": _PASS,
    "pass": _PASS,
    "warn": _WARN,
    "error": _ERROR,
    "fail": _ERROR,
    "runtime error": _ERROR,
    "skipped": _SKIP,
}
_FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})


@dataclass
class Outcome:
    """What the run produced, for the summary."""

    exit_code: int
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys((_PASS, _WARN, _ERROR, _SKIP), 0))
    failed_nodes: list[str] = field(default_factory=list)
    artifacts: str | None = None
    unmatched_selectors: list[str] = field(default_factory=list)  # DBT_SELECT's selectors matching no node
    selection: dict[str, Any] | None = None  # selection by new data: what was chosen and why
    models_built: list[str] = field(default_factory=list)  # names of the models built successfully
    source_contract_warnings: list[str] = field(default_factory=list)  # task.contract_check's sentences
    steps: list[dict[str, Any]] | None = None  # DBT_STEPS: each step's command, selection, exit code


def models_built(target_path: Path) -> list[str]:
    """The names of the models run_results.json reports built successfully, sorted."""
    return sorted(u.rsplit(".", 1)[-1] for u in built_nodes(target_path) if u.startswith("model."))


def built_nodes(target_path: Path) -> list[str]:
    """The unique_ids run_results.json reports built successfully (models, seeds, snapshots)."""
    try:
        results = json.loads((target_path / "run_results.json").read_text())["results"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    built = ("model.", "seed.", "snapshot.")
    return [
        str(r.get("unique_id"))
        for r in results
        if str(r.get("unique_id", "")).startswith(built) and str(r.get("status", "")).lower() == "success"
    ]


def read_results(target_path: Path, command: str) -> tuple[dict[str, int], list[str]]:
    """Counts by status and the failed nodes' ids, from run_results.json (sources.json for freshness)."""
    name = "sources.json" if command == "source freshness" else "run_results.json"
    counts = dict.fromkeys((_PASS, _WARN, _ERROR, _SKIP), 0)
    failed: list[str] = []
    try:
        results = json.loads((target_path / name).read_text())["results"]
    except (OSError, ValueError, KeyError, TypeError):
        return counts, failed
    for result in results:
        status = str(result.get("status", "")).lower()
        if status in _STATUS_COUNTS:
            counts[_STATUS_COUNTS[status]] += 1
        if status in _FAILED_STATUSES:
            failed.append(result.get("unique_id", "?"))
    return counts, failed


def clear_previous_artifacts(settings: Settings) -> None:
    """Remove what an earlier run left in the same folders, so this run's summary reads only its own."""
    for path in [settings.target_path / n for n in ARTIFACT_FILES] + [settings.log_path / LOG_FILE]:
        path.unlink(missing_ok=True)
    for path in _step_results(settings.target_path):
        path.unlink(missing_ok=True)


def _step_results(target_path: Path) -> list[Path]:
    return sorted(target_path.glob(STEP_RESULTS.format(n="*")))


def upload_artifacts(settings: Settings) -> str | None:
    """Put this run's artifacts under s3://BUCKET/PREFIX/RUN_ID/; the URI, or None if the upload failed."""
    if not settings.bucket:
        return None
    files = [settings.target_path / n for n in ARTIFACT_FILES] + [settings.log_path / LOG_FILE]
    files += _step_results(settings.target_path)
    key_prefix = artifacts_key_prefix(settings.prefix, settings.run_id)
    try:
        client = s3_client()
        for path in (p for p in files if p.is_file()):
            content_type = "application/json" if path.suffix == ".json" else "text/plain"
            client.upload_file(
                str(path), settings.bucket, key_prefix + path.name, ExtraArgs={"ContentType": content_type}
            )
    except Exception as exc:  # boto3/botocore errors, network errors: logged, never fatal
        log_event(
            "artifacts_upload_failed",
            level="error",
            bucket=settings.bucket,
            prefix=key_prefix,
            error=str(exc),
        )
        return None
    log_event("artifacts_uploaded", uri=settings.artifacts_uri)
    return settings.artifacts_uri
