"""The run's source-naming contract, applied at the start of the run, before dbt: the run's connections
(``connections.json``, which ``list_connectors`` writes beside ``exclude_sources.json`` in
``s3://<bucket>/runs/<execution name>/``) against the dbt sources the project declares
(``task.project_sources``).

Each mismatch is one ``source_contract_warning`` event on stderr (the task's log) and a line of the
summary's ``source_contract_warnings``: never fatal. A failed connection's sources mapped by
``meta.fivetran_connection`` under another name are excluded too (``sources_excluded_by_meta`` event).
Connections that cannot be read are one ``source_contract_unchecked`` event, unless connections failed
and the project maps sources by meta: then the run stops (``ConfigError``), since dbt must never build on
a failed connection's stale data.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from task.events import log_event
from task.project_sources import project_sources
from task.s3 import s3_client
from task.settings import ConfigError
from task.source_contract import check, excluded_by_meta

EXCLUDE_FILE = "exclude_sources.json"
CONNECTIONS_FILE = "connections.json"


@dataclass(frozen=True)
class ContractOutcome:
    """The sources to exclude beyond the failed connections' schemas, and the warnings (sentences)."""

    excluded: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


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


def read_connections(uri: str) -> list[dict[str, Any]]:
    """The run's connections (``[{"connector_id", "schema", ...}]``) from ``s3://bucket/key``."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    connections = json.loads(s3_client().get_object(Bucket=bucket, Key=key)["Body"].read())
    if not isinstance(connections, list):
        raise ValueError(f"{uri} is not a JSON array")
    return [c for c in connections if isinstance(c, dict)]


def apply_source_contract(
    project_dir: Path, env: Mapping[str, str], excluded_schemas: Sequence[str]
) -> ContractOutcome:
    """Check the run's connections against the project's sources; raises ConfigError only when failed
    connections cannot be matched to the sources ``meta.fivetran_connection`` maps (see the module)."""
    uri = connections_uri(env)
    if uri is None:
        return ContractOutcome()
    try:
        project = project_sources(project_dir)
    except Exception as exc:  # dbt_project.yml itself is not YAML: dbt will say so; the check cannot run
        log_event("source_contract_unchecked", level="warning", project=str(project_dir), error=str(exc))
        return ContractOutcome()
    for path in project.unreadable:
        log_event("source_contract_unreadable_yaml", level="warning", file=path)
    try:
        connections = read_connections(uri)
    except Exception as exc:  # S3 or JSON errors
        mapped = sorted(s.name for s in project.sources if s.connection)
        if excluded_schemas and mapped:
            raise ConfigError(
                f"cannot read the run's connections {uri} ({exc}): connections failed, and the sources "
                f"mapped by meta.fivetran_connection ({', '.join(mapped)}) cannot be matched to them; "
                "dbt must not build on their stale data"
            ) from exc
        log_event("source_contract_unchecked", level="warning", connections=uri, error=str(exc))
        return ContractOutcome()
    excluded = excluded_by_meta(connections, project.sources, excluded_schemas)
    if excluded:
        log_event("sources_excluded_by_meta", sources=excluded)
    warnings = check(connections, project.sources).warnings
    for warning in warnings:
        log_event("source_contract_warning", level="warning", warning=warning)
    return ContractOutcome(excluded, warnings)
