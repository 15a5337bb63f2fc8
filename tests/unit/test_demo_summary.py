"""The demo's summary table names how each outcome was found (pure: a report dict in, a table out)."""

from __future__ import annotations

from rich.console import Console

from local.demo import _summary


def test_a_success_without_sync_id_is_named_as_the_safety_nets() -> None:
    report = {
        "connectors": [
            {"connector_id": "stripe_prod", "outcome": "succeeded", "sync_id": None, "error": None},
            {"connector_id": "postgres_app", "outcome": "succeeded", "sync_id": "s-1", "error": None},
            {"connector_id": "zendesk", "outcome": "failed", "sync_id": None, "cause": "by reconcile"},
        ],
        "skipped": [],
        "dbt": {"ran": True, "exit_code": 0, "exclude_sources": [], "summary": {}},
    }
    console = Console(record=True, width=200, color_system=None)

    console.print(_summary(report))

    rows = {line.split("│")[1].strip(): line for line in console.export_text().splitlines() if "│" in line}
    detail = rows["stripe_prod"].split("│")[3].strip()
    assert detail == "no sync id: resolved by the safety net (reconcile_syncs)"
    assert "safety net" not in rows["postgres_app"] and "safety net" not in rows["zendesk"]
    assert "by reconcile" in rows["zendesk"]


def _dbt_row(dbt: dict[str, object]) -> str:
    report = {
        "connectors": [],
        "skipped": [],
        "dbt": {"ran": True, "exit_code": 0, "exclude_sources": [], **dbt},
    }
    console = Console(record=True, width=400, color_system=None)
    console.print(_summary(report))
    lines = console.export_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("│ dbt"))
    cells = [line.split("│")[3].strip() for line in lines[start:] if line.count("│") == 4]
    return " ".join(cells)  # the detail column wraps


def test_a_run_with_no_new_data_says_dbt_built_nothing_and_why() -> None:
    selection = {"reason": "no new data: nothing loaded", "skipped_count": 11, "full_list": "selection.json"}

    row = _dbt_row({"summary": {}, "selection": {**selection, "skipped": True}, "skipped": True})

    assert "selection new_data: dbt build not started, 11 nodes skipped" in row
    assert "no new data: nothing loaded" in row


def test_a_run_that_built_says_how_many_models_and_the_selection() -> None:
    selection = {
        "reason": "4 node(s) whose inputs changed",
        "skipped_count": 7,
        "full_list": "selection.json",
    }

    row = _dbt_row({"summary": {}, "selection": selection, "models_built": ["a", "b", "c", "d"]})

    assert "selection new_data: 4 models built, 7 nodes skipped (no new data; list in selection.json)" in row


def test_under_mode_all_the_summary_counts_the_models_built() -> None:
    row = _dbt_row({"summary": {}, "mode": "all", "selection": None, "models_built": ["a", "b"]})

    assert "selection all: 2 models built" in row
