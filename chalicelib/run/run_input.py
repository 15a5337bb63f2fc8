"""The execution input (the run's contract): validation, defaults and normalised options.

Unknown keys and wrong types raise ``InvalidInput`` naming the field, so a bad run fails
at its first state with a message a person can act on. The normalised options travel
through the state machine; every later state reads them, never the raw input.

Every dbt field is checked here, before any sync: ``dbt.select`` and ``dbt.exclude`` must be dbt node
selection syntax (``chalicelib.run.selectors``: no token starting with ``-``, so no dbt option rides in
a selector), and the dbt text of the run must fit the ``RunDbt`` ECS overrides
(``chalicelib.run.dbt_overrides``). ``connector_ids`` holds at most ``max_connections`` distinct ids
(``MAX_CONNECTIONS_PER_RUN``), and may be empty only in a retry (``retry_of``: its syncs all
succeeded, it goes straight to dbt). ``group_ids`` names several groups (at most ``MAX_GROUPS_PER_RUN``); with
one, it is the same run as ``group_id``, which is ``None`` when there are several.
The dbt options beyond one command (``dbt.vars``, ``dbt.full_refresh``, ``dbt.steps``) and how they
combine with ``dbt.mode``: ``chalicelib.run.dbt_input``.
The options keep the ids' count, never the ids: they travel to every
child execution of the Map, and the ids stay in the execution input and the run's files in S3.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib.platform.config import DEFAULT_MAX_CONNECTIONS_PER_RUN
from chalicelib.platform.errors import InvalidInput
from chalicelib.platform.timeutil import format_asl_timestamp, parse_timestamp, utcnow
from chalicelib.run.dbt_input import (
    parse_full_refresh,
    parse_steps,
    parse_vars,
    selection_field,
    steps_command,
    steps_text,
)
from chalicelib.run.dbt_overrides import DbtText, dbt_text_budget, text_sizes

__all__ = ["DBT_COMMANDS", "DEFAULTS", "RunOptions", "parse_run_input"]

DBT_COMMANDS = ("build", "run", "test", "seed", "snapshot", "source freshness")
PAUSED_POLICIES = ("skip", "fail")
FAILURE_POLICIES = ("fail", "continue")
TOP_LEVEL_KEYS = (
    "group_id",
    "group_ids",
    "connector_ids",
    "paused",
    "on_sync_failure",
    "sync_timeout_seconds",
    "dbt",
    "retry_of",
)
# retry_of: the execution name of the run this one retries (``orchestrator retry``): the dbt task reads that
# run's artifacts as dbt's --state, and the run's output names it. Step Functions names are 1-80 characters.
_EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
DBT_KEYS = ("command", "select", "exclude", "mode", "vars", "full_refresh", "steps")
# dbt.mode: new_data (default) builds only what the run's syncs changed (the dbt image's DBT_MODE, see
# dbt_container/task/new_data.py); all builds everything. An explicit dbt.select wins over either.
DBT_MODES = ("new_data", "all")

# Deployment defaults (the state machine passes its own from DefinitionSubstitutions).
DEFAULTS = {
    "sync_timeout_seconds": 21_600,
    "heartbeat_seconds": 900,
    "max_concurrency": 0,  # 0: no cap (the Distributed Map runs up to 10,000 children at once)
    "dbt_timeout_seconds": 7_200,
}
MAX_TIMEOUT_SECONDS = 365 * 24 * 3600
MAX_GROUPS_PER_RUN = 50  # group_ids: each group is listed page by page in the run's first state


@dataclass(frozen=True)
class DbtOptions:
    command: str = "build"
    select: str = ""
    exclude: str = ""
    mode: str = "new_data"
    # dbt.vars, dbt.full_refresh, dbt.steps as the RunDbt environment's text (chalicelib/run/dbt_input.py)
    vars: str = ""
    full_refresh: bool = False
    steps: str = ""


@dataclass(frozen=True)
class RunOptions:
    group_id: str | None
    connector_ids: tuple[str, ...]
    paused: str = "skip"
    on_sync_failure: str = "fail"
    sync_timeout_seconds: int = DEFAULTS["sync_timeout_seconds"]
    heartbeat_seconds: int = DEFAULTS["heartbeat_seconds"]
    max_concurrency: int = DEFAULTS["max_concurrency"]
    dbt_timeout_seconds: int = DEFAULTS["dbt_timeout_seconds"]
    deadline: str = ""
    dbt: DbtOptions = field(default_factory=DbtOptions)
    group_ids: tuple[str, ...] = ()  # every group the run syncs (group_id, or group_ids); () for ids
    retry_of: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "group_id": self.group_id,
            "group_ids": list(self.group_ids),
            "connector_ids_count": len(self.connector_ids),
            "paused": self.paused,
            "on_sync_failure": self.on_sync_failure,
            "sync_timeout_seconds": self.sync_timeout_seconds,
            "heartbeat_seconds": self.heartbeat_seconds,
            "max_concurrency": self.max_concurrency,
            "dbt_timeout_seconds": self.dbt_timeout_seconds,
            "deadline": self.deadline,
            "dbt": {
                "command": self.dbt.command,
                "select": self.dbt.select,
                "exclude": self.dbt.exclude,
                "mode": self.dbt.mode,
                "vars": self.dbt.vars,
                "full_refresh": "true" if self.dbt.full_refresh else "false",
                "steps": self.dbt.steps,
            },
            "retry_of": self.retry_of,
        }


def _fail(msg: str) -> InvalidInput:
    return InvalidInput(f"invalid execution input: {msg}")


def _choice(raw: Mapping[str, Any], key: str, choices: tuple[str, ...], default: str) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str) or value not in choices:
        raise _fail(f"'{key}' must be one of {', '.join(choices)} (got {value!r})")
    return value


def _positive_int(value: Any, name: str, *, allow_zero: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(f"'{name}' must be an integer number of seconds (got {value!r})")
    if value < 0 or (value == 0 and not allow_zero) or value > MAX_TIMEOUT_SECONDS:
        raise _fail(f"'{name}' must be between 1 and {MAX_TIMEOUT_SECONDS} (got {value})")
    return value


def _unknown_keys(raw: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        raise _fail(f"unknown key(s) {', '.join(where + k for k in unknown)}; allowed: {', '.join(allowed)}")


def _check_overrides_budget(text: DbtText) -> None:
    """The run's dbt text must leave the ``RunDbt`` overrides within ECS's 8,192 characters."""
    budget = dbt_text_budget()
    sizes = text_sizes(text)
    total = sum(sizes.values())
    if total <= budget:
        return
    if len(sizes) == 1:
        named = f"'{next(iter(sizes))}' takes"
    else:
        named = " and ".join(f"'{name}' ({size:,})" for name, size in sizes.items()) + " take"
    raise _fail(
        f"{named} {total:,} characters; at most {budget:,} fit in the dbt task's ECS overrides "
        "(8,192 characters in all): select by tag:, path:, source: or a + operator instead of listing "
        "every model"
    )


def _parse_dbt(raw: Any) -> DbtOptions:
    if raw is None:
        return DbtOptions()
    if not isinstance(raw, Mapping):
        raise _fail(f"'dbt' must be an object (got {type(raw).__name__})")
    _unknown_keys(raw, DBT_KEYS, "dbt.")
    steps = parse_steps(raw, DBT_COMMANDS)
    command = raw.get("command", "build")
    if not isinstance(command, str) or " ".join(command.split()) not in DBT_COMMANDS:
        raise _fail(f"'dbt.command' must be one of {', '.join(DBT_COMMANDS)} (got {command!r})")
    commands = [step["command"] for step in steps] or [" ".join(command.split())]
    text = DbtText(
        select=selection_field(raw, "select", "dbt"),
        exclude=selection_field(raw, "exclude", "dbt"),
        vars=parse_vars(raw),
        steps=steps_text(steps),
        command=steps_command(steps),
    )
    _check_overrides_budget(text)
    mode = raw.get("mode", "new_data")
    if not isinstance(mode, str) or mode not in DBT_MODES:
        raise _fail(f"'dbt.mode' must be one of {', '.join(DBT_MODES)} (got {mode!r})")
    full_refresh = parse_full_refresh(raw, commands)
    return DbtOptions(
        command=text.command or commands[0],
        select=text.select,
        exclude=text.exclude,
        mode="all" if full_refresh else mode,
        vars=text.vars,
        full_refresh=full_refresh,
        steps=text.steps,
    )


def _parse_group_ids(raw: Mapping[str, Any]) -> tuple[str, ...]:
    """``group_ids``: 1 to ``MAX_GROUPS_PER_RUN`` distinct group ids (``()`` when absent)."""
    value = raw.get("group_ids")
    if value is None:
        return ()
    if not isinstance(value, list) or not value or not all(isinstance(g, str) and g.strip() for g in value):
        raise _fail("'group_ids' must be a non-empty list of non-empty strings (group ids)")
    for other in ("group_id", "connector_ids"):
        if raw.get(other) is not None:
            raise _fail(f"give either 'group_ids' or '{other}', not both")
    unique = tuple(dict.fromkeys(g.strip() for g in value))
    if len(unique) > MAX_GROUPS_PER_RUN:
        raise _fail(f"'group_ids' names {len(unique)} groups; a run takes at most {MAX_GROUPS_PER_RUN}")
    return unique


def _parse_targets(raw: Mapping[str, Any], max_connections: int) -> tuple[str | None, tuple[str, ...]]:
    group_id = raw.get("group_id")
    ids = raw.get("connector_ids")
    if ids == [] and raw.get("retry_of") is not None:
        return None, ()  # a retry whose syncs all succeeded: it syncs nothing and goes to dbt
    if group_id is not None and (not isinstance(group_id, str) or not group_id.strip()):
        raise _fail("'group_id' must be a non-empty string")
    if ids is not None:
        if not isinstance(ids, list) or not all(isinstance(i, str) and i.strip() for i in ids):
            raise _fail("'connector_ids' must be a list of non-empty strings")
        if not ids:
            raise _fail("'connector_ids' is empty: give at least one id, or a group_id")
    if group_id is None and ids is None:
        raise _fail(
            "give 'group_id' (sync every connection of a group), 'group_ids' (of several groups) "
            "or 'connector_ids'"
        )
    if group_id is not None and ids is not None:
        raise _fail("give either 'group_id' or 'connector_ids', not both")
    unique = tuple(dict.fromkeys(i.strip() for i in ids or []))
    if len(unique) > max_connections:
        raise _fail(
            f"'connector_ids' names {len(unique):,} connections, more than one run takes "
            f"({max_connections:,}, MAX_CONNECTIONS_PER_RUN): split them over several runs, "
            "or give a group_id"
        )
    return (group_id.strip() if group_id else None), unique


def _retry_of(raw: Mapping[str, Any]) -> str:
    value = raw.get("retry_of")
    if value is None:
        return ""
    if not isinstance(value, str) or not _EXECUTION_NAME.match(value):
        raise _fail(
            f"'retry_of' must be the name of the run retried (1-80 of A-Z a-z 0-9 _ -), got {value!r}"
        )
    return value


def _defaults(raw: Mapping[str, Any] | None) -> dict[str, int]:
    merged = dict(DEFAULTS)
    for key, value in (raw or {}).items():
        if key in merged and value not in (None, ""):
            try:
                merged[key] = int(value)
            except (TypeError, ValueError):
                raise InvalidInput(f"deployment default {key}={value!r} is not an integer") from None
    return merged


def parse_run_input(
    raw: Any,
    *,
    defaults: Mapping[str, Any] | None = None,
    started_at: datetime | str | None = None,
    max_connections: int = DEFAULT_MAX_CONNECTIONS_PER_RUN,
) -> RunOptions:
    """Validate the execution input and return the normalised options.

    Args:
        raw: the execution input, as given to StartExecution.
        defaults: deployment defaults (from the state machine's substitutions).
        started_at: the execution's start; the run deadline is this plus the sync timeout.
        max_connections: the most distinct ``connector_ids`` a run takes (``MAX_CONNECTIONS_PER_RUN``).

    Raises ``InvalidInput`` naming the field.
    """
    if not isinstance(raw, Mapping):
        raise _fail(f"the input must be a JSON object (got {type(raw).__name__})")
    _unknown_keys(raw, TOP_LEVEL_KEYS, "")
    group_ids = _parse_group_ids(raw)
    group_id: str | None
    connector_ids: tuple[str, ...] = ()
    if group_ids:
        group_id = group_ids[0] if len(group_ids) == 1 else None
    else:
        group_id, connector_ids = _parse_targets(raw, max_connections)
        group_ids = (group_id,) if group_id else ()
    base = _defaults(defaults)
    timeout = base["sync_timeout_seconds"]
    if "sync_timeout_seconds" in raw:
        timeout = _positive_int(raw["sync_timeout_seconds"], "sync_timeout_seconds")
    if not 2 <= timeout <= MAX_TIMEOUT_SECONDS:
        # HeartbeatSeconds must stay below TimeoutSeconds, and both are whole seconds.
        raise _fail(
            f"'sync_timeout_seconds' must be at least 2 and at most {MAX_TIMEOUT_SECONDS} (got {timeout})"
        )
    start = parse_timestamp(started_at) if isinstance(started_at, str) else started_at
    start = start or utcnow()
    # AWS requires HeartbeatSeconds < TimeoutSeconds.
    heartbeat = max(1, min(base["heartbeat_seconds"], timeout - 1)) if timeout > 1 else 1
    return RunOptions(
        group_id=group_id,
        connector_ids=connector_ids,
        paused=_choice(raw, "paused", PAUSED_POLICIES, "skip"),
        on_sync_failure=_choice(raw, "on_sync_failure", FAILURE_POLICIES, "fail"),
        sync_timeout_seconds=timeout,
        heartbeat_seconds=heartbeat,
        max_concurrency=max(0, base["max_concurrency"]),
        dbt_timeout_seconds=max(1, base["dbt_timeout_seconds"]),
        deadline=format_asl_timestamp(start + timedelta(seconds=timeout)),
        dbt=_parse_dbt(raw.get("dbt")),
        group_ids=group_ids,
        retry_of=_retry_of(raw),
    )
