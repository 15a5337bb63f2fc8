"""The source-naming contract: sources belong to connections by schema or by meta.fivetran_connection,
read from the project's YAML before dbt starts; each connection without a source and each source without a
connection is a warning; a failed connection's sources mapped by meta are excluded whatever their name; the
check finds the run's connections.json where the state machine's run leaves it."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.dbt.support import PROJECT, REPO

sys.path.insert(0, str(REPO / "dbt_container"))
import task.contract_check as contract_check
from task.contract_check import apply_source_contract, connections_uri
from task.project_sources import project_sources
from task.settings import ConfigError
from task.source_contract import DbtSource, check, excluded_by_meta

CONNECTIONS = [
    {"connector_id": "stripe_prod", "schema": "stripe"},
    {"connector_id": "billing_conn", "schema": "billing"},
    {"connector_id": "sheet_conn", "schema": "sheets.budget"},
    {"connector_id": "ads_conn", "schema": "facebook_ads"},
]
RUN_ENV = {"FIVETRAN_CONNECTIONS_URI": "s3://art/runs/exec-1/connections.json"}


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


PROJECT_FILES = {
    "dbt_project.yml": "name: p\nprofile: p\nmodel-paths: [models, more]\n",
    "models/sources.yml": (
        "version: 2\nsources:\n  - name: stripe\n    tables: [{name: charges}]\n"
        "  - name: invoices\n    schema: invoicing\n    meta: {fivetran_connection: billing_conn}\n"
    ),
    "more/sheets.yaml": "sources:\n  - name: sheets\n    config: {meta: {fivetran_connection: sheet_conn}}\n",
    "models/broken.yml": "sources:\n  - name: {{ var('x') }}\n",
    "dbt_packages/ads_source/dbt_project.yml": "name: ads_source\n",
    "dbt_packages/ads_source/models/src.yml": "sources:\n  - name: facebook_ads\n",
    "seeds/not_read.yml": "sources:\n  - name: never\n",
}


class FakeS3:
    def __init__(self, objects: dict[str, Any]) -> None:
        self.objects = objects

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        if f"{Bucket}/{Key}" not in self.objects:
            raise OSError(f"NoSuchKey: {Key}")
        return {"Body": io.BytesIO(json.dumps(self.objects[f"{Bucket}/{Key}"]).encode())}


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> FakeS3:
    fake = FakeS3({"art/runs/exec-1/connections.json": CONNECTIONS})
    monkeypatch.setattr(contract_check, "s3_client", lambda: fake)
    return fake


def test_sources_are_read_from_the_projects_model_paths_and_its_installed_packages(tmp_path: Path) -> None:
    found = project_sources(write(tmp_path, PROJECT_FILES))

    assert found.sources == [
        DbtSource("facebook_ads"),
        DbtSource("invoices", "billing_conn"),
        DbtSource("sheets", "sheet_conn"),
        DbtSource("stripe"),
    ]
    assert found.unreadable == [str(tmp_path / "models" / "broken.yml")]


def test_the_bundled_project_declares_one_source_per_demo_connection() -> None:
    names = [s.name for s in project_sources(PROJECT).sources]
    assert names == ["app_db", "hubspot", "salesforce", "stripe", "zendesk"]


def test_sources_matched_by_schema_or_meta_give_no_warning() -> None:
    sources = [DbtSource("stripe"), DbtSource("invoices", "billing_conn"), DbtSource("sheets")]
    assert check(CONNECTIONS[:3], sources).warnings == []


def test_a_connection_without_a_source_and_a_source_without_a_connection_are_warned() -> None:
    report = check(CONNECTIONS, [DbtSource("stripe"), DbtSource("billing"), DbtSource("legacy_erp")])

    assert report.connections_without_source == ["ads_conn", "sheet_conn"]
    assert report.sources_without_connection == ["legacy_erp"]
    assert report.warnings[0].startswith("connection ads_conn has no dbt source")
    assert report.warnings[-1] == (
        "dbt source legacy_erp matches no connection of the run by schema or meta.fivetran_connection"
    )


def test_a_failed_connections_source_mapped_by_meta_is_excluded_whatever_its_name() -> None:
    sources = [DbtSource("invoices", "billing_conn"), DbtSource("stripe"), DbtSource("sheets", "sheet_conn")]

    assert excluded_by_meta(CONNECTIONS, sources, ["billing"]) == ["invoices"]
    assert excluded_by_meta(CONNECTIONS, sources, ["stripe"]) == []  # excluded by its name already
    assert excluded_by_meta(CONNECTIONS, sources, ["sheets.budget"]) == []  # source:sheets.budget+ does


def test_at_the_start_of_a_run_the_project_is_checked_and_meta_mapped_sources_excluded(
    tmp_path: Path, s3: FakeS3
) -> None:
    project = write(tmp_path, PROJECT_FILES)

    outcome = apply_source_contract(project, RUN_ENV, ["billing"])

    assert outcome.excluded == ["invoices"]
    assert outcome.warnings == []  # every connection has a source, every source a connection


def test_a_run_whose_connections_cannot_be_read_stops_when_meta_mapped_sources_may_be_stale(
    tmp_path: Path, s3: FakeS3
) -> None:
    project = write(tmp_path, PROJECT_FILES)
    env = {"FIVETRAN_CONNECTIONS_URI": "s3://art/runs/other/connections.json"}

    assert apply_source_contract(project, env, []).warnings == []  # nothing failed: unchecked, go on
    with pytest.raises(ConfigError, match=r"sources mapped by meta.fivetran_connection \(invoices, sheets\)"):
        apply_source_contract(project, env, ["billing"])


def test_a_manual_run_has_no_connections_to_check_against(tmp_path: Path) -> None:
    assert apply_source_contract(write(tmp_path, PROJECT_FILES), {}, ["billing"]).excluded == []


def test_the_runs_connections_file_is_found_where_list_connectors_writes_it() -> None:
    run = {"ARTIFACTS_BUCKET": "art", "RUN_ID": "exec-1"}
    assert connections_uri({**run, "DBT_EXCLUDE_SOURCES_URI": ""}) == "s3://art/runs/exec-1/connections.json"
    assert connections_uri({**run, "DBT_EXCLUDE_SOURCES_URI": "s3://b/runs/x/exclude_sources.json"}) == (
        "s3://b/runs/x/connections.json"
    )
    assert connections_uri({**run, "FIVETRAN_CONNECTIONS_URI": "s3://c/k.json"}) == "s3://c/k.json"
    assert connections_uri(run) is None  # a manual run: nothing to check against


def test_selection_by_new_data_counts_a_meta_mapped_source_as_loaded_by_its_connections_sync(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import task.build_state as build_state
    from task.new_data_run import sources_by_connection

    outcomes = {
        "connections": [
            {"connector_id": "billing_conn", "schema": "billing", "outcome": "succeeded"},
            {"connector_id": "stripe_prod", "schema": "stripe", "outcome": "failed"},
        ]
    }
    monkeypatch.setattr(build_state, "s3_client", lambda: FakeS3({"art/runs/r1/outcomes.json": outcomes}))
    manifest = {
        "sources": {
            "source.p.invoices.records": {
                "source_name": "invoices",
                "source_meta": {"fivetran_connection": "billing_conn"},
            },
            "source.p.charges.all": {
                "source_name": "charges",
                "config": {"meta": {"fivetran_connection": "stripe_prod"}},
            },
            "source.p.stripe.charges": {"source_name": "stripe", "source_meta": {}},
        }
    }

    assert sources_by_connection(manifest) == {"billing_conn": {"invoices"}, "stripe_prod": {"charges"}}
    assert build_state.run_sources("art", "r1", sources_by_connection(manifest)) == ["billing", "invoices"]
    assert build_state.run_sources("art", "r1") == ["billing"]
