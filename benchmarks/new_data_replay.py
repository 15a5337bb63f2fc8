"""The new-data week replayed through the selection rule alone, for every hour, in well under a second.

The real week (``benchmarks/new_data_week.py``) runs the dbt task each hour; on 2 busy cores one run
takes 20 to 40 s, so a measured week may be cut to a sample of hours. This replay plays all the hours
of the same seeded pattern through the rule the task runs (``dbt_container/task/new_data.py``:
``select_new_data`` and ``next_state``, imported, not copied) over the project's real ``manifest.json``
(from the bootstrap run), with what ``dbt source freshness`` would measure (each source table's last
loading hour), each table's row count (the rows loaded so far) and the run's successful connections;
dbt's exclusion of a failed connection's lineage (``source:<schema>+``) is applied as the task's
``dbt build`` would. Every hour is checked with the same
``TruthCheck`` as the real runs. Where the real week measured an hour, the replay's models built must equal
the real run's, and so must whether a build started: ``mismatches`` lists the hours where they differ.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks import ROOT
from benchmarks.new_data_pattern import Connection, HourResult, Sync, TruthCheck, lineage

if str(ROOT / "dbt_container") not in sys.path:
    sys.path.insert(0, str(ROOT / "dbt_container"))
# The dbt image's package, beside its entrypoint (tests/dbt/test_new_data_rule.py imports it alike).
from task.new_data import BuildState, next_state, select_new_data


@dataclass
class ReplayHour:
    hour: int
    built: list[str]  # model names
    false_skips: list[str]
    held_back: list[str]
    build_started: bool = True  # false: the rule chose no node, so the task starts no dbt build


@dataclass
class Replay:
    mode: str
    hours: list[ReplayHour] = field(default_factory=list)
    mismatches: list[int] = field(default_factory=list)  # hours where the real run built otherwise

    @property
    def models_built(self) -> int:
        return sum(len(h.built) for h in self.hours)

    @property
    def builds_started(self) -> int:
        return sum(1 for h in self.hours if h.build_started)

    @property
    def false_skips(self) -> int:
        return sum(len(h.false_skips) for h in self.hours)


def _source_tables(manifest: Mapping[str, Any]) -> dict[str, str]:
    """``{source unique_id: "schema.table"}``."""
    return {uid: f"{s['schema']}.{s['name']}" for uid, s in (manifest.get("sources") or {}).items()}


def replay(
    manifest: Mapping[str, Any],
    connections: Sequence[Connection],
    pattern: Sequence[Mapping[str, Sync]],
    mode: str,
    measured: Sequence[HourResult] = (),
) -> Replay:
    """Play ``pattern`` after a bootstrap hour in which every connection loaded (everything built)."""
    models = lineage(manifest)
    names = {
        uid: n["name"] for uid, n in (manifest.get("nodes") or {}).items() if n["resource_type"] == "model"
    }
    tables = _source_tables(manifest)
    loaded_at = dict.fromkeys(tables.values(), "bootstrap")
    rows = dict.fromkeys(tables.values(), 1)  # the bootstrap hour loaded every table
    everything = set(models)
    check = TruthCheck(models)
    check.after_run(everything, loaded_at)
    state: BuildState | None = None
    if mode == "new_data":
        first = select_new_data(
            manifest,
            _freshness(tables, loaded_at),
            None,
            [c.schema for c in connections],
            row_counts=_counts(tables, rows),
        )
        state = next_state(None, first, first.nodes)
    result = Replay(mode)
    real = {h.hour: h for h in measured}
    for number, hour in enumerate(pattern):
        for connection in connections:
            if hour[connection.connector_id].rows > 0:
                for table in tables.values():
                    if table.split(".", 1)[0] == connection.schema:
                        loaded_at[table] = f"hour {number:03d}"
                        rows[table] += hour[connection.connector_id].rows
        failed = {c.schema for c in connections if hour[c.connector_id].failed}
        excluded = {m for m, ts in models.items() if any(t.split(".", 1)[0] in failed for t in ts)}
        if mode == "new_data":
            succeeded = [c.schema for c in connections if c.schema not in failed]
            selection = select_new_data(
                manifest, _freshness(tables, loaded_at), state, succeeded, row_counts=_counts(tables, rows)
            )
            chosen = {uid for uid in selection.nodes if names.get(uid, "") not in excluded}
            state = next_state(state, selection, chosen)
            built = sorted(names[uid] for uid in chosen if uid in names)
            started = bool(selection.nodes)
        else:
            built, started = sorted(everything - excluded), True
        hour_check = check.after_run(built, loaded_at, failed)
        result.hours.append(ReplayHour(number, built, hour_check.false_skips, hour_check.held_back, started))
        if number in real and (sorted(real[number].models_built), real[number].build_started) != (
            built,
            started,
        ):
            result.mismatches.append(number)
    return result


def _freshness(tables: Mapping[str, str], loaded_at: Mapping[str, str]) -> dict[str, str | None]:
    return {uid: loaded_at.get(table) for uid, table in tables.items()}


def _counts(tables: Mapping[str, str], rows: Mapping[str, int]) -> dict[str, int | None]:
    return {uid: rows.get(table) for uid, table in tables.items()}
