"""Which connections a run syncs, and which it skips and why (``paused``, ``broken``, ``not_found``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.fivetran.client import Connection
from chalicelib.platform.errors import FivetranNotFound, PausedConnections, TooManyConnections
from chalicelib.platform.log import logger
from chalicelib.run.run_input import RunOptions

__all__ = ["Listing", "list_connectors"]


class ConnectionSource(Protocol):
    def list_group_connections(self, group_id: str) -> list[Connection]: ...
    def get_connection(self, connection_id: str) -> Connection: ...


@dataclass(frozen=True)
class Listing:
    connectors: list[dict[str, Any]]
    skipped: list[dict[str, str]]

    def to_dict(self, options: RunOptions) -> dict[str, Any]:
        return {"connectors": self.connectors, "skipped": self.skipped, "options": options.to_dict()}


def _fetch(fivetran: ConnectionSource, options: RunOptions) -> tuple[list[Connection], list[dict[str, str]]]:
    if options.group_id is not None:
        return fivetran.list_group_connections(options.group_id), []
    found, missing = [], []
    for connector_id in options.connector_ids:
        try:
            found.append(fivetran.get_connection(connector_id))
        except FivetranNotFound:
            missing.append({"connector_id": connector_id, "reason": "not_found"})
    return found, missing


def list_connectors(
    fivetran: ConnectionSource, options: RunOptions, *, max_connections: int = 10_000
) -> Listing:
    """Apply the run's policies to the connections it names.

    Raises ``TooManyConnections`` before any sync starts when more than ``max_connections``
    would sync (``MAX_CONNECTIONS_PER_RUN``; 10,000 by default, the Distributed Map's most
    child executions at once), rather than queueing a run nobody meant.
    """
    connections, skipped = _fetch(fivetran, options)
    paused = [c for c in connections if c.paused]
    if paused and options.paused == "fail":
        names = ", ".join(c.id for c in paused)
        raise PausedConnections(
            f"{len(paused)} connection(s) are paused and the run says paused=fail: {names}. "
            "Resume them in Fivetran, or start the run with paused=skip."
        )
    to_sync: list[dict[str, Any]] = []
    for conn in connections:
        if conn.paused:
            skipped.append({"connector_id": conn.id, "reason": "paused"})
        elif not conn.is_connected:
            skipped.append({"connector_id": conn.id, "reason": "broken"})
        else:
            to_sync.append(
                {
                    "connector_id": conn.id,
                    "service": conn.service,
                    "schema": conn.schema,
                    "schedule_type": conn.schedule_type,
                }
            )
    if len(to_sync) > max_connections:
        raise TooManyConnections(
            f"{len(to_sync)} connections to sync, more than one run takes ({max_connections}, "
            "MAX_CONNECTIONS_PER_RUN): split them over several runs with connector_ids, or raise the limit"
        )
    logger.info(
        "listed connections",
        extra={
            "group_id": options.group_id,
            "to_sync": len(to_sync),
            "skipped": {s["connector_id"]: s["reason"] for s in skipped},
        },
    )
    return Listing(connectors=to_sync, skipped=skipped)
