"""The measured scale sections (issue 23): section 5's runs priced (section 8) and the largest run
(section 11), run now or re-rendered from a ``--measurements`` folder; ``merge_sections`` puts
sections into an existing ``results.md`` in place of the ones with the same number.

A measurements folder holds ``walltime-<n>.json`` (``{"ours": CaseRun, "peer": CaseRun, "load"}``,
written by ``python -m benchmarks --walltime --measurements DIR``), ``largest-<n>.json``
(``LargestRun`` as a dict, written by ``--largest``) and, optionally, ``largest-notes.txt`` (notes
for section 11, one a line, written by a person).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.largest import LargestRun, budget_estimate, run_largest
from benchmarks.measured_cost import BilledRun, Fit, expected_deferrals, fit
from benchmarks.report.measured import Budget, LargestRow, largest_section, measured_cost_section
from benchmarks.sidebyside import CaseRun

__all__ = [
    "default_budget",
    "largest_runs",
    "load_walltime",
    "measured_sections",
    "merge_sections",
]

WalltimeRow = tuple[int, CaseRun | None, CaseRun | None, str]
# Section 5's runs of ours from this size are also rows of section 11 (every default but dbt).
SECTION_5_FROM = 1_000
# A measurements folder's notes on the largest runs (one a line: what was tried and stopped by hand).
NOTES = "largest-notes.txt"


def default_budget() -> Budget:
    from chalicelib.tokens.api_budget import BudgetRule

    rule = BudgetRule.from_quota()
    return Budget(burst=rule.burst, interval_s=rule.interval_us / 1e6, per_hour=rule.per_hour)


def webhook_line(rows: Sequence[WalltimeRow]) -> str:
    """What the webhook receiver answered in each run of ours (deliveries refused are redelivered)."""
    said = []
    for n, ours, _, _ in rows:
        hooks = (ours.extra.get("billed") or {}).get("webhooks") if ours is not None else None
        if hooks:
            statuses = ", ".join(f"{k} x{v:,}" for k, v in hooks["by_status"].items())
            said.append(f"{n:,}: {hooks['sent']:,} sent, {hooks['accepted']:,} accepted ({statuses})")
    return "- Webhook deliveries to ours: " + "; ".join(said) + "." if said else ""


def load_walltime(folder: Path) -> tuple[list[WalltimeRow], list[str]]:
    """Section 5's rows (and each run's load line) from ``walltime-<n>.json`` files, by size."""
    rows: list[WalltimeRow] = []
    loads: list[str] = []
    files = sorted(folder.glob("walltime-*.json"), key=lambda p: int(p.stem.split("-")[1]))
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        ours, peer = CaseRun(**data["ours"]), CaseRun(**data["peer"])
        notes = [f"{side.side}: {side.status} {side.note}".strip() for side in (ours, peer) if not side.ok]
        rows.append((ours.connections, ours, peer, "; ".join(notes)))
        loads.append(f"{ours.connections:,}: {data.get('load', '?')}")
    return rows, loads


def largest_runs(
    sizes: Sequence[int], *, limit_s: float, workdir: Path, keep: Path | None, load: Path | None
) -> tuple[list[LargestRun], list[str]]:
    """Each size run (or loaded from ``load``), unless the default budget alone needs more than
    ``limit_s``: then a note says so and it is not run."""
    runs: list[LargestRun] = []
    notes: list[str] = []
    written = (load / NOTES) if load is not None else None
    if written is not None and written.exists():
        notes.extend(
            line.strip() for line in written.read_text(encoding="utf-8").splitlines() if line.strip()
        )
    for n in sorted(sizes):
        saved = (load / f"largest-{n}.json") if load is not None else None
        if saved is not None:
            if saved.exists():
                runs.append(LargestRun(**json.loads(saved.read_text(encoding="utf-8"))))
            continue
        estimate = budget_estimate(n)
        if estimate > limit_s:
            notes.append(
                f"{n:,} connections not run: with the default budget the run needs at least "
                f"{estimate:,.0f} s (its triggers, then the longest sync; over the {limit_s:,.0f} s limit); "
                "the row is extrapolated from the measured runs."
            )
            continue
        run = run_largest(n, workdir=workdir / "largest", timeout_s=int(limit_s))
        runs.append(run)
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            (keep / f"largest-{n}.json").write_text(json.dumps(asdict(run), indent=1), encoding="utf-8")
    return runs, notes


# A run whose triggers the budget defers (the local runtime starts children too slowly for the default
# budget to defer any): 20 connections, one trigger at once, then one every 3 s.
PROBE_CONNECTIONS = 20
PROBE_BUDGET = {"fivetran_hourly_quota": 1221, "trigger_quota_share": 100, "trigger_burst": 1}


def deferral_probe(workdir: Path) -> tuple[CaseRun, CaseRun]:
    """Two runs of ours of the same connections: at a tiny budget (each trigger but the first
    deferred once), and its twin at the default budget (none deferred)."""
    from benchmarks.sidebyside import run_case, walltime_scenario

    raw = walltime_scenario(PROBE_CONNECTIONS, 5.0, 20.0)
    twin = run_case(raw, side="ours", workdir=workdir)
    raw["name"] = "bench-deferral-probe"
    raw["settings"].update(PROBE_BUDGET)
    return run_case(raw, side="ours", workdir=workdir), twin


def _billed(ours: CaseRun) -> BilledRun | None:
    billed: dict[str, Any] = ours.extra.get("billed") or {}
    if not ours.ok or "state_transitions" not in billed:
        return None
    return BilledRun.from_report(ours.connections, billed)


def measured_sections(
    walltime: Sequence[WalltimeRow],
    largest: Sequence[LargestRun],
    *,
    extrapolate: Sequence[int],
    memory_mb: int,
    dbt_s: float,
    window_s: float,
    notes: Sequence[str] = (),
    probe: tuple[CaseRun, CaseRun] | None = None,
) -> list[str]:
    """Sections 8 and 11 from the measured runs (section 8 needs two sizes without a deferral);
    ``probe``, a run whose triggers the budget deferred and its twin without (``deferral_probe``),
    gives the fit its measured cost of a deferral."""
    budget = default_budget()
    measured = [b for _, ours, _, _ in walltime if ours is not None and (b := _billed(ours)) is not None]
    big = [
        (run, BilledRun.from_report(run.connections, run.report))
        for run in largest
        if run.report is not None and run.report.get("execution", {}).get("status") == "SUCCEEDED"
    ]
    sections: list[str] = []
    sizes = {r.connections for r in measured} | {b.connections for _, b in big}
    fitted: Fit | None = None
    try:
        pair = (_billed(probe[0]), _billed(probe[1])) if probe is not None else (None, None)
        fitted = fit(
            [*measured, *(b for _, b in big)],
            (pair[0], pair[1]) if pair[0] is not None and pair[1] is not None else None,
        )
    except ValueError as exc:  # e.g. --largest alone: no wall-time runs to fit; section 11 still shown
        sections.append(f"## 8. Cost per run, from measured counts\n\nNot computed: {exc}.")
    if fitted is not None:
        source = "section 5's runs of ours" + (" and section 11's measured runs" if big else "")
        sections.append(
            measured_cost_section(
                [*measured, *(b for _, b in big)],
                fitted,
                extrapolate=[n for n in extrapolate if n not in sizes],
                budget=budget,
                memory_mb=memory_mb,
                dbt_s=dbt_s,
                window_s=window_s,
                source=source,
            )
        )
    rows = [
        LargestRow(
            ours.connections,
            "measured (section 5's run)",
            ours.status,
            float(ours.extra.get("billed", {}).get("duration_s") or 0) or None,
            ours.extra.get("billed", {}).get("peak_rss_mib"),
            billed,
            ours.extra.get("billed", {}).get("max_deferrals_per_connection"),
        )
        for _, ours, _, _ in walltime
        if ours is not None and ours.connections >= SECTION_5_FROM and (billed := _billed(ours)) is not None
    ]
    succeeded = {id(run): billed for run, billed in big}
    rows.extend(
        LargestRow(
            run.connections,
            "measured",
            (run.report or {}).get("execution", {}).get("status") or f"exit {run.exit_code}",
            run.wall_s,
            run.peak_rss_mib,
            succeeded.get(id(run)),
            (run.report or {}).get("max_deferrals_per_connection"),
            note=f"load {run.load}",
        )
        for run in largest
    )
    for n in extrapolate:
        if n in sizes:
            continue
        deferred = expected_deferrals(n, burst=budget.burst, interval_s=budget.interval_s)
        rows.append(
            LargestRow(
                n,
                "extrapolated",
                "not run",
                budget_estimate(n),
                None,
                fitted.predict(n, deferred) if fitted is not None else None,
                1 if deferred else 0,
            )
        )
    if any(r.how.startswith("measured (section 5") for r in rows):
        notes = [
            "Section 5's runs: every default, but the simulator's warehouse writes off and dbt's task "
            "exiting at once; wall time is the run's (the report's `duration_s`), peak RSS its process.",
            *notes,
        ]
    sections.append(largest_section(rows, budget=budget, memory_mb=memory_mb, dbt_s=dbt_s, notes=notes))
    return sections


_HEADING = re.compile(r"^## (\d+)\.", re.MULTILINE)


def merge_sections(existing: str, new: Sequence[str], note: str = "") -> str:
    """``existing`` with each of ``new`` in place of the section with its number (``## 5.``), or
    appended in number order when it has none; the rest of ``existing`` unchanged but ``note``, a
    line added to the header (which sections came from which command)."""
    starts = [m.start() for m in _HEADING.finditer(existing)]
    head = existing[: starts[0]] if starts else existing
    parts = {
        int(_HEADING.match(existing, start).group(1)): existing[start:end].strip()  # type: ignore[union-attr]
        for start, end in zip(starts, [*starts[1:], len(existing)], strict=True)
    }
    for section in new:
        found = _HEADING.match(section)
        if found is None:
            raise ValueError(f"a section must open with '## <n>.': {section[:40]!r}")
        parts[int(found.group(1))] = section.strip()
    head = head.rstrip()
    if note:  # a re-render of the same sections replaces its own line
        prefix = note.split(":", 1)[0] + ":"
        kept = [line for line in head.splitlines() if not line.startswith(prefix)]
        head = "\n".join([*kept, note])
    return head + "\n\n" + "\n\n".join(parts[k] for k in sorted(parts)) + "\n"
