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
