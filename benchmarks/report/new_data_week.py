"""Section 11 of ``results.md``: a week of hourly runs, selection by new data against ``mode: all``
(from ``benchmarks.new_data_week``'s runs)."""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.new_data_pattern import (
    FAILURE_PROBABILITY,
    HOURS_IN_A_WEEK,
    KIND_LOAD_PROBABILITY,
    ModeResult,
    ModeTotals,
    loading_share,
    median,
    totals,
    week_pattern,
)
from benchmarks.new_data_replay import Replay, replay
from benchmarks.new_data_week import WeekResult
from benchmarks.tables import fmt, markdown_table

__all__ = ["new_data_week_section"]

TITLE = "## 13. A week of hourly runs: selection by new data against `mode: all`"


def _row(label: str, pick: str, by_mode: dict[str, ModeTotals], digits: int = 0) -> list[str]:
    cells = [label]
    for mode in ("new_data", "all"):
        found = by_mode.get(mode)
        value = getattr(found, pick) if found else None
        cells.append(fmt(value, digits) if not isinstance(value, int) else fmt(value))
    return cells


def _estimate_s(result: ModeResult, hours: Replay) -> float | None:
    """The week's task seconds estimated from the measured runs' medians: a run that built nothing at the
    median of those that did not start a build, a build at the median of the measured builds."""
    idle = [h.task_s for h in result.hours if not h.build_started]
    busy = [h.task_s for h in result.hours if h.build_started]
    idle_hours = sum(1 for h in hours.hours if not h.build_started)
    if not busy or (idle_hours and not idle):
        return None
    return idle_hours * median(idle) + (len(hours.hours) - idle_hours) * median(busy)


def replay_section(week: WeekResult, hours: int = HOURS_IN_A_WEEK) -> str:
    """The same seeded pattern over ``hours`` hours through the selection rule alone (see
    ``benchmarks/new_data_replay.py``), checked against the real runs where they measured the hour."""
    if week.manifest is None:
        return ""
    pattern = week_pattern(week.connections, hours, week.seed)
    measured = {m.mode: m for m in week.modes}
    replays = {
        mode: replay(
            week.manifest, week.connections, pattern, mode, measured[mode].hours if mode in measured else []
        )
        for mode in ("new_data", "all")
    }
    estimates = {
        mode: _estimate_s(measured[mode], replays[mode]) if mode in measured else None for mode in replays
    }

    def cells(label: str, value: Callable[[Replay], int]) -> list[str]:
        return [label, *(fmt(value(r)) for r in replays.values())]

    rows = [
        cells("runs (hourly)", lambda r: len(r.hours)),
        cells("ECS task starts", lambda r: len(r.hours)),
        cells("dbt builds started", lambda r: r.builds_started),
        cells("models built, total", lambda r: r.models_built),
        [
            "models built, per run (median)",
            *(fmt(median([float(len(h.built)) for h in r.hours]), 1) for r in replays.values()),
        ],
        [
            "task seconds, total (estimated from the measured medians)",
            *(fmt(estimates[m], 0) for m in replays),
        ],
        cells("false skips (against the replayed warehouse)", lambda r: r.false_skips),
        cells("models held back by a failed connection", lambda r: sum(len(h.held_back) for h in r.hours)),
        [
            "hours where the real run built other models than the replay",
            *(
                f"{len(r.mismatches)} of {min(len(measured[m].hours), hours) if m in measured else 0}"
                for m, r in replays.items()
            ),
        ],
    ]
    return "\n".join(
        [
            f"The same seeded pattern over all {hours} hours, replayed through the selection rule alone"
            " (`benchmarks/new_data_replay.py`: the task's `select_new_data` and `next_state` over the"
            " project's real `manifest.json`, the freshness `dbt source freshness` would measure, and the"
            " exclusion of a failed connection's lineage), each hour checked as the real runs are. Task"
            " seconds are estimated: an hour with no build at the median of the measured runs without a"
            " build, any other at the median of the measured builds.",
            "",
            markdown_table(["per week (replayed)", "`mode: new_data`", "`mode: all`"], rows, "lrr"),
        ]
    )


