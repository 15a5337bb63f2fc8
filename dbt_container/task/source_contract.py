"""The source-naming contract: which dbt sources belong to which Fivetran connection, and what does not match.

A dbt source belongs to a connection when its ``meta.fivetran_connection`` is the connection's id, or
when its name is the connection's schema (for a connection that lands one table, Fivetran's schema is
``schema.table``: source ``schema``, table ``table``). Under ``on_sync_failure: continue`` a failed
connection's sources are excluded (``source:<name>+``) by both rules: ``excluded_by_meta`` gives the
sources the schema rule alone would miss.

``check`` returns the mismatches as sentences (warnings, never fatal). Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

META_KEY = "fivetran_connection"


@dataclass(frozen=True)
class DbtSource:
    """One dbt source (its name, as ``source:<name>`` selects it) and the connection id its meta names."""

    name: str
    connection: str | None = None


@dataclass(frozen=True)
class ContractReport:
    connections_without_source: list[str]  # connection ids
    sources_without_connection: list[str]  # source names

    @property
    def warnings(self) -> list[str]:
        found = [
            f"connection {cid} has no dbt source (name a source after its schema, or give one "
            f"meta.{META_KEY}: {cid}): nothing in dbt depends on it"
            for cid in self.connections_without_source
        ]
        found += [
            f"dbt source {name} matches no connection of the run by schema or meta.{META_KEY}"
            for name in self.sources_without_connection
        ]
        return found


def _schemas(connections: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """connection id -> its schema (``{"connector_id", "schema"}`` each, as the run lists them)."""
    return {str(c.get("connector_id")): str(c.get("schema") or "") for c in connections}


def check(connections: Iterable[Mapping[str, Any]], sources: Iterable[DbtSource]) -> ContractReport:
    """Match ``connections`` (``{"connector_id", "schema"}`` each, as the run lists them) to ``sources``."""
    by_id = _schemas(connections)
    schemas = {schema.split(".", 1)[0] for schema in by_id.values() if schema}
    sources = list(sources)
    names = {s.name for s in sources}
    matched_ids = {s.connection for s in sources if s.connection in by_id}
    matched_ids |= {cid for cid, schema in by_id.items() if schema.split(".", 1)[0] in names}
    return ContractReport(
        connections_without_source=sorted(set(by_id) - matched_ids),
        sources_without_connection=[
            s.name for s in sources if s.connection not in by_id and s.name not in schemas
        ],
    )


def excluded_by_meta(
    connections: Iterable[Mapping[str, Any]], sources: Iterable[DbtSource], excluded_schemas: Iterable[str]
) -> list[str]:
    """The sources whose ``meta.fivetran_connection`` names a failed connection (one whose schema is in
    ``excluded_schemas``, the run's ``exclude_sources.json``) and whose name is not already excluded."""
    excluded = set(excluded_schemas)
    failed = {cid for cid, schema in _schemas(connections).items() if schema in excluded}
    plain = {name.split(".", 1)[0] for name in excluded}
    return sorted({s.name for s in sources if s.connection in failed and s.name not in plain})
