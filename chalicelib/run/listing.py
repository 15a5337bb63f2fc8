"""Which connections a run syncs, and which it skips and why (``paused``, ``broken``, ``not_found``).

A run names a group (every connection of it, read page by page), several groups (``group_ids``: each
group read in turn, in the input's order; a connection listed by two groups counts once, and each item
to sync then carries its ``group_id``, which the sync's task token record keeps) or
``connector_ids``: a few ids are read
one GET each; many are read through the groups they belong to (``_by_groups``), since one GET per id
would take a Lambda's whole time at thousands of ids (issue 28: 3,721 GETs of 10,001 before the deadline).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

from chalicelib.fivetran.client import Connection
from chalicelib.platform.config import DEFAULT_MAX_CONNECTIONS_PER_RUN
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


# Up to this many connector_ids, one GET per id; past it, the groups the ids belong to are read page by
# page (1,000 connections a page): 10,000 ids of one group cost about 11 calls instead of 10,000.
GET_EACH_MAX_IDS = 50


def _fetch(fivetran: ConnectionSource, options: RunOptions) -> tuple[list[Connection], list[dict[str, str]]]:
    if len(options.group_ids) > 1:
        listed: dict[str, Connection] = {}
        for group_id in options.group_ids:
            for conn in fivetran.list_group_connections(group_id):
                listed.setdefault(conn.id, conn if conn.group_id else _in_group(conn, group_id))
        return list(listed.values()), []
    if options.group_id is not None:
        return fivetran.list_group_connections(options.group_id), []
    if len(options.connector_ids) <= GET_EACH_MAX_IDS:
        return _get_each(fivetran, options.connector_ids)
    return _by_groups(fivetran, options.connector_ids)


def _in_group(conn: Connection, group_id: str) -> Connection:
    return replace(conn, group_id=group_id)


def _get_each(
    fivetran: ConnectionSource, ids: tuple[str, ...]
) -> tuple[list[Connection], list[dict[str, str]]]:
    found, missing = [], []
    for connector_id in ids:
        try:
            found.append(fivetran.get_connection(connector_id))
        except FivetranNotFound:
            missing.append({"connector_id": connector_id, "reason": "not_found"})
    return found, missing


def _by_groups(
    fivetran: ConnectionSource, ids: tuple[str, ...]
) -> tuple[list[Connection], list[dict[str, str]]]:
    """Many ids: the first id not yet found is read alone (one GET), which names its group; the whole
    group is then read page by page and every id it holds is found at once. Repeat until every id is
    found or known missing. Cost: one GET per group the ids span (plus one per unknown id) and the
    groups' pages, in the ids' order."""
    wanted = set(ids)
    found: dict[str, Connection] = {}
    missing: list[dict[str, str]] = []
    groups_read: set[str] = set()
    for connector_id in ids:
        if connector_id in found:
            continue
        try:
            conn = fivetran.get_connection(connector_id)
        except FivetranNotFound:
            missing.append({"connector_id": connector_id, "reason": "not_found"})
            continue
        found[conn.id] = conn
        if conn.group_id and conn.group_id not in groups_read:
            groups_read.add(conn.group_id)
            for member in fivetran.list_group_connections(conn.group_id):
                if member.id in wanted and member.id not in found:
                    found[member.id] = member
    logger.info(
        "listed connector_ids by group",
        extra={"ids": len(ids), "groups_read": len(groups_read), "not_found": len(missing)},
    )
    return [found[i] for i in ids if i in found], missing


def list_connectors(
    fivetran: ConnectionSource, options: RunOptions, *, max_connections: int = DEFAULT_MAX_CONNECTIONS_PER_RUN
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
            item: dict[str, Any] = {
                "connector_id": conn.id,
                "service": conn.service,
                "schema": conn.schema,
                "schedule_type": conn.schedule_type,
            }
            if options.group_id is None and conn.group_id:
                # A run by connector_ids or of several groups: its tokens carry the connection's group,
                # so the safety net reads the group once a pass, not each connection
                # (safety_net/group_screen.py).
                item["group_id"] = conn.group_id
            to_sync.append(item)
    if len(to_sync) > max_connections:
        raise TooManyConnections(
            f"{len(to_sync)} connections to sync, more than one run takes ({max_connections}, "
            "MAX_CONNECTIONS_PER_RUN): split them over several runs with connector_ids, or raise the limit"
        )
    logger.info(
        "listed connections",
        extra={
            "group_id": options.group_id,
            "group_ids": list(options.group_ids),
            "to_sync": len(to_sync),
            "skipped": {s["connector_id"]: s["reason"] for s in skipped},
        },
    )
    return Listing(connectors=to_sync, skipped=skipped)
