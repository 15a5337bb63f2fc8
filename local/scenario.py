"""Scenario files (YAML) for the local runtime: which connections exist and how each sync plays out.

The format is documented in ``local/README.md``. Unknown keys are an error naming the key,
and so is a scenario that cannot be played (no connections, duplicate ids, bad values).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["ConnectorSpec", "Scenario", "ScenarioError", "load_scenario", "parse_scenario"]

OUTCOMES = ("success", "failure", "failure_with_task", "canceled", "rescheduled", "never_ends")
KNOWN_SERVICES = ("stripe", "hubspot", "salesforce", "postgres", "zendesk")


class ScenarioError(ValueError):
    """The scenario file is not valid; the message names the key."""


@dataclass(frozen=True)
class SyncSpec:
    duration_s: float = 1.0
    outcome: str = "success"
    reason: str = ""
    rescheduled_for_s: float = 2.0
    rows: int = 50


@dataclass(frozen=True)
class WebhookSpec:
    drop: bool = False
    duplicate: int = 0
    delay_s: float = 0.0
    bad_signature: bool = False


@dataclass(frozen=True)
class ApiSpec:
    rate_limit_first: int = 0
    server_error_first: int = 0


@dataclass(frozen=True)
class ConnectorSpec:
    id: str
    service: str
    schema: str
    paused: bool = False
    setup_state: str = "connected"
    schedule_type: str = "auto"
    sync: SyncSpec = field(default_factory=SyncSpec)
    webhook: WebhookSpec = field(default_factory=WebhookSpec)
    api: ApiSpec = field(default_factory=ApiSpec)


@dataclass(frozen=True)
class Expectation:
    status: str = "SUCCEEDED"
    dbt_ran: bool = True
    connectors: dict[str, str] = field(default_factory=dict)
    error: str | None = None  # the execution's error, e.g. Orchestrator.DbtFailed
    dbt_exit_code: int | None = None


@dataclass(frozen=True)
class Scenario:
    name: str
    group_id: str
    input: dict[str, Any]
    connectors: tuple[ConnectorSpec, ...]
    expect: Expectation
    settings: dict[str, Any] = field(default_factory=dict)

    def execution_input(self) -> dict[str, Any]:
        base: dict[str, Any] = {"group_id": self.group_id}
        base.update(self.input)
        return base


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ScenarioError(f"{where} must be a mapping")
    return value


def _keys(raw: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ScenarioError(f"unknown key {where}{unknown[0]!s} (allowed: {', '.join(sorted(allowed))})")


def _typed(raw: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any, where: str) -> Any:
    value = raw.get(key, default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and kind in (int, float):
        raise ScenarioError(f"{where}{key} must be a number")
    if not isinstance(value, kind):
        raise ScenarioError(f"{where}{key} must be {getattr(kind, '__name__', kind)} (got {value!r})")
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        raise ScenarioError(f"{where}{key} must not be negative")
    return value


def _sub(raw: dict[str, Any], key: str, cls: type, where: str) -> Any:
    data = _mapping(raw.get(key), f"{where}{key}")
    names = {f.name for f in cls.__dataclass_fields__.values()}  # type: ignore[attr-defined]
    _keys(data, names, f"{where}{key}.")
    defaults = cls()
    values = {}
    for name in names:
        default = getattr(defaults, name)
        kind: type | tuple[type, ...] = type(default)
        values[name] = _typed(data, name, kind, default, f"{where}{key}.")
    return cls(**values)


def _connector(raw: Any, index: int) -> ConnectorSpec:
    where = f"connectors[{index}]."
    raw = _mapping(raw, f"connectors[{index}]")
    _keys(
        raw,
        {"id", "service", "schema", "paused", "setup_state", "schedule_type", "sync", "webhook", "api"},
        where,
    )
    cid = raw.get("id")
    if not isinstance(cid, str) or not cid.strip():
        raise ScenarioError(f"{where}id is required (a non-empty string)")
    service = _typed(raw, "service", str, cid.split("_")[0], where)
    sync = _sub(raw, "sync", SyncSpec, where)
    if sync.outcome not in OUTCOMES:
        raise ScenarioError(
            f"{where}sync.outcome must be one of {', '.join(OUTCOMES)} (got {sync.outcome!r})"
        )
    setup_state = _typed(raw, "setup_state", str, "connected", where)
    if setup_state not in ("connected", "broken", "incomplete"):
        raise ScenarioError(f"{where}setup_state must be connected, broken or incomplete")
    schedule_type = _typed(raw, "schedule_type", str, "auto", where)
    if schedule_type not in ("auto", "manual"):
        raise ScenarioError(f"{where}schedule_type must be auto or manual")
    return ConnectorSpec(
        id=cid,
        service=service,
        schema=_typed(raw, "schema", str, cid, where),
        paused=_typed(raw, "paused", bool, False, where),
        setup_state=setup_state,
        schedule_type=schedule_type,
        sync=sync,
        webhook=_sub(raw, "webhook", WebhookSpec, where),
        api=_sub(raw, "api", ApiSpec, where),
    )


def parse_scenario(raw: Any, name: str = "scenario") -> Scenario:
    raw = _mapping(raw, "the scenario")
    _keys(raw, {"name", "description", "group_id", "input", "connectors", "expect", "settings"}, "")
    connectors_raw = raw.get("connectors")
    if not isinstance(connectors_raw, list) or not connectors_raw:
        raise ScenarioError("connectors must be a non-empty list")
    connectors = tuple(_connector(c, i) for i, c in enumerate(connectors_raw))
    ids = [c.id for c in connectors]
    if len(set(ids)) != len(ids):
        raise ScenarioError(
            f"connector ids must be unique (duplicate: {sorted({i for i in ids if ids.count(i) > 1})})"
        )
    expect_raw = _mapping(raw.get("expect"), "expect")
    _keys(expect_raw, {"status", "dbt_ran", "connectors", "error", "dbt_exit_code"}, "expect.")
    status = _typed(expect_raw, "status", str, "SUCCEEDED", "expect.")
    if status not in ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"):
        raise ScenarioError("expect.status must be SUCCEEDED, FAILED, TIMED_OUT or ABORTED")
    expected_connectors = _mapping(expect_raw.get("connectors"), "expect.connectors")
    for cid, outcome in expected_connectors.items():
        if cid not in ids:
            raise ScenarioError(f"expect.connectors.{cid} is not a connector of this scenario")
        if outcome not in ("succeeded", "failed", "timed_out", "skipped"):
            raise ScenarioError(f"expect.connectors.{cid} must be succeeded, failed, timed_out or skipped")
    settings = _mapping(raw.get("settings"), "settings")
    _keys(
        settings,
        {"max_concurrency", "heartbeat_seconds", "reconcile_interval_s", "reconcile_after_s", "timeout_s"},
        "settings.",
    )
    return Scenario(
        name=str(raw.get("name") or name),
        group_id=_typed(raw, "group_id", str, "demo_group", ""),
        input=_mapping(raw.get("input"), "input"),
        connectors=connectors,
        expect=Expectation(
            status=status,
            dbt_ran=_typed(expect_raw, "dbt_ran", bool, True, "expect."),
            connectors={str(k): str(v) for k, v in expected_connectors.items()},
            error=_typed(expect_raw, "error", (str, type(None)), None, "expect."),
            dbt_exit_code=_typed(expect_raw, "dbt_exit_code", (int, type(None)), None, "expect."),
        ),
        settings=settings,
    )


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc}") from exc
    return parse_scenario(raw, name=path.stem)
