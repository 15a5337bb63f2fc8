"""Where selection by new data keeps what it knows between runs, and what it reads of the run.

- The build state (``new_data.BuildState``): ``s3://ARTIFACTS_BUCKET/dbt-state/<target>/build_state.json``,
  one per deployment (each stage has its own artifacts bucket) and dbt target. Written after a dbt build
  that ran to its end (exit 0 or 1): only the nodes built successfully get their new key.
- The run's connections: ``s3://ARTIFACTS_BUCKET/runs/<RUN_ID>/outcomes.json`` (written by the
  CollectOutcomes state); the source names (``schema``) of the connections whose sync succeeded.

A missing or unreadable object is logged and read as "nothing known": no build state is a first run
(everything builds), no outcomes is a run with no connection (every source is outside it, so it builds).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from task.events import log_event
from task.new_data import BuildState
from task.s3 import s3_client

STATE_PREFIX = "dbt-state"
STATE_FILE = "build_state.json"


def state_key(target: str) -> str:
    return f"{STATE_PREFIX}/{target}/{STATE_FILE}"


def _get_json(bucket: str, key: str) -> Any:
    try:
        body = s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
        return json.loads(body)
    except Exception as exc:  # a missing object (NoSuchKey) included: nothing known
        log_event("state_not_read", level="warning", uri=f"s3://{bucket}/{key}", error=str(exc)[:300])
        return None


def load_build_state(bucket: str | None, target: str) -> BuildState | None:
    return BuildState.from_dict(_get_json(bucket, state_key(target))) if bucket else None


def save_build_state(bucket: str | None, target: str, state: BuildState) -> None:
    if not bucket:
        return
    key = state_key(target)
    try:
        s3_client().put_object(
            Bucket=bucket, Key=key, Body=json.dumps(state.to_dict()).encode(), ContentType="application/json"
        )
    except Exception as exc:  # logged, never fatal: the next run then builds more, never less
        log_event("state_not_saved", level="error", uri=f"s3://{bucket}/{key}", error=str(exc)[:300])
        return
    log_event("state_saved", uri=f"s3://{bucket}/{key}", nodes=len(state.keys))


def run_sources(
    bucket: str | None, run_id: str, by_connection: Mapping[str, Iterable[str]] | None = None
) -> list[str]:
    """The source names of the connections this run synced successfully (empty if unknown): each one's
    schema, and the sources ``by_connection`` maps to its id (``meta.fivetran_connection``)."""
    if not bucket:
        return []
    outcomes = _get_json(bucket, f"runs/{run_id}/outcomes.json")
    connections = outcomes.get("connections") if isinstance(outcomes, dict) else None
    succeeded = [
        c
        for c in (connections if isinstance(connections, list) else [])
        if isinstance(c, dict) and c.get("outcome") == "succeeded"
    ]
    names = [str(c["schema"]) for c in succeeded if c.get("schema")]
    for connection in succeeded:
        names += sorted((by_connection or {}).get(str(connection.get("connector_id")), ()))
    return list(dict.fromkeys(names))
