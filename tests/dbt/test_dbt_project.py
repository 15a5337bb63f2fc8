"""The dbt project's contracts that need no warehouse: the sources match what local/warehouse/ lands, the
profiles take every connection value from the environment, and the project compiles for Snowflake."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from local import warehouse
from tests.dbt.support import PROJECT, base_env

SNOWFLAKE_ENV = {
    "account": "SNOWFLAKE_ACCOUNT",
    "user": "SNOWFLAKE_USER",
    "private_key": "SNOWFLAKE_PRIVATE_KEY",
    "private_key_passphrase": "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",
    "role": "SNOWFLAKE_ROLE",
    "warehouse": "SNOWFLAKE_WAREHOUSE",
    "database": "SNOWFLAKE_DATABASE",
    "schema": "SNOWFLAKE_SCHEMA",
}


def sources() -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted((PROJECT / "models").rglob("*.yml")):
        for source in yaml.safe_load(path.read_text()).get("sources", []):
            found[source["name"]] = source
    return found


def test_project_is_named_orchestrator_and_uses_the_orchestrator_profile() -> None:
    project = yaml.safe_load((PROJECT / "dbt_project.yml").read_text())
    assert (project["name"], project["profile"]) == ("orchestrator", "orchestrator")


def test_there_is_one_source_per_demo_connection_named_after_its_schema() -> None:
    assert set(sources()) == set(warehouse.DEMO_SCHEMAS.values())
    for name, source in sources().items():
        assert source["schema"] == name


def test_sources_declare_the_columns_and_types_the_warehouse_writer_lands() -> None:
    declared = sources()
    for service, tables in warehouse.TABLES.items():
        source = declared[warehouse.DEMO_SCHEMAS[service]]
        by_name = {table["name"]: table for table in source["tables"]}
        assert set(by_name) == set(tables)
        for table, columns in tables.items():
            got = [(c["name"], c["data_type"].upper()) for c in by_name[table]["columns"]]
            assert got == columns, f"{service}.{table}"


def test_every_source_has_freshness_on_fivetran_synced() -> None:
    for source in sources().values():
        config = source["config"]
        assert config["loaded_at_field"] == "_fivetran_synced"
        assert config["freshness"]["warn_after"]["period"] == "hour"
        assert config["freshness"]["error_after"]["count"] >= config["freshness"]["warn_after"]["count"] >= 12


def test_snowflake_target_takes_every_connection_value_from_the_environment() -> None:
    profile = yaml.safe_load((PROJECT / "profiles.yml").read_text())["orchestrator"]
    assert profile["target"] == "{{ env_var('DBT_TARGET', 'snowflake') }}"
    snowflake = profile["outputs"]["snowflake"]
    assert snowflake["type"] == "snowflake"
    for key, name in SNOWFLAKE_ENV.items():
        assert re.fullmatch(r"\{\{ env_var\('" + name + r"'(, '')?\) \}\}", snowflake[key]), key
    assert "password" not in snowflake and "private_key_path" not in snowflake


def test_duckdb_target_takes_its_path_from_the_environment() -> None:
    duckdb_target = yaml.safe_load((PROJECT / "profiles.yml").read_text())["orchestrator"]["outputs"][
        "duckdb"
    ]
    assert duckdb_target["path"] == "{{ env_var('DUCKDB_PATH') }}"
    assert duckdb_target["schema"] == "analytics"


def test_project_compiles_for_snowflake_without_a_connection(dbt_python: Path, tmp_path: Path) -> None:
    env = base_env(
        DBT_TARGET="snowflake",
        SNOWFLAKE_ACCOUNT="xy12345.eu-west-1",
        SNOWFLAKE_USER="DBT",
        SNOWFLAKE_PRIVATE_KEY="-----BEGIN PRIVATE KEY-----\nnot-a-key\n-----END PRIVATE KEY-----",
        SNOWFLAKE_ROLE="TRANSFORMER",
        SNOWFLAKE_WAREHOUSE="TRANSFORMING",
        SNOWFLAKE_DATABASE="ANALYTICS",
        SNOWFLAKE_SCHEMA="DBT",
        DBT_TOLERATE_MISSING_SOURCES="false",  # no existence checks: they would need the warehouse
    )
    command = [str(dbt_python), "-c", "from dbt.cli.main import cli; cli(prog_name='dbt')", "compile"]
    command += ["--no-populate-cache", "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT)]
    command += ["--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    compiled = {p.stem: p.read_text() for p in (tmp_path / "target" / "compiled").rglob("*.sql")}
    assert {"customer_360", "revenue_daily", "stg_stripe__charges"} <= set(compiled)
    assert "from ANALYTICS.stripe.charges" in compiled["stg_stripe__charges"]
    assert "cast(id as TEXT)" in compiled["stg_stripe__charges"]  # dbt.type_string() rendered for Snowflake
    for name, sql in compiled.items():
        assert "::" not in sql, f"{name} uses a DuckDB/Postgres-only cast"
