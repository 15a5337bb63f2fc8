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


def test_the_summary_names_the_models_built_the_first_ten_then_a_count() -> None:
    models = [f"model_{i:02d}" for i in range(13)]

    row = _dbt_row({"summary": {}, "mode": "all", "selection": None, "models_built": models})

    assert (
        "models built: model_00, model_01," in row and "model_09 and 3 more (report: dbt.models_built)" in row
    )
    assert "model_10" not in row


def _connector_detail(connector: dict[str, object]) -> str:
    report = {"connectors": [connector], "skipped": [], "dbt": {"ran": False, "exclude_sources": []}}
    console = Console(record=True, width=400, color_system=None)
    console.print(_summary(report))
    lines = console.export_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("│ hubspot_crm"))
    cells = [lines[start].split("│")[3].strip()]
    cells += [line.split("│")[3].strip() for line in lines[start + 1 :] if line.startswith("│  ")]
    return " ".join(cell for cell in cells if cell)  # the detail column wraps


def test_a_connection_that_waited_says_how_often_until_when_and_why() -> None:
    waits = {
        "count": 3,
        "rescheduled": 1,
        "rate_limited": 2,
        "until": "2026-12-06T14:24:22Z",
        "reason": "quota",
    }
    connector = {"connector_id": "hubspot_crm", "outcome": "succeeded", "sync_id": "s", "waits": waits}

    detail = _connector_detail(connector)

    assert detail == "waited 3x free (1 rescheduled, 2 rate-limited), last until 2026-12-06T14:24:22Z: quota"


def test_a_connection_that_never_waited_says_nothing_about_waits() -> None:
    connector = {"connector_id": "hubspot_crm", "outcome": "succeeded", "sync_id": "s", "waits": {"count": 0}}

    assert _connector_detail(connector) == ""


def test_under_mode_all_the_summary_counts_the_models_built() -> None:
    row = _dbt_row({"summary": {}, "mode": "all", "selection": None, "models_built": ["a", "b"]})

    assert "selection all: 2 models built" in row
