"""What dbt built in a run and why (pure): read from its summary, said in a few lines.

The state machine reads the dbt task's ``summary.json`` (``dbt_container/entrypoint.py``'s summary
line) into ``$.dbt_build`` after a build that succeeded (``ReadDbtBuildSummary``) and into
``$.dbt_summary`` after one that failed (``ReadDbtSummary``). ``read_build`` turns either state's
output into a ``BuildSummary``; ``build_lines`` says what ``show``, ``start-run --wait`` and the
timeline print: the selection used, the models built, and the nodes skipped for no new data (a
count, and where the full list is).
"""

from __future__ import annotations

from typing import Any

from ops.history import as_int
from ops.run_model import BuildSummary

__all__ = ["SHOWN_MODELS", "build_lines", "read_build"]

SHOWN_MODELS = 20  # the models named in a line; the rest are counted (all are in run_results.json)
SUMMARY_STATES = {"ReadDbtBuildSummary": "dbt_build", "ReadDbtSummary": "dbt_summary"}


def read_build(state: str, output: Any) -> BuildSummary | None:
    """``ReadDbtBuildSummary``'s or ``ReadDbtSummary``'s output as a ``BuildSummary`` (None: no summary)."""
    if not isinstance(output, dict) or state not in SUMMARY_STATES:
        return None
    read = output.get(SUMMARY_STATES[state])
    summary = read.get("summary") if isinstance(read, dict) else None
    if not isinstance(summary, dict):
        return None
    models = [str(m) for m in summary.get("models_built") or [] if isinstance(m, str)]
    selection = summary.get("selection")
    artifacts = summary.get("artifacts")
    return BuildSummary(
        models_built=tuple(models),
        models_built_count=max(as_int(summary.get("models_built_count")), len(models)),
        mode=str(summary["mode"]) if summary.get("mode") else None,
        select=str(summary.get("select") or ""),
        exclude=str(summary.get("exclude") or ""),
        selection=selection if isinstance(selection, dict) else None,
        artifacts=artifacts if isinstance(artifacts, str) and artifacts else None,
    )


def _where(build: BuildSummary, name: str) -> str:
    return (build.artifacts.rstrip("/") + "/" + name) if build.artifacts else name


def _selection_line(build: BuildSummary) -> str:
    """``selection: new_data: <reason>`` / ``selection: --select a --exclude b`` / ``selection: all``."""
    parts = [f"--select {build.select}"] if build.select else []
    parts += [f"--exclude {build.exclude}"] if build.exclude else []
    chosen = " ".join(parts)
    if build.selection is not None and build.mode == "new_data":
        reason = str(build.selection.get("reason") or "")
        text = "new data (mode new_data)" + (f": {reason}" if reason else "")
        return f"selection: {text}" + (f"; within {chosen}" if chosen else "")
    if chosen:
        return f"selection: {chosen}"
    return f"selection: {build.mode or 'all'} (the whole project)"


def build_lines(build: BuildSummary | None) -> list[str]:
    """The selection used, the models built (the first ``SHOWN_MODELS`` by name), the nodes skipped for
    no new data (a count and where the full list is); [] without a summary."""
    if build is None:
        return []
    lines = [_selection_line(build)]
    selection = build.selection or {}
    if selection.get("skipped"):
        lines.append("models built: none (no new data: the dbt build did not start)")
    else:
        names = ", ".join(build.models_built[:SHOWN_MODELS])
        more = build.models_built_count - min(len(build.models_built), SHOWN_MODELS)
        if more > 0:
            names += f", and {more:,} more (all in {_where(build, 'run_results.json')})"
        lines.append(f"models built ({build.models_built_count:,}): {names or 'none'}")
    if build.selection is not None and build.mode == "new_data":
        skipped = as_int(selection.get("skipped_count"))
        full = _where(build, str(selection.get("full_list") or "selection.json"))
        lines.append(f"skipped for no new data: {skipped:,} node(s) (full list: {full})")
    return lines
