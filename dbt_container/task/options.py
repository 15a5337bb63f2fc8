"""The run's dbt options beyond one command, read from the environment: ``DBT_VARS``, ``DBT_FULL_REFRESH``
and ``DBT_STEPS`` (the run input's ``dbt.vars``, ``dbt.full_refresh`` and ``dbt.steps``; the state
machine's first state checked them already, ``chalicelib/run/dbt_input.py``; this image may also be run by
hand, so they are checked again).

- ``DBT_VARS``: a JSON object (unset or empty: none). It reaches dbt as one argument, ``--vars=<JSON>``:
  whatever its keys and values hold, dbt reads them as vars, never as options.
- ``DBT_FULL_REFRESH``: ``true`` or ``false`` (unset or empty: false). ``--full-refresh`` is added to the
  commands that take it (``FULL_REFRESH_COMMANDS``).
- ``DBT_STEPS``: a JSON array of ``{"command", "select"?, "exclude"?}`` run in order, a failing step
  stopping the rest (unset or empty: the one command of ``DBT_COMMAND``). With steps, ``DBT_SELECT`` must
  be empty and ``DBT_COMMAND`` empty or the steps' commands joined by `` then `` (what the state machine
  sends); ``DBT_EXCLUDE`` and the failed connections' sources are excluded from every step.

Errors: ``OptionError`` (a ``ValueError``) naming the variable; the settings turn it into a ``ConfigError``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from task.selection import SelectionError, parse_selection

FULL_REFRESH_COMMANDS = ("build", "run", "seed")  # dbt-core 1.11: the commands with --full-refresh
STEPS_JOIN = " then "
STEP_KEYS = ("command", "select", "exclude")


class OptionError(ValueError):
    """A DBT_VARS, DBT_FULL_REFRESH or DBT_STEPS value the entrypoint cannot run with."""


@dataclass(frozen=True)
class Step:
    """One dbt command of the run, with its own selection (selectors joined by one space)."""

    command: str
    select: str = ""
    exclude: str = ""


def parse_vars(raw: str | None) -> str:
    """DBT_VARS as compact JSON text (``""`` for none); a JSON object or nothing."""
    if raw is None or not raw.strip():
        return ""
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise OptionError(f"DBT_VARS must be a JSON object of dbt vars: {exc}") from None
    if not isinstance(value, dict):
        raise OptionError(f"DBT_VARS must be a JSON object of dbt vars, got a {type(value).__name__}")
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False) if value else ""


def parse_full_refresh(raw: str | None) -> bool:
    """DBT_FULL_REFRESH: true or false (unset or empty: false)."""
    text = (raw or "").strip().lower()
    if text not in ("", "true", "false"):
        raise OptionError(f"DBT_FULL_REFRESH={raw!r} is not allowed; use true or false")
    return text == "true"


def parse_steps(raw: str | None, allowed: tuple[str, ...]) -> tuple[Step, ...]:
    """DBT_STEPS' steps, in order (``()`` when unset or empty); ``allowed`` are the dbt commands."""
    if raw is None or not raw.strip():
        return ()
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise OptionError(f"DBT_STEPS must be a JSON array of steps: {exc}") from None
    if not isinstance(value, list) or not value:
        raise OptionError("DBT_STEPS must be a non-empty JSON array of {command, select, exclude}")
    steps = []
    for index, item in enumerate(value):
        where = f"DBT_STEPS[{index}]"
        if not isinstance(item, dict) or set(item) - set(STEP_KEYS):
            raise OptionError(f"{where} must be an object with only {', '.join(STEP_KEYS)}")
        command = " ".join(str(item.get("command") or "").split())
        if command not in allowed:
            raise OptionError(f"{where}.command={item.get('command')!r} is not allowed; use one of {allowed}")
        fields = {}
        for key in ("select", "exclude"):
            text = item.get(key) or ""
            if not isinstance(text, str):
                raise OptionError(f"{where}.{key} must be a string")
            try:
                fields[key] = " ".join(parse_selection(text, f"{where}.{key}"))
            except SelectionError as exc:
                raise OptionError(str(exc)) from None
        steps.append(Step(command=command, **fields))
    return tuple(steps)


def steps_command(steps: tuple[Step, ...]) -> str:
    """The steps' commands as one text, ``source freshness then build``."""
    return STEPS_JOIN.join(step.command for step in steps)


def check_steps_beside(steps: tuple[Step, ...], command_raw: str, select_raw: str) -> None:
    """With steps, DBT_SELECT is empty and DBT_COMMAND empty or the steps' commands: never two answers."""
    if not steps:
        return
    if select_raw.strip():
        raise OptionError("DBT_SELECT must be empty with DBT_STEPS (each step has its own select)")
    command = " ".join(command_raw.split())
    if command and command != steps_command(steps):
        raise OptionError(
            f"DBT_COMMAND={command_raw!r} disagrees with DBT_STEPS ({steps_command(steps)!r}); "
            "leave DBT_COMMAND empty with DBT_STEPS"
        )
