"""Selection by new data: which nodes of the project a run must build, from what its syncs loaded.

The rule (``select_new_data``) never skips a node whose inputs may have changed. Every node (model, seed,
snapshot) gets an *inputs key*: a hash of its own code and config, the project's macros, the code of every
node upstream of it, and, for every source upstream of it, that source table's observation now
(``source_observation``): its ``max_loaded_at`` as ``dbt source freshness`` measured it *and* its row
counts (all rows, rows flagged ``_fivetran_deleted``, rows ``_fivetran_active``: ``task/row_counts.py``).
The build state (``BuildState``) keeps, per node, the key it had when it was last built successfully. A
node is skipped only when its key equals the kept one and every input upstream of it can be judged;
otherwise it is built, and so is everything downstream of it.

Why the row counts: Fivetran sets ``_fivetran_synced`` on each row it syncs (an insert, an update, a
single soft delete), so ``max(_fivetran_synced)`` moves; but a *hard* delete (or a re-sync that drops rows
gone from the source) writes no row, and Fivetran does not update ``_fivetran_synced`` for bulk operations
such as TRUNCATE, for mass deletes during a re-sync, nor for rows deleted from history-mode tables
([official] https://fivetran.com/docs/core-concepts/system-columns-and-tables). Unless such a change took
the newest row, the max stays where it was; it moves the count of rows, of rows flagged deleted, or of
active rows instead.

An input the run cannot judge makes everything downstream of it build:

- a source without ``loaded_at_field``, or whose loader is not Fivetran (``loader: fivetran``), or
  whose connection is not one this run synced successfully (``run_sources``), or whose freshness or row
  count could not be measured (an error, a table that does not exist yet);
- a seed or a snapshot (built every time, so their descendants are too);
- a model with no declared input at all (it may read tables dbt does not know).

A first run (no build state) builds everything. Why per node, not dbt's ``source_status:fresher+``: dbt's
method drops sources whose freshness errored and those without ``loaded_at_field``, and compares against
one run-wide ``sources.json``, so a model excluded (its other connection failed) or failed in the last run
would be skipped for good once its sources stop changing; a per-node key cannot be fooled that way.

Pure functions over dbt's ``manifest.json`` and ``sources.json`` (dicts) and the measured row counts;
no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# A source table's row counts, compared by equality: task/row_counts.py measures (rows, rows flagged
# _fivetran_deleted, rows _fivetran_active); a plain count works the same way.
RowCount = int | tuple[int, ...]

BUILT_TYPES = frozenset({"model", "seed", "snapshot"})
ALWAYS_BUILT_TYPES = frozenset({"seed", "snapshot"})
FIVETRAN_LOADER = "fivetran"


@dataclass(frozen=True)
class BuildState:
    """Per node (unique_id), the inputs key it had when it was last built successfully; per source, the
    ``max_loaded_at`` and the row counts the last saved run measured (for the run's output only: which
    sources changed; the rule itself compares the keys)."""

    keys: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    row_counts: dict[str, RowCount] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "keys": dict(sorted(self.keys.items())),
            "sources": self.sources,
            "row_counts": self.row_counts,
        }

    @classmethod
    def from_dict(cls, raw: Any) -> BuildState | None:
        """None when ``raw`` is not a build state this code wrote (then the run is treated as a first run)."""
        if (
            not isinstance(raw, Mapping)
            or raw.get("version") != 1
            or not isinstance(raw.get("keys"), Mapping)
        ):
            return None
        found = raw.get("sources")
        sources: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        found = raw.get("row_counts")
        counts: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        return cls(
            {str(k): str(v) for k, v in raw["keys"].items()},
            {str(k): str(v) for k, v in sources.items()},
            {str(k): c for k, c in ((k, _row_count(v)) for k, v in counts.items()) if c is not None},
        )


@dataclass(frozen=True)
class Selection:
    """What to build: ``nodes`` (unique_ids), and why (for the run's output)."""

    nodes: frozenset[str]
    skipped: frozenset[str]
    keys: dict[str, str]  # every node's inputs key now (kept for the nodes that build successfully)
    changed_sources: tuple[str, ...]  # "source_name.table" whose max_loaded_at or row count moved
    unjudged_sources: tuple[str, ...]  # "source_name.table" the run cannot judge
    first_run: bool
    freshness: dict[str, str] = field(default_factory=dict)  # the measured max_loaded_at, where known
    row_counts: dict[str, RowCount] = field(default_factory=dict)  # the measured row counts, where known

    @property
    def reason(self) -> str:
        if self.first_run:
            return "first run for this target: no build state, everything builds"
        if not self.nodes:
            return "no new data: no source of this run's connections loaded rows since its models were built"
        return (
            f"{len(self.nodes)} node(s) whose inputs changed or cannot be judged "
            f"(new data or deleted rows in {len(self.changed_sources)} source table(s), "
            f"{len(self.unjudged_sources)} source table(s) not judgeable)"
        )


def freshness_by_source(sources_json: Any) -> dict[str, str | None]:
    """``{source unique_id: max_loaded_at}`` from dbt's ``sources.json``; None where freshness errored."""
    results = sources_json.get("results") if isinstance(sources_json, Mapping) else None
    measured: dict[str, str | None] = {}
    for result in results if isinstance(results, list) else []:
        if isinstance(result, Mapping) and result.get("unique_id"):
            value = result.get("max_loaded_at")
            measured[str(result["unique_id"])] = str(value) if value else None
    return measured


def source_judgeable(source: Mapping[str, Any], run_sources: Iterable[str]) -> bool:
    """Whether the run can tell if this source table received rows: Fivetran loads it, it has a
    ``loaded_at_field``, and one of the run's successful connections lands it (``schema`` or
    ``schema.table``, Fivetran's names, which are the demo project's source names)."""
    names = set(run_sources)
    config = source.get("config") if isinstance(source.get("config"), Mapping) else {}
    loaded_at = source.get("loaded_at_field") or (config or {}).get("loaded_at_field")
    loader = str(source.get("loader") or "").strip().lower()
    source_name, table = str(source.get("source_name", "")), str(source.get("name", ""))
    in_run = source_name in names or f"{source_name}.{table}" in names
    return bool(loaded_at) and loader == FIVETRAN_LOADER and in_run


def source_observation(max_loaded_at: str | None, row_count: RowCount | None) -> tuple[str, RowCount] | None:
    """What the rule compares of one source table between runs: ``(max_loaded_at, row counts)``; None
    when either could not be measured (then the table cannot be judged). Both are needed: new, updated
    and singly soft-deleted rows move ``max(_fivetran_synced)``; hard deletes, bulk and re-sync deletes
    and history-mode deletes move only the counts."""
    if not max_loaded_at or row_count is None:
        return None
    return (max_loaded_at, row_count)


def _row_count(value: Any) -> RowCount | None:
    """A row count read back from JSON (a list becomes the tuple it was); None if it is none."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return tuple(value)
    return None


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


def _code(node: Mapping[str, Any]) -> str:
    checksum = node.get("checksum")
    return _digest(
        {
            "checksum": checksum.get("checksum") if isinstance(checksum, Mapping) else checksum,
            "config": node.get("config"),
            "relation": node.get("relation_name"),
            "parents": sorted(_parents(node)),
        }
    )


def _parents(node: Mapping[str, Any]) -> list[str]:
    depends_on = node.get("depends_on")
    parents = depends_on.get("nodes") if isinstance(depends_on, Mapping) else None
    return [str(p) for p in parents] if isinstance(parents, list) else []


def select_new_data(
    manifest: Mapping[str, Any],
    freshness: Mapping[str, str | None],
    previous: BuildState | None,
    run_sources: Iterable[str],
    *,
    row_counts: Mapping[str, RowCount | None],
) -> Selection:
    """The nodes this run must build (see the module's docstring for the rule). ``freshness``: per source
    unique_id, its ``max_loaded_at`` (``freshness_by_source``); ``row_counts``: per source unique_id, its
    row counts now (``task/row_counts.py``; compared by equality); a source missing from either, or None
    there, cannot be judged."""
    nodes = {k: v for k, v in (manifest.get("nodes") or {}).items() if v.get("resource_type") in BUILT_TYPES}
    sources: Mapping[str, Any] = manifest.get("sources") or {}
    run_sources = tuple(run_sources)
    macros = _digest(sorted((k, m.get("macro_sql")) for k, m in (manifest.get("macros") or {}).items()))
    observed = {s: source_observation(freshness.get(s), row_counts.get(s)) for s in sources}
    unjudged = {s for s, src in sources.items() if not source_judgeable(src, run_sources) or not observed[s]}
    keys: dict[str, str] = {}
    must: set[str] = set()
    upstream = _upstream(nodes, sources)
    for uid, node in nodes.items():
        up_sources, up_nodes = upstream[uid]
        keys[uid] = _digest(
            {
                "code": _code(node),
                "macros": macros,
                "upstream": sorted(_code(nodes[n]) for n in up_nodes),
                "sources": sorted((s, observed.get(s)) for s in up_sources),
            }
        )
        cannot_judge = (
            node.get("resource_type") in ALWAYS_BUILT_TYPES
            or not _parents(node)
            or any(s in unjudged or s.startswith("?") for s in up_sources)
            or any(nodes[n].get("resource_type") in ALWAYS_BUILT_TYPES for n in up_nodes)
        )
        if cannot_judge or previous is None or previous.keys.get(uid) != keys[uid]:
            must.add(uid)
    first = frozenset(must)
    must |= {uid for uid in nodes if upstream[uid][1] & first}  # and everything downstream of them
    measured = {s: str(v) for s, v in freshness.items() if v}
    counted = {s: v for s, v in row_counts.items() if v is not None}
    changed = [
        s
        for s in sorted(sources)
        if s not in unjudged
        and previous
        and (previous.sources.get(s), previous.row_counts.get(s)) != (measured.get(s), counted.get(s))
    ]
    return Selection(
        nodes=frozenset(must),
        skipped=frozenset(nodes) - must,
        keys=keys,
        changed_sources=tuple(_source_label(sources[s]) for s in changed),
        unjudged_sources=tuple(sorted(_source_label(sources[s]) for s in unjudged)),
        first_run=previous is None,
        freshness=measured,
        row_counts=counted,
    )


def _upstream(
    nodes: Mapping[str, Any], sources: Mapping[str, Any]
) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    """Per node, every source and every node above it (transitively). A parent that is neither a source
    nor a built node (a test, an unknown id, a cycle) is kept as ``"?" + id``: it cannot be judged."""
    done: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
    for start in nodes:
        stack: list[tuple[str, bool]] = [(start, False)]
        visiting: set[str] = set()
        while stack:
            uid, expanded = stack.pop()
            if uid in done:
                continue
            parents = _parents(nodes[uid])
            if not expanded:
                visiting.add(uid)
                stack.append((uid, True))
                stack += [(p, False) for p in parents if p in nodes and p not in done and p not in visiting]
                continue
            found_sources: set[str] = set()
            found_nodes: set[str] = set()
            for parent in parents:
                if parent in sources:
                    found_sources.add(parent)
                elif parent in done:
                    found_nodes.add(parent)
                    found_sources |= done[parent][0]
                    found_nodes |= done[parent][1]
                else:
                    found_sources.add("?" + parent)
            done[uid] = (frozenset(found_sources), frozenset(found_nodes))
            visiting.discard(uid)
    return done


def _source_label(source: Mapping[str, Any]) -> str:
    return f"{source.get('source_name')}.{source.get('name')}"


def next_state(previous: BuildState | None, selection: Selection, built_ok: Iterable[str]) -> BuildState:
    """The build state after this run: the nodes built successfully get their key of now; every other
    node keeps the key it had (a node excluded, failed or skipped by dbt stays owed a build)."""
    keys = dict(previous.keys) if previous else {}
    for uid in built_ok:
        if uid in selection.keys:
            keys[uid] = selection.keys[uid]
    return BuildState(
        keys,
        {**(previous.sources if previous else {}), **selection.freshness},
        {**(previous.row_counts if previous else {}), **selection.row_counts},
    )


def node_name(manifest: Mapping[str, Any], uid: str) -> str:
    """A node's name for ``--select`` and the run's output (its unique_id's last part if unknown)."""
    node = (manifest.get("nodes") or {}).get(uid) or {}
    return str(node.get("name") or uid.rsplit(".", 1)[-1])
