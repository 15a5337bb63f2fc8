"""The week of hourly runs of the new-data benchmark (``benchmarks/new_data_week.py``), its pure parts:
which connection loads rows in which hour, the lineage of each model, and the false-skip check against
the warehouse's truth.

- ``week_pattern``: for each hour, each connection's sync: rows loaded (0: the sync succeeded and loaded
  nothing), or failed (a failed sync may still have committed rows, as a Fivetran sync that fails midway
  can). Seeded: the same seed gives the same week, so both modes replay identical data.
- ``lineage``: per model, the source tables (``schema.table``) upstream of it, transitively, read from
  dbt's ``manifest.json`` ``parent_map`` (dbt's own graph, not the selection rule's code).
- ``TruthCheck``: after each run, every model not built is compared with the warehouse: if a source table
  upstream of it has a different ``max(_fivetran_synced)`` than when the model was last built, it is a
  false skip, unless one of its upstream connections failed this hour (then the run's policy ``continue``
  excludes it on purpose: counted as held back, and still owed a build).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

HOURS_IN_A_WEEK = 168
# Per kind, the chance that an hourly sync loads rows. "Most syncs of most connections load nothing in a
# given hour": one busy connection (the product database), two that load now and then, two quiet ones.
KIND_LOAD_PROBABILITY = {"busy": 0.5, "regular": 0.12, "quiet": 0.03}
FAILURE_PROBABILITY = 0.01  # per connection and hour; half of the failed syncs committed rows first


@dataclass(frozen=True)
class Connection:
    """A demo connection: its Fivetran id, service (the local warehouse's table set), schema and kind."""

    connector_id: str
    service: str
    schema: str
    kind: str


# The demo project's five connections (local/scenarios/new_data_stripe_only.yaml names them alike).
DEMO_CONNECTIONS = (
    Connection("postgres_app", "postgres", "app_db", "busy"),
    Connection("stripe_prod", "stripe", "stripe", "regular"),
    Connection("zendesk_support", "zendesk", "zendesk", "regular"),
    Connection("hubspot_crm", "hubspot", "hubspot", "quiet"),
    Connection("salesforce_main", "salesforce", "salesforce", "quiet"),
)


@dataclass(frozen=True)
class Sync:
    """One connection's sync in one hour: rows landed in each of its tables, and whether it failed."""

    rows: int
    failed: bool = False


def week_pattern(
    connections: Iterable[Connection],
    hours: int = HOURS_IN_A_WEEK,
    seed: int = 21,
    probabilities: Mapping[str, float] = KIND_LOAD_PROBABILITY,
    failure_probability: float = FAILURE_PROBABILITY,
) -> list[dict[str, Sync]]:
    """``hours`` hours, each ``{connector_id: Sync}`` for every connection; deterministic for ``seed``."""
    rng = random.Random(seed)
    connections = tuple(connections)
    week: list[dict[str, Sync]] = []
    for _ in range(hours):
        hour: dict[str, Sync] = {}
        for connection in connections:
            if rng.random() < failure_probability:
                hour[connection.connector_id] = Sync(rng.randint(1, 5) if rng.random() < 0.5 else 0, True)
            elif rng.random() < probabilities[connection.kind]:
                hour[connection.connector_id] = Sync(rng.randint(1, 20))
            else:
                hour[connection.connector_id] = Sync(0)
        week.append(hour)
    return week


def lineage(manifest: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """``{model name: the source tables "schema.table" upstream of it}``, from the manifest's
    ``parent_map`` (transitively) and its sources' ``schema`` and ``name``."""
    parent_map: Mapping[str, list[str]] = manifest.get("parent_map") or {}
    sources = manifest.get("sources") or {}
    nodes = manifest.get("nodes") or {}
    found: dict[str, frozenset[str]] = {}

    def tables(uid: str, seen: frozenset[str]) -> frozenset[str]:
        if uid in sources:
            return frozenset({f"{sources[uid]['schema']}.{sources[uid]['name']}"})
        if uid in seen:
            return frozenset()
        result: set[str] = set()
        for parent in parent_map.get(uid, []):
            result |= tables(parent, seen | {uid})
        return frozenset(result)

    for uid, node in nodes.items():
        if node.get("resource_type") == "model":
            found[str(node["name"])] = tables(uid, frozenset())
    return found


@dataclass
class HourCheck:
    """One run's models checked against the warehouse."""

    false_skips: list[str] = field(default_factory=list)  # not built though an input changed
    held_back: list[str] = field(default_factory=list)  # not built, an upstream connection failed
    unchanged: list[str] = field(default_factory=list)  # not built, rightly: no input changed


@dataclass
class TruthCheck:
    """What each model last saw of its source tables (``max(_fivetran_synced)`` when it was last built)."""

    models: Mapping[str, frozenset[str]]  # lineage()
    seen: dict[str, dict[str, str | None]] = field(default_factory=dict)

    def after_run(
        self, built: Iterable[str], truth: Mapping[str, str | None], failed_schemas: Iterable[str] = ()
    ) -> HourCheck:
        """Check one run: ``built`` the models it built successfully, ``truth`` each source table's
        ``max(_fivetran_synced)`` in the warehouse now (None: no row, no table), ``failed_schemas`` the
        schemas of the connections that failed in this run."""
        built, failed = set(built), set(failed_schemas)
        check = HourCheck()
        for model, tables in sorted(self.models.items()):
            now = {table: truth.get(table) for table in tables}
            if model in built:
                self.seen[model] = now
                continue
            if self.seen.get(model) == now:
                check.unchanged.append(model)
            elif any(table.split(".", 1)[0] in failed for table in tables):
                check.held_back.append(model)
            else:
                check.false_skips.append(model)
        return check


@dataclass
class HourResult:
    """One counted run of one mode."""

    hour: int
    exit_code: int
    models_built: list[str]
    build_started: bool  # false: the task found no new data and started no dbt build
    dbt_s: float  # the entrypoint's own elapsed_s (freshness and build)
    task_s: float  # the task's process, start to exit (the interpreter's start included)
    false_skips: list[str]
    held_back: list[str]


@dataclass
class ModeResult:
    mode: str
    hours: list[HourResult] = field(default_factory=list)


def median(values: list[float]) -> float:
    """The median (the mean of the middle two for an even count); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    middle = len(ordered) // 2
    return float(ordered[middle]) if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


@dataclass(frozen=True)
class ModeTotals:
    """One mode's week in figures."""

    runs: int
    models_built: int
    models_built_median: float
    builds_started: int  # runs whose dbt build started (the others found no new data)
    task_starts: int  # ECS task starts: one per run today (the task decides, after it starts)
    dbt_s: float  # the entrypoints' elapsed_s, summed
    task_s: float  # the task processes' wall time, summed
    false_skips: int
    held_back: int  # models not built because an upstream connection failed (policy continue)
    failed_runs: int  # runs whose dbt exit code was not 0


def totals(result: ModeResult) -> ModeTotals:
    hours = result.hours
    return ModeTotals(
        runs=len(hours),
        models_built=sum(len(h.models_built) for h in hours),
        models_built_median=median([float(len(h.models_built)) for h in hours]),
        builds_started=sum(1 for h in hours if h.build_started),
        task_starts=len(hours),
        dbt_s=sum(h.dbt_s for h in hours),
        task_s=sum(h.task_s for h in hours),
        false_skips=sum(len(h.false_skips) for h in hours),
        held_back=sum(len(h.held_back) for h in hours),
        failed_runs=sum(1 for h in hours if h.exit_code != 0),
    )


def loading_share(pattern: list[dict[str, Sync]]) -> float:
    """The share of (hour, connection) syncs that loaded rows (failed ones included if they did)."""
    syncs = [sync for hour in pattern for sync in hour.values()]
    return sum(1 for s in syncs if s.rows > 0) / len(syncs) if syncs else 0.0
