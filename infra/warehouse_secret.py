"""The warehouse secret's JSON keys per dbt adapter: what ``infra/template.yaml`` generates in the
``WarehouseSecret`` and injects into the dbt task (``DbtAdapter`` picks the adapter), what
``orchestrator doctor`` and the deploy's next steps ask for. The template states them; a test checks the
template against this table and the table against the dbt task's own list of keys
(``dbt_container/task/warehouses.py``: each injected key is ``<ADAPTER>_<JSON KEY>`` upper-cased).

- ``SECRET_KEYS``: adapter -> the JSON keys the task gets (each adapter's required keys, plus the
  optional ones the generated secret gives a default: Redshift and Postgres ports, Postgres's sslmode,
  BigQuery's location; Snowflake's key passphrase is not injected);
- ``GENERATED_KEY``: the key CloudFormation fills with a random value (the credential itself);
- ``DEFAULTS``: the values the generated secret starts with for the optional keys (the others hold
  ``REPLACE_ME`` until the operator puts the real values).
"""

from __future__ import annotations

__all__ = ["ADAPTERS", "DEFAULTS", "GENERATED_KEY", "SECRET_KEYS", "env_name", "required_keys"]

SECRET_KEYS: dict[str, tuple[str, ...]] = {
    "snowflake": ("account", "user", "private_key", "role", "warehouse", "database", "schema"),
    "bigquery": ("project", "dataset", "keyfile_json", "location"),
    "redshift": ("host", "user", "password", "database", "schema", "port"),
    "databricks": ("host", "http_path", "token", "catalog", "schema"),
    "postgres": ("host", "user", "password", "database", "schema", "port", "sslmode"),
}
ADAPTERS = tuple(SECRET_KEYS)
GENERATED_KEY = {
    "snowflake": "private_key",
    "bigquery": "keyfile_json",
    "redshift": "password",
    "databricks": "token",
    "postgres": "password",
}
DEFAULTS: dict[str, dict[str, str]] = {
    "bigquery": {"location": "US"},
    "redshift": {"port": "5439"},
    "postgres": {"port": "5432", "sslmode": "prefer"},
}


def env_name(adapter: str, key: str) -> str:
    """The task's environment variable for a JSON key: ``postgres``, ``host`` -> ``POSTGRES_HOST``."""
    return f"{adapter.upper()}_{key.upper()}"


def required_keys(adapter: str) -> tuple[str, ...]:
    """The JSON keys an operator must fill (those without a default); snowflake's for an unknown adapter."""
    keys = SECRET_KEYS.get(adapter, SECRET_KEYS["snowflake"])
    return tuple(k for k in keys if k not in DEFAULTS.get(adapter, {}))
