"""The ``RunDbt`` state's ECS container overrides, and how much of them the run input may fill.

ECS ``RunTask`` takes at most 8,192 characters of overrides in all, the JSON of the overrides
included (ECS API reference, ``RunTask``, ``overrides``; /work/shared/reference/aws-facts.md). moto
does not enforce it: a longer ``dbt.select`` would be accepted, then refused at ``RunTask`` on AWS
after every sync. So the first state checks the run input's dbt text against the budget computed here.

``run_dbt_overrides`` mirrors ``statemachine/orchestrator.asl.json`` (``RunDbt.Parameters.Overrides``:
the same variables, in the same order; a unit test compares them). The budget is what is left of the
8,192 characters once every value the run input does not choose is at its longest:

- ``DBT_COMMAND``: the longest allowed command (``source freshness``);
- ``DBT_MODE``: the longest mode (``new_data``);
- ``DBT_FULL_REFRESH``: the longer of ``true`` and ``false``;
- ``RUN_ID``: the execution name, at most 80 characters (Step Functions ``StartExecution``, ``name``);
- ``DBT_EXCLUDE_SOURCES_URI``: ``s3://<bucket>/runs/<execution name>/exclude_sources.json``, a bucket
  name at most 63 characters (S3 bucket naming rules);
- the JSON measured with ``json.dumps``' default separators (a space after ``:`` and ``,``) and
  ``ensure_ascii``: more characters than ECS can count for the same overrides, never fewer.

The run input's text (``DbtText``) is ``dbt.select``, ``dbt.exclude``, ``dbt.vars`` (``DBT_VARS``) and
``dbt.steps`` (``DBT_STEPS``); with steps, ``DBT_COMMAND`` holds the steps' commands joined by
`` then ``, whose characters past the longest single command count as ``dbt.steps``' too
(``text_sizes``). One budget covers them all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BUCKET_NAME_MAX",
    "EXECUTION_NAME_MAX",
    "OVERRIDES_MAX_CHARS",
    "DbtText",
    "dbt_text_budget",
    "overrides_chars",
    "run_dbt_overrides",
    "text_sizes",
    "worst_case_overrides",
]

OVERRIDES_MAX_CHARS = 8_192  # ECS RunTask: "8192 characters ... for overrides", the JSON included
EXECUTION_NAME_MAX = 80  # Step Functions StartExecution: a name is 1-80 characters
BUCKET_NAME_MAX = 63  # S3: a bucket name is 3-63 characters
CONTAINER_NAME = "dbt"
LONGEST_COMMAND = "source freshness"
LONGEST_MODE = "new_data"  # the longer of run_input.DBT_MODES ("new_data", "all")
LONGEST_FULL_REFRESH = "false"  # DBT_FULL_REFRESH is "true" or "false"


@dataclass(frozen=True)
class DbtText:
    """The run input's text that travels in the overrides (each field's value, as the state holds it)."""

    select: str = ""
    exclude: str = ""
    vars: str = ""  # dbt.vars' compact JSON
    steps: str = ""  # dbt.steps' compact JSON
    command: str = ""  # with steps: their commands joined by " then " (else the command is not text)


def run_dbt_overrides(
    command: str,
    text: DbtText,
    exclude_sources_uri: str,
    run_id: str,
    mode: str = LONGEST_MODE,
    full_refresh: str = LONGEST_FULL_REFRESH,
) -> dict[str, Any]:
    """The ``Overrides`` object ``RunDbt`` sends to ECS, as the state machine builds it."""
    environment = [
        ("DBT_COMMAND", command),
        ("DBT_SELECT", text.select),
        ("DBT_EXCLUDE", text.exclude),
        ("DBT_MODE", mode),
        ("DBT_VARS", text.vars),
        ("DBT_FULL_REFRESH", full_refresh),
        ("DBT_STEPS", text.steps),
        ("DBT_EXCLUDE_SOURCES_URI", exclude_sources_uri),
        ("RUN_ID", run_id),
    ]
    return {
        "ContainerOverrides": [
            {"Name": CONTAINER_NAME, "Environment": [{"Name": n, "Value": v} for n, v in environment]}
        ]
    }


def overrides_chars(overrides: dict[str, Any]) -> int:
    """The characters the overrides count for (an upper bound of ECS's own count)."""
    return len(json.dumps(overrides, ensure_ascii=True))


def worst_case_overrides(text: DbtText) -> dict[str, Any]:
    """The overrides with ``text`` and every other value at its longest."""
    run_id = "r" * EXECUTION_NAME_MAX
    uri = f"s3://{'b' * BUCKET_NAME_MAX}/runs/{run_id}/exclude_sources.json"
    return run_dbt_overrides(text.command or LONGEST_COMMAND, text, uri, run_id)


def dbt_text_budget() -> int:
    """How many characters the run input's dbt text may take in all (JSON-escaped), so that any run's
    overrides stay within ``OVERRIDES_MAX_CHARS``."""
    return OVERRIDES_MAX_CHARS - overrides_chars(worst_case_overrides(DbtText()))


def text_chars(value: str) -> int:
    """The characters ``value`` adds to the overrides' JSON (its escaped form, without the quotes)."""
    return len(json.dumps(value, ensure_ascii=True)) - 2


def text_sizes(text: DbtText) -> dict[str, int]:
    """The characters each run input field adds to the overrides past the budget's baseline, by field
    (``dbt.select`` ...); fields that add none are left out. Their sum must stay within the budget."""
    sizes = {
        f"dbt.{name}": text_chars(getattr(text, name)) for name in ("select", "exclude", "vars", "steps")
    }
    sizes["dbt.steps"] += max(0, text_chars(text.command) - len(LONGEST_COMMAND))
    return {name: size for name, size in sizes.items() if size}
