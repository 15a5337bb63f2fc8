"""The environment the dbt task's entrypoint gets when it runs on this machine outside the local runtime:
the dbt container's tests (``tests/dbt/support.py``) and the new-data week benchmark
(``benchmarks/new_data_week.py``) start ``dbt_container/entrypoint.py`` with it.

A small, predictable environment: nothing leaks in from the caller's (AWS profiles, credentials, a real
endpoint), the local warehouse's target (``DBT_TARGET=duckdb``), no usage tracking, and AWS calls that stay
on this machine (fake credentials, no instance metadata, no config or credentials file; ``endpoint``, when
given, is the moto server's ``AWS_ENDPOINT_URL``). The local runtime's ECS runner (``local/ecs_runner.py``)
builds its own: its AWS settings are the runtime's.
"""

from __future__ import annotations

import os
import tempfile


def dbt_task_env(endpoint: str | None = None, **overrides: str) -> dict[str, str]:
    """The entrypoint's environment: the base described above, ``AWS_ENDPOINT_URL=endpoint`` if given, then
    ``overrides`` (``DUCKDB_PATH``, ``RUN_ID``, ``DBT_MODE``, ...) on top."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME") or tempfile.gettempdir(),
        "LANG": "C.UTF-8",
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_TARGET": "duckdb",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    if endpoint:
        env["AWS_ENDPOINT_URL"] = endpoint
    env.update(overrides)
    return env
