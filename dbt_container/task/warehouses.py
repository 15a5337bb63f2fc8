"""The warehouses the image can run dbt on, and the keys each one's profile reads from the environment.

One image holds one adapter (``make image DBT_ADAPTER=<adapter>``); the task definition injects the
warehouse secret's keys as environment variables and the orchestrator-managed ``profiles.yml`` (the
bundled project's, or the one ``stage_project.py`` generates for a project that brings none) reads them
with ``env_var``. ``missing_keys`` names the required keys a run lacks, so the entrypoint can stop before
dbt starts (exit ``WAREHOUSE_CONFIG_ERROR``, 78: EX_CONFIG of sysexits.h). A project that brings its own
``profiles.yml`` is not checked: its keys are its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

WAREHOUSE_CONFIG_ERROR = 78
# The first line of every profiles.yml whose keys this module describes.
MANAGED_PROFILE_MARKER = "# orchestrator-managed profile"

# adapter -> (required keys, optional keys). The order is the order they are reported in.
WAREHOUSE_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "snowflake": (
        (
            "SNOWFLAKE_ACCOUNT",
            "SNOWFLAKE_USER",
            "SNOWFLAKE_PRIVATE_KEY",
            "SNOWFLAKE_ROLE",
            "SNOWFLAKE_WAREHOUSE",
            "SNOWFLAKE_DATABASE",
            "SNOWFLAKE_SCHEMA",
        ),
        ("SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",),
    ),
    "bigquery": (
        ("BIGQUERY_PROJECT", "BIGQUERY_DATASET", "BIGQUERY_KEYFILE_JSON"),
        ("BIGQUERY_LOCATION",),
    ),
    "redshift": (
        ("REDSHIFT_HOST", "REDSHIFT_USER", "REDSHIFT_PASSWORD", "REDSHIFT_DATABASE", "REDSHIFT_SCHEMA"),
        ("REDSHIFT_PORT",),
    ),
    "databricks": (
        (
            "DATABRICKS_HOST",
            "DATABRICKS_HTTP_PATH",
            "DATABRICKS_TOKEN",
            "DATABRICKS_CATALOG",
            "DATABRICKS_SCHEMA",
        ),
        (),
    ),
    "postgres": (
        ("POSTGRES_HOST", "POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DATABASE", "POSTGRES_SCHEMA"),
        ("POSTGRES_PORT", "POSTGRES_SSLMODE"),
    ),
}
ADAPTERS = (*WAREHOUSE_KEYS, "duckdb")


def is_managed_profile(profiles_dir: Path) -> bool:
    """Whether profiles_dir/profiles.yml is the orchestrator's (its first line is the marker)."""
    path = profiles_dir / "profiles.yml"
    try:
        with path.open(encoding="utf-8") as handle:
            return handle.readline().strip() == MANAGED_PROFILE_MARKER
    except OSError:
        return False


def missing_keys(target: str, env: Mapping[str, str]) -> list[str]:
    """The required keys of ``target``'s warehouse that ``env`` lacks or holds empty (never their values);
    [] for a target this module does not describe (duckdb, or a target of the project's own)."""
    required, _ = WAREHOUSE_KEYS.get(target, ((), ()))
    return [name for name in required if not env.get(name)]
