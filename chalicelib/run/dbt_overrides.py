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
- ``RUN_ID``: the execution name, at most 80 characters (Step Functions ``StartExecution``, ``name``);
- ``DBT_EXCLUDE_SOURCES_URI``: ``s3://<bucket>/runs/<execution name>/exclude_sources.json``, a bucket
  name at most 63 characters (S3 bucket naming rules);
- the JSON measured with ``json.dumps``' default separators (a space after ``:`` and ``,``) and
  ``ensure_ascii``: more characters than ECS can count for the same overrides, never fewer.

A dbt field added to ``RunDbt`` later (``dbt.vars``, ``dbt.full_refresh``, ``dbt.steps``) gets its
variable in ``run_dbt_overrides`` and its text in ``DbtText``: the same budget then covers them all.
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
    "worst_case_overrides",
]

OVERRIDES_MAX_CHARS = 8_192  # ECS RunTask: "8192 characters ... for overrides", the JSON included
EXECUTION_NAME_MAX = 80  # Step Functions StartExecution: a name is 1-80 characters
BUCKET_NAME_MAX = 63  # S3: a bucket name is 3-63 characters
CONTAINER_NAME = "dbt"
LONGEST_COMMAND = "source freshness"
LONGEST_MODE = "new_data"  # the longer of run_input.DBT_MODES ("new_data", "all")


@dataclass(frozen=True)
class DbtText:
    """The run input's text that travels in the overrides (each field's value, as the state holds it)."""

    select: str = ""
    exclude: str = ""


def run_dbt_overrides(
    command: str, text: DbtText, exclude_sources_uri: str, run_id: str, mode: str = LONGEST_MODE
) -> dict[str, Any]:
    """The ``Overrides`` object ``RunDbt`` sends to ECS, as the state machine builds it."""
    environment = [
        ("DBT_COMMAND", command),
        ("DBT_SELECT", text.select),
        ("DBT_EXCLUDE", text.exclude),
        ("DBT_MODE", mode),
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
    return run_dbt_overrides(LONGEST_COMMAND, text, uri, run_id)


def dbt_text_budget() -> int:
    """How many characters the run input's dbt text may take in all (JSON-escaped), so that any run's
    overrides stay within ``OVERRIDES_MAX_CHARS``."""
    return OVERRIDES_MAX_CHARS - overrides_chars(worst_case_overrides(DbtText()))


def text_chars(value: str) -> int:
    """The characters ``value`` adds to the overrides' JSON (its escaped form, without the quotes)."""
    return len(json.dumps(value, ensure_ascii=True)) - 2
