"""The source-naming contract: which dbt sources belong to which Fivetran connection, and what does not match.

A dbt source belongs to a connection when its ``meta.fivetran_connection`` is the connection's id, or
else when its name is the connection's schema (for a connection that lands one table, ``schema.table``:
source ``schema``, table ``table``). Under ``on_sync_failure: continue`` a failed connection's schema
becomes ``source:<schema>+`` in the exclusions, so a source reached only through ``meta`` whose name is
not the schema would be built on stale data: it is reported too.

``check`` returns the warnings as sentences; ``sources_from_manifest`` reads dbt's manifest.json.
Standard library only.
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
    sources_not_excluded: list[str]  # meta-mapped sources whose name is not their connection's schema

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
        found += [
            f"dbt source {name} is mapped by meta.{META_KEY} but its name is not the connection's schema: "
            "a failed sync of that connection does not exclude it under on_sync_failure=continue"
            for name in self.sources_not_excluded
        ]
        return found


def sources_from_manifest(manifest: Mapping[str, Any]) -> list[DbtSource]:
    """The project's sources, once each (a source's tables share its name and meta)."""
    found: dict[str, DbtSource] = {}
    for node in (manifest.get("sources") or {}).values():
        meta = {**(node.get("source_meta") or {}), **(node.get("meta") or {})}
        meta.update((node.get("config") or {}).get("meta") or {})
        connection = meta.get(META_KEY)
        name = str(node.get("source_name", ""))
        if name and (name not in found or connection):
            found[name] = DbtSource(name, str(connection) if connection else None)
    return sorted(found.values(), key=lambda s: s.name)


def check(connections: Iterable[Mapping[str, Any]], sources: Iterable[DbtSource]) -> ContractReport:
    """Match ``connections`` (``{"connector_id", "schema"}`` each, as the run lists them) to ``sources``."""
    by_id = {str(c.get("connector_id")): str(c.get("schema") or "") for c in connections}
    schemas = {schema.split(".", 1)[0] for schema in by_id.values() if schema}
    sources = list(sources)
    matched_ids = {s.connection for s in sources if s.connection in by_id}
    matched_ids |= {
        cid for cid, schema in by_id.items() if schema.split(".", 1)[0] in {s.name for s in sources}
    }
    return ContractReport(
        connections_without_source=sorted(set(by_id) - matched_ids),
        sources_without_connection=[
            s.name for s in sources if s.connection not in by_id and s.name not in schemas
        ],
        sources_not_excluded=[
            s.name
            for s in sources
            if s.connection in by_id and by_id[s.connection].split(".", 1)[0] != s.name
        ],
    )
