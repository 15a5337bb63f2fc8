"""The run's source-naming check: the run's connections (``connections.json``, which ``list_connectors``
writes beside ``exclude_sources.json`` in ``s3://<bucket>/runs/<execution name>/``) against the dbt
sources of the manifest dbt just wrote. Each mismatch is one ``source_contract_warning`` event on stderr
(the task's log). Never fatal: a file that cannot be read is one ``source_contract_unchecked`` event."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from task.events import log_event
from task.s3 import s3_client
from task.source_contract import check, sources_from_manifest

EXCLUDE_FILE = "exclude_sources.json"
CONNECTIONS_FILE = "connections.json"


def connections_uri(env: Mapping[str, str]) -> str | None:
    """FIVETRAN_CONNECTIONS_URI; else connections.json beside DBT_EXCLUDE_SOURCES_URI's run file; else,
    in a run the state machine started (it sets DBT_EXCLUDE_SOURCES_URI, empty when nothing failed),
    s3://ARTIFACTS_BUCKET/runs/RUN_ID/connections.json. None for a manual run: nothing to check against."""
    explicit = env.get("FIVETRAN_CONNECTIONS_URI", "").strip()
    if explicit:
        return explicit
    exclude = env.get("DBT_EXCLUDE_SOURCES_URI")
    if exclude is None:
        return None
    if exclude.strip().startswith("s3://") and exclude.strip().endswith("/" + EXCLUDE_FILE):
        return exclude.strip()[: -len(EXCLUDE_FILE)] + CONNECTIONS_FILE
    bucket, run_id = env.get("ARTIFACTS_BUCKET", ""), env.get("RUN_ID", "")
    return f"s3://{bucket}/runs/{run_id}/{CONNECTIONS_FILE}" if bucket and run_id else None


def warn_on_source_contract(target_path: Path, env: Mapping[str, str]) -> list[str]:
    """Log one warning per connection without a dbt source and per dbt source without a connection."""
    uri = connections_uri(env)
    if uri is None:
        return []
    try:
        manifest = json.loads((target_path / "manifest.json").read_text(encoding="utf-8"))
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        connections = json.loads(s3_client().get_object(Bucket=bucket, Key=key)["Body"].read())
        if not isinstance(connections, list):
            raise ValueError(f"{uri} is not a JSON array")
    except Exception as exc:  # missing manifest (dbt failed early), S3 or JSON errors: say so, go on
        log_event("source_contract_unchecked", level="warning", connections=uri, error=str(exc))
        return []
    warnings = check(
        [c for c in connections if isinstance(c, dict)], sources_from_manifest(manifest)
    ).warnings
    for warning in warnings:
        log_event("source_contract_warning", level="warning", warning=warning)
    return warnings
