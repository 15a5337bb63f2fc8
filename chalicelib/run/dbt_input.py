"""The run input's dbt options beyond one command: ``dbt.vars``, ``dbt.full_refresh`` and ``dbt.steps``.

Shapes (the execution input), each checked here with an ``InvalidInput`` naming the field:

- ``dbt.vars``: a JSON object with non-empty string keys; it reaches dbt as ``--vars=<JSON>``, one
  argument (dbt reads ``--vars`` as YAML, of which JSON is a subset). Keys and values are data, never
  split into dbt's arguments, so a var cannot carry a dbt option.
- ``dbt.full_refresh``: ``true`` or ``false`` (default). It adds ``--full-refresh`` to the commands that
  take it (``build``, ``run``, ``seed``): the run needs at least one of them. A full refresh rebuilds
  everything the run selects, so it implies ``dbt.mode: all``; ``dbt.mode: new_data`` with it is refused.
- ``dbt.steps``: 1 to ``MAX_STEPS`` objects ``{"command", "select"?, "exclude"?}``, run in order; a failing
  step stops the rest. ``command`` is one of the allowed commands, ``select``/``exclude`` dbt node
  selection syntax (``chalicelib.run.selectors``). ``dbt.exclude`` applies to every step, besides each
  step's own; ``dbt.command`` and ``dbt.select`` cannot be given with ``steps``. ``dbt.mode: new_data``
  applies to each ``build`` or ``run`` step without a ``select`` of its own, as to a one-command run.

What travels (``RunOptions.to_dict()['dbt']``, then the ``RunDbt`` ECS environment) is text, as ECS's
environment takes only strings: ``vars`` is the compact JSON object (``""`` when none), ``full_refresh``
is ``"true"`` or ``"false"``, ``steps`` the compact JSON array (``""`` when none) and ``command`` the steps'
commands joined by ``" then "`` (what ``orchestrator show`` prints; the entrypoint checks it matches).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from chalicelib.platform.errors import InvalidInput
from chalicelib.run.selectors import InvalidSelection, validate_selection

__all__ = [
    "FULL_REFRESH_COMMANDS",
    "MAX_STEPS",
    "STEPS_JOIN",
    "STEP_KEYS",
    "parse_full_refresh",
    "parse_steps",
    "parse_vars",
    "selection_field",
    "steps_command",
]

MAX_STEPS = 10
STEP_KEYS = ("command", "select", "exclude")
STEPS_JOIN = " then "
# dbt commands that take --full-refresh (dbt-core 1.11's CLI: build, run, seed; not test, snapshot or
# source freshness).
FULL_REFRESH_COMMANDS = ("build", "run", "seed")


def _fail(msg: str) -> InvalidInput:
    return InvalidInput(f"invalid execution input: {msg}")


def parse_vars(raw: Mapping[str, Any]) -> str:
    """``dbt.vars`` as the compact JSON text dbt's ``--vars`` takes; ``""`` when absent, null or ``{}``."""
    value = raw.get("vars")
    if value is None:
        return ""
    if not isinstance(value, Mapping):
        raise _fail(
            f'\'dbt.vars\' must be an object of dbt vars, e.g. {{"start_date": "2026-01-01"}} '
            f"(got {type(value).__name__})"
        )
    bad = [k for k in value if not isinstance(k, str) or not k.strip()]
    if bad:
        raise _fail(f"'dbt.vars' keys must be non-empty strings (got {bad[0]!r})")
    if not value:
        return ""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise _fail(f"'dbt.vars' must hold JSON values only: {exc}") from None


def parse_full_refresh(raw: Mapping[str, Any], commands: list[str]) -> bool:
    """``dbt.full_refresh`` (default false); ``commands`` are the run's dbt commands, in order."""
    value = raw.get("full_refresh", False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _fail(f"'dbt.full_refresh' must be true or false (got {value!r})")
    if value and not any(c in FULL_REFRESH_COMMANDS for c in commands):
        raise _fail(
            f"'dbt.full_refresh' applies to {', '.join(FULL_REFRESH_COMMANDS)}, and the run's dbt runs "
            f"{STEPS_JOIN.join(commands)} only"
        )
    if value and raw.get("mode") == "new_data":
        raise _fail(
            "'dbt.full_refresh' rebuilds everything the run selects, 'dbt.mode': new_data only what new "
            "data changed: give one of them (full_refresh implies mode all)"
        )
    return value


def selection_field(raw: Mapping[str, Any], key: str, where: str) -> str:
    """The dbt node selection at ``raw[key]`` (``where``: the object's name in messages, e.g. ``dbt`` or
    ``dbt.steps[0]``), checked (``chalicelib.run.selectors``); its selectors joined by one space, ``""``
    when absent. ``InvalidInput`` names ``<where>.<key>``."""
    value = raw.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _fail(f"'{where}.{key}' must be a string (got {type(value).__name__})")
    try:
        return " ".join(validate_selection(value.strip()))
    except InvalidSelection as exc:
        raise _fail(f"'{where}.{key}' is not a dbt node selection: {exc}") from None


def parse_steps(raw: Mapping[str, Any], commands: tuple[str, ...]) -> list[dict[str, str]]:
    """``dbt.steps``, each ``{"command", "select", "exclude"}`` normalised; ``[]`` when absent.

    ``commands`` are the allowed dbt commands. Refuses ``dbt.command``/``dbt.select`` beside ``steps``."""
    value = raw.get("steps")
    if value is None:
        return []
    if not isinstance(value, list) or not value:
        raise _fail(
            "'dbt.steps' must be a non-empty list of steps, e.g. "
            '[{"command": "source freshness"}, {"command": "build", "select": "tag:daily"}]'
        )
    if len(value) > MAX_STEPS:
        raise _fail(f"'dbt.steps' has {len(value)} steps; a run takes at most {MAX_STEPS}")
    for key in ("command", "select"):
        if raw.get(key) is not None:
            raise _fail(f"give 'dbt.{key}' or 'dbt.steps', not both (each step has its own {key})")
    steps = []
    for index, step in enumerate(value):
        where = f"dbt.steps[{index}]"
        if not isinstance(step, Mapping):
            raise _fail(
                f"'{where}' must be an object {{command, select, exclude}} (got {type(step).__name__})"
            )
        unknown = sorted(str(k) for k in step if k not in STEP_KEYS)
        if unknown:
            raise _fail(
                f"unknown key(s) {', '.join(f'{where}.{k}' for k in unknown)}; allowed: "
                f"{', '.join(STEP_KEYS)}"
            )
        command = step.get("command")
        if not isinstance(command, str) or " ".join(command.split()) not in commands:
            raise _fail(f"'{where}.command' must be one of {', '.join(commands)} (got {command!r})")
        steps.append(
            {
                "command": " ".join(command.split()),
                "select": selection_field(step, "select", where),
                "exclude": selection_field(step, "exclude", where),
            }
        )
    return steps


def steps_command(steps: list[dict[str, str]]) -> str:
    """The steps' commands as one text (``source freshness then build``), the run's ``dbt.command``."""
    return STEPS_JOIN.join(step["command"] for step in steps)


def steps_text(steps: list[dict[str, str]]) -> str:
    """The steps as the compact JSON text of ``DBT_STEPS``; ``""`` when there are none."""
    return json.dumps(steps, separators=(",", ":"), ensure_ascii=False) if steps else ""
