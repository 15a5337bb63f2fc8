"""Section 9 of ``results.md``: the sync stage of a 100-connection run of 5-second syncs, as a
multiple of one sync (from ``benchmarks.sync_stage``'s runs)."""

from __future__ import annotations

from benchmarks.sync_stage import SCENARIO, StageRun, median
from benchmarks.tables import fmt, markdown_table

__all__ = ["sync_stage_section"]


def sync_stage_section(runs: list[StageRun], asked: int) -> str:
    rows = [
        [
            str(i + 1),
            run.status,
            fmt(run.stage_s, 1),
            fmt(run.ratio, 2),
            fmt(run.first_trigger_s, 1),
            fmt(run.last_trigger_s, 1),
            fmt(run.first_end_s, 1),
            "yes" if run.all_triggered_before_first_end else "no",
        ]
        for i, run in enumerate(runs)
    ]
    table = markdown_table(
        [
            "run",
            "execution",
            "sync stage (s)",
            "times one sync",
            "first trigger (s)",
            "last trigger (s)",
            "first sync end (s)",
            "all triggered before the first end",
        ],
        rows,
        "llrrrrrl",
    )
    ratio = median([run.ratio for run in runs])
    lines = [
        "## 9. The sync stage of 100 connections",
        "",
        f"`{SCENARIO.relative_to(SCENARIO.parents[2])}`: 100 connections, every sync 5 s and successful,"
        " default settings (`MaxConcurrency` 0, the API budget's default: a burst of 2,000 triggers at once),"
        " the simulator's"
        " warehouse writes and dbt included. The sync stage runs from the Distributed Map's `MapRunStarted`"
        " to its end (the execution history); trigger and end times are the simulator's, from the"
        " execution's start. Each run in its own process.",
        "",
        table,
        "",
        f"- Median: **{fmt(ratio, 2)} times** one sync's duration over {len(runs)} of {asked} runs"
        " (the inline Map took 12 times; target: under 4).",
    ]
    return "\n".join(lines)
