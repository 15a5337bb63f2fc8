"""The source-naming contract, read from a manifest: sources belong to connections by schema or by
meta.fivetran_connection; each connection without a source and each source without a connection is a
warning; the check finds the run's connections.json where the state machine's run leaves it."""

from __future__ import annotations

import sys

from tests.dbt.support import REPO

sys.path.insert(0, str(REPO / "dbt_container"))
from task.contract_check import connections_uri
from task.source_contract import DbtSource, check, sources_from_manifest

CONNECTIONS = [
    {"connector_id": "stripe_prod", "schema": "stripe"},
    {"connector_id": "billing_conn", "schema": "billing"},
    {"connector_id": "sheet_conn", "schema": "sheets.budget"},
    {"connector_id": "ads_conn", "schema": "facebook_ads"},
]


def manifest_source(name: str, table: str, meta: dict[str, str] | None = None) -> dict[str, object]:
    return {"source_name": name, "name": table, "source_meta": meta or {}, "meta": {}, "config": {}}


def test_sources_are_read_once_each_with_the_connection_their_meta_names() -> None:
    manifest = {
        "sources": {
            "source.p.stripe.charges": manifest_source("stripe", "charges"),
            "source.p.stripe.customers": manifest_source("stripe", "customers"),
            "source.p.invoices.records": manifest_source("invoices", "records", {"fivetran_connection": "b"}),
        }
    }
    assert sources_from_manifest(manifest) == [DbtSource("invoices", "b"), DbtSource("stripe", None)]


def test_sources_matched_by_schema_or_meta_give_no_warning() -> None:
    sources = [DbtSource("stripe"), DbtSource("billing", "billing_conn"), DbtSource("sheets")]
    assert check(CONNECTIONS[:3], sources).warnings == []


def test_a_connection_without_a_source_and_a_source_without_a_connection_are_warned() -> None:
    report = check(CONNECTIONS, [DbtSource("stripe"), DbtSource("billing"), DbtSource("legacy_erp")])

    assert report.connections_without_source == ["ads_conn", "sheet_conn"]
    assert report.sources_without_connection == ["legacy_erp"]
    assert report.warnings[0].startswith("connection ads_conn has no dbt source")
    assert report.warnings[-1] == (
        "dbt source legacy_erp matches no connection of the run by schema or meta.fivetran_connection"
    )


def test_a_meta_mapped_source_whose_name_is_not_the_schema_is_warned_as_not_excluded() -> None:
    report = check(CONNECTIONS[1:2], [DbtSource("invoices", "billing_conn")])

    assert report.connections_without_source == [] and report.sources_without_connection == []
    assert report.sources_not_excluded == ["invoices"]
    assert "does not exclude it under on_sync_failure=continue" in report.warnings[0]


def test_the_runs_connections_file_is_found_where_list_connectors_writes_it() -> None:
    run = {"ARTIFACTS_BUCKET": "art", "RUN_ID": "exec-1"}
    assert connections_uri({**run, "DBT_EXCLUDE_SOURCES_URI": ""}) == "s3://art/runs/exec-1/connections.json"
    assert connections_uri({**run, "DBT_EXCLUDE_SOURCES_URI": "s3://b/runs/x/exclude_sources.json"}) == (
        "s3://b/runs/x/connections.json"
    )
    assert connections_uri({**run, "FIVETRAN_CONNECTIONS_URI": "s3://c/k.json"}) == "s3://c/k.json"
    assert connections_uri(run) is None  # a manual run: nothing to check against
