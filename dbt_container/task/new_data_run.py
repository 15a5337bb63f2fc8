"""A build that selects by new data (``DBT_MODE=new_data``): ``dbt source freshness``, then the row count
of every source table it can judge (``task/row_counts.py``: one ``dbt show`` query), then the rule of
``task/new_data.py`` over the manifest, the freshness, the counts and the build state, then ``dbt build`` of
the chosen nodes only, or no build at all when nothing changed; then the build state for the next run.

The full choice (every node built and skipped, and why) is written to ``selection.json`` beside the
run's artifacts; the run's summary gets the counts and the reason (``selection_summary``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from task.artifacts import built_nodes
from task.build_state import load_build_state, run_sources, save_build_state
from task.command_line import dbt_args, freshness_args
from task.events import log_event
from task.new_data import (
    Selection,
    freshness_by_source,
    next_state,
    node_name,
    select_new_data,
    source_judgeable,
)
from task.process import DbtProcess
from task.row_counts import measure_row_counts
from task.settings import Settings
from task.source_contract import META_KEY

SELECTION_FILE = "selection.json"
SUMMARY_MAX_NAMES = 50


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def sources_by_connection(manifest: Mapping[str, Any]) -> dict[str, set[str]]:
    """connection id -> the names of the manifest's sources whose ``meta.fivetran_connection`` names it
    (source-level meta, the table's, or ``config.meta``)."""
    found: dict[str, set[str]] = {}
    sources = manifest.get("sources")
    for node in sources.values() if isinstance(sources, Mapping) else []:
        config = node.get("config") if isinstance(node.get("config"), Mapping) else {}
        meta = {**(node.get("source_meta") or {}), **(node.get("meta") or {}), **(config.get("meta") or {})}
        if meta.get(META_KEY) and node.get("source_name"):
            found.setdefault(str(meta[META_KEY]), set()).add(str(node["source_name"]))
    return found


def build_new_data(
    settings: Settings, dbt_env: Mapping[str, str], runner: DbtProcess
) -> tuple[int, dict[str, Any]]:
    """Run the build of what new data touched: (dbt's exit code, the selection's summary).

    ``dbt source freshness`` exits 1 when a source is past its error_after: that is not a failure here
    (its result is read per source; an errored one cannot be judged, so what depends on it builds)."""
    code = runner.run(freshness_args(settings), dbt_env)
    if code >= 128:  # stopped
        return code, {"mode": "new_data", "reason": "stopped during dbt source freshness", "skipped": True}
    manifest = _read_json(settings.target_path / "manifest.json")
    if not isinstance(manifest, dict):
        log_event("new_data_unknown", level="warning", reason="no manifest.json after source freshness")
        code = runner.run(dbt_args(settings), dbt_env)
        return code, {"mode": "new_data", "reason": "project could not be read: everything builds"}
    previous = load_build_state(settings.bucket, settings.target)
    freshness = freshness_by_source(_read_json(settings.target_path / "sources.json"))
    in_run = run_sources(settings.bucket, settings.run_id, sources_by_connection(manifest))
    found = manifest.get("sources")
    sources: Mapping[str, Any] = found if isinstance(found, dict) else {}
    judged = [  # only what the rule can judge is counted: the rest builds whatever its counts
        uid
        for uid, source in sources.items()
        if isinstance(source, Mapping) and freshness.get(uid) and source_judgeable(source, in_run)
    ]
    code, row_counts = measure_row_counts(settings, dbt_env, runner, manifest, judged)
    if code >= 128:  # stopped
        return code, {"mode": "new_data", "reason": "stopped while counting source rows", "skipped": True}
    selection = select_new_data(manifest, freshness, previous, in_run, row_counts=row_counts)
    summary = selection_summary(manifest, selection)
    (settings.target_path / SELECTION_FILE).write_text(json.dumps(_selection_file(manifest, selection)))
    log_event("new_data_selection", **summary)
    if not selection.nodes:
        return 0, {**summary, "skipped": True}
    names = sorted({node_name(manifest, uid) for uid in selection.nodes})
    code = runner.run(dbt_args(replace(settings, select=" ".join(names))), dbt_env)
    if code in (0, 1):  # dbt ran to its end: the nodes it built successfully are now up to date
        built = built_nodes(settings.target_path)
        save_build_state(settings.bucket, settings.target, next_state(previous, selection, built))
    return code, {**summary, "skipped": False}


def selection_summary(manifest: Mapping[str, Any], selection: Selection) -> dict[str, Any]:
    """The selection for the run's summary: counts, reason, at most 50 names of each list."""
    return {
        "mode": "new_data",
        "reason": selection.reason,
        "first_run": selection.first_run,
        "selected_count": len(selection.nodes),
        "skipped_count": len(selection.skipped),
        "skipped_nodes": sorted(node_name(manifest, u) for u in selection.skipped)[:SUMMARY_MAX_NAMES],
        "changed_sources": list(selection.changed_sources[:SUMMARY_MAX_NAMES]),
        "unjudged_sources": list(selection.unjudged_sources[:SUMMARY_MAX_NAMES]),
        "full_list": SELECTION_FILE,
    }


def _selection_file(manifest: Mapping[str, Any], selection: Selection) -> dict[str, Any]:
    return {
        "reason": selection.reason,
        "first_run": selection.first_run,
        "selected": sorted(node_name(manifest, u) for u in selection.nodes),
        "skipped": sorted(node_name(manifest, u) for u in selection.skipped),
        "changed_sources": list(selection.changed_sources),
        "unjudged_sources": list(selection.unjudged_sources),
    }