def _fixed_cost(week: WeekResult) -> str:
    """The medians that explain the dbt seconds: a freshness-only run, a new_data build, a full build."""
    by_mode = {m.mode: m for m in week.modes}
    new, everything = by_mode.get("new_data"), by_mode.get("all")
    if not new or not everything:
        return ""
    idle = [h.dbt_s for h in new.hours if not h.build_started]
    busy = [h.dbt_s for h in new.hours if h.build_started]
    full = [h.dbt_s for h in everything.hours]
    if not idle or not busy or not full:
        return ""
    medians = (
        f" Median dbt seconds per run: {median(idle):.0f} s when `new_data` found nothing to build"
        " (`dbt source freshness` and the row counts, no build),"
        f" {median(busy):.0f} s when it built (then the build, in the same dbt session),"
        f" {median(full):.0f} s for `mode: all`'s build of every model."
    )
    if sum(busy) + sum(idle) > sum(full):
        return medians + (
            " On this small project on DuckDB dbt's fixed cost (the interpreter, the parse) outweighs the"
            " models' own work, so judging the new data costs more seconds than the skipped models save;"
            " on a warehouse where models take minutes, the models built are what the bill follows."
        )
    return medians + (
        " Even on this small project on DuckDB, where dbt's fixed cost (the interpreter, the parse)"
        " weighs more than the models' own work, judging the new data costs fewer seconds than the"
        " skipped models save; on a warehouse where models take minutes, the saving follows the models."
    )


def new_data_week_section(week: WeekResult) -> str:
    by_mode = {m.mode: totals(m) for m in week.modes}
    rows = [
        _row("runs (hourly)", "runs", by_mode),
        _row("ECS task starts", "task_starts", by_mode),
        _row("dbt builds started", "builds_started", by_mode),
        _row("models built, total", "models_built", by_mode),
        _row("models built, per run (median)", "models_built_median", by_mode, 1),
        _row("dbt seconds, total (the task's `elapsed_s`)", "dbt_s", by_mode, 0),
        _row("task seconds, total (process start to exit)", "task_s", by_mode, 0),
        _row("false skips (against the warehouse)", "false_skips", by_mode),
        _row("models held back by a failed connection", "held_back", by_mode),
        _row("runs with a dbt exit code other than 0", "failed_runs", by_mode),
    ]
    measured = "per week" if week.hours >= HOURS_IN_A_WEEK else f"first {week.hours} hours (measured)"
    table = markdown_table([measured, "`mode: new_data`", "`mode: all`"], rows, "lrr")
    new, everything = by_mode.get("new_data"), by_mode.get("all")
    saving = ""
    if new and everything and everything.models_built and everything.dbt_s:
        saving = (
            f" Selection by new data built {new.models_built / everything.models_built:.0%} of the models"
            f" `mode: all` built, in {new.dbt_s / everything.dbt_s:.0%} of its dbt seconds."
        )
    saving += _fixed_cost(week)
    sample = (
        ""
        if week.hours >= HOURS_IN_A_WEEK
        else f" The first {week.hours} of the week's {HOURS_IN_A_WEEK} hours were measured in both modes"
        " in the time the machine gave (each run starts dbt, 20 to 60 s on 2 busy cores); the replay"
        " below plays"
        f" all {HOURS_IN_A_WEEK}."
    )
    kinds = ", ".join(
        f"{c.connector_id} ({c.kind}, {KIND_LOAD_PROBABILITY[c.kind]:.0%})" for c in week.connections
    )
    return "\n".join(
        [
            TITLE,
            "",
            f"The demo dbt project ({week.models} models, 5 connections) on DuckDB, {week.hours} hourly runs"
            f" per mode, seed {week.seed}, started {week.started}; 15-minute load average"
            f" {week.load[0]:.2f} at the start, {week.load[1]:.2f} at the end; took {week.wall_s:.0f} s."
            " Each hour every connection's sync either loads rows or succeeds and loads nothing, with a"
            f" chance per kind of connection: {kinds}; each sync also fails with a chance of"
            f" {FAILURE_PROBABILITY:.0%} (half of those commit a few rows first). Of all the week's syncs,"
            f" {loading_share(week.pattern):.0%} loaded rows. The rows are written by the local warehouse"
            " as the simulator writes them; then the dbt task runs: `dbt_container/entrypoint.py`, the"
            " ECS task's code, with the state machine's environment, the run's outcomes in a moto S3"
            " bucket and the build state kept there between runs. Each mode has its own warehouse and"
            " bucket and replays the same rows; a bootstrap run before the week (every connection loads,"
            " everything builds) is not counted." + sample,
            "",
            table,
            "",
            "False skips: after every run, each model it did not build is checked against the warehouse:"
            " if any source table upstream of it (dbt's `parent_map`, transitively) has a"
            " `max(_fivetran_synced)` other than when the model was last built, the skip is false, unless"
            " one of its connections failed in that run (the policy `continue` excludes it on purpose:"
            " counted as held back; it must then build in a later run, or it becomes a false skip).",
            "",
            "ECS task starts are equal under both modes today: the state machine cannot know before the"
            " task starts whether a sync loaded rows (Fivetran's `sync_end` webhook carries a status, no"
            " row count, and no API field for one could be verified), so the task starts every hour and"
            " decides inside, after `dbt source freshness`;"
            " an hour with no new data then starts no `dbt build`." + saving,
            *(["", replayed] if (replayed := replay_section(week)) else []),
        ]
    )
