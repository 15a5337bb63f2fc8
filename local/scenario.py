"""Scenario files (YAML) for the local runtime: which connections exist and how each sync plays out.

The format is documented in ``local/README.md``. Unknown keys are an error naming the key,
and so is a scenario that cannot be played (no connections, duplicate ids, bad values).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "AlreadySyncingSpec",
    "ApiOutageSpec",
    "ConnectorSpec",
    "FivetranSpec",
    "MidRunSpec",
    "Scenario",
    "ScenarioError",
    "ScheduledSyncSpec",
    "load_scenario",
    "parse_scenario",
]

OUTCOMES = ("success", "failure", "failure_with_task", "canceled", "rescheduled", "never_ends")
KNOWN_SERVICES = ("stripe", "hubspot", "salesforce", "postgres", "zendesk")
WEBHOOK_EVENTS = ("sync_start", "sync_end")
GENERATE_MAX_COUNT = 100_000
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ScenarioError(ValueError):
    """The scenario file is not valid; the message names the key."""


@dataclass(frozen=True)
class SyncSpec:
    duration_s: float = 1.0
    outcome: str = "success"
    reason: str = ""
    rescheduled_for_s: float = 2.0
    rows: int = 50
    resume_duration_s: float | None = None  # None: duration_s

    @property
    def resume_s(self) -> float:
        return self.duration_s if self.resume_duration_s is None else self.resume_duration_s


@dataclass(frozen=True)
class WebhookSpec:
    drop: bool = False
    duplicate: int = 0
    delay_s: float = 0.0
    bad_signature: bool = False
    fail_first: int = 0


@dataclass(frozen=True)
class ApiSpec:
    rate_limit_first: int = 0
    server_error_first: int = 0
    trigger_status: int = 0  # 0: triggers are answered as usual


@dataclass(frozen=True)
class AlreadySyncingSpec:
    remaining_s: float = 1.0
    outcome: str = "success"
    reason: str = ""


@dataclass(frozen=True)
class ScheduledSyncSpec:
    start_s: float = 0.0
    duration_s: float = 1.0
    outcome: str = "success"
    reason: str = ""


@dataclass(frozen=True)
class MidRunSpec:
    at_s: float = 0.0
    paused: bool = False
    setup_state: str = ""  # broken | incomplete
    deleted: bool = False


@dataclass(frozen=True)
class ApiOutageSpec:
    start_s: float = 0.0
    duration_s: float = 1.0
    status: int = 503


@dataclass(frozen=True)
class FivetranSpec:
    clock_offset_s: float = 0.0
    webhook_events: tuple[str, ...] = WEBHOOK_EVENTS
    api_outage: ApiOutageSpec | None = None


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
    already_syncing: AlreadySyncingSpec | None = None
    scheduled_syncs: tuple[ScheduledSyncSpec, ...] = ()
    mid_run: MidRunSpec | None = None


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
    fivetran: FivetranSpec = field(default_factory=FivetranSpec)

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


OPTIONAL_FLOATS = {"resume_duration_s"}


def _fields(data: dict[str, Any], cls: type, where: str) -> Any:
    names = {f.name for f in cls.__dataclass_fields__.values()}  # type: ignore[attr-defined]
    _keys(data, names, where)
    defaults = cls()
    values = {}
    for name in names:
        default = getattr(defaults, name)
        if name in OPTIONAL_FLOATS:
            values[name] = None if data.get(name) is None else _typed(data, name, float, None, where)
            continue
        kind: type | tuple[type, ...] = type(default)
        values[name] = _typed(data, name, kind, default, where)
    return cls(**values)


def _sub(raw: dict[str, Any], key: str, cls: type, where: str) -> Any:
    return _fields(_mapping(raw.get(key), f"{where}{key}"), cls, f"{where}{key}.")


def _outcome(value: str, where: str) -> None:
    if value not in OUTCOMES:
        raise ScenarioError(f"{where} must be one of {', '.join(OUTCOMES)} (got {value!r})")


def _already_syncing(raw: dict[str, Any], where: str) -> AlreadySyncingSpec | None:
    if raw.get("already_syncing") is None:
        return None
    spec = _sub(raw, "already_syncing", AlreadySyncingSpec, where)
    _outcome(spec.outcome, f"{where}already_syncing.outcome")
    return spec


def _scheduled_syncs(raw: dict[str, Any], where: str) -> tuple[ScheduledSyncSpec, ...]:
    items = raw.get("scheduled_syncs")
    if items is None:
        return ()
    if not isinstance(items, list):
        raise ScenarioError(f"{where}scheduled_syncs must be a list")
    specs = []
    for i, item in enumerate(items):
        at = f"{where}scheduled_syncs[{i}]"
        spec = _fields(_mapping(item, at), ScheduledSyncSpec, f"{at}.")
        _outcome(spec.outcome, f"{at}.outcome")
        specs.append(spec)
    return tuple(specs)


def _mid_run(raw: dict[str, Any], where: str) -> MidRunSpec | None:
    if raw.get("mid_run") is None:
        return None
    spec = _sub(raw, "mid_run", MidRunSpec, where)
    changes = [name for name in ("paused", "setup_state", "deleted") if getattr(spec, name)]
    if len(changes) != 1:
        raise ScenarioError(
            f"{where}mid_run needs exactly one of paused: true, setup_state: broken|incomplete, deleted: true"
        )
    if spec.setup_state and spec.setup_state not in ("broken", "incomplete"):
        raise ScenarioError(f"{where}mid_run.setup_state must be broken or incomplete")
    return spec


def _fivetran(raw: dict[str, Any]) -> FivetranSpec:
    data = _mapping(raw.get("fivetran"), "fivetran")
    _keys(data, {"clock_offset_s", "webhook_events", "api_outage"}, "fivetran.")
    offset = data.get("clock_offset_s", 0.0)
    if isinstance(offset, bool) or not isinstance(offset, int | float):
        raise ScenarioError(f"fivetran.clock_offset_s must be a number of seconds (got {offset!r})")
    events = data.get("webhook_events", list(WEBHOOK_EVENTS))
    if not isinstance(events, list) or not events or any(e not in WEBHOOK_EVENTS for e in events):
        raise ScenarioError(
            f"fivetran.webhook_events must be a non-empty list of {', '.join(WEBHOOK_EVENTS)} "
            f"(got {events!r})"
        )
    outage = None
    if data.get("api_outage") is not None:
        outage = _sub(data, "api_outage", ApiOutageSpec, "fivetran.")
        if not 400 <= outage.status <= 599:
            raise ScenarioError("fivetran.api_outage.status must be an HTTP error status (400-599)")
    return FivetranSpec(clock_offset_s=float(offset), webhook_events=tuple(events), api_outage=outage)


def _connector(raw: Any, index: int) -> ConnectorSpec:
    where = f"connectors[{index}]."
    raw = _mapping(raw, f"connectors[{index}]")
    _keys(
        raw,
        {
            "id",
            "service",
            "schema",
            "paused",
            "setup_state",
            "schedule_type",
            "sync",
            "webhook",
            "api",
            "already_syncing",
            "scheduled_syncs",
            "mid_run",
        },
        where,
    )
    cid = raw.get("id")
    if not isinstance(cid, str) or not cid.strip():
        raise ScenarioError(f"{where}id is required (a non-empty string)")
    service = _typed(raw, "service", str, cid.split("_")[0], where)
    sync = _sub(raw, "sync", SyncSpec, where)
    _outcome(sync.outcome, f"{where}sync.outcome")
    api = _sub(raw, "api", ApiSpec, where)
    if api.trigger_status and not 400 <= api.trigger_status <= 599:
        raise ScenarioError(f"{where}api.trigger_status must be an HTTP error status (400-599)")
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
        api=api,
        already_syncing=_already_syncing(raw, where),
        scheduled_syncs=_scheduled_syncs(raw, where),
        mid_run=_mid_run(raw, where),
    )


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{where} must be a number (got {value!r})")
    if value < 0:
        raise ScenarioError(f"{where} must not be negative")
    return float(value)


def generated_connectors(raw: Any) -> list[dict[str, Any]]:
    """The connections a scenario's ``generate`` key stands for, as ``connectors`` entries.

    ``{count: N, services: [s1, s2, ...], duration_s: D or [min, max], rows: R, seed: S}``: connection
    ``i`` (0 .. N-1) is ``<service>_<i>`` (``i`` zero-padded to the width of N - 1), its service the
    ``i % len(services)``-th, its schema its id; its syncs take ``D`` seconds, or a length drawn
    uniformly from ``[min, max]`` (milliseconds, the same for the same ``seed``), and write ``R`` rows."""
    data = _mapping(raw, "generate")
    _keys(data, {"count", "services", "duration_s", "rows", "seed"}, "generate.")
    count = data.get("count")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= GENERATE_MAX_COUNT:
        raise ScenarioError(
            f"generate.count must be a whole number from 1 to {GENERATE_MAX_COUNT} (got {count!r})"
        )
    services = data.get("services", list(KNOWN_SERVICES))
    if not isinstance(services, list) or not services:
        raise ScenarioError(f"generate.services must be a non-empty list of service names (got {services!r})")
    for service in services:
        if not isinstance(service, str) or not _IDENTIFIER.match(service):
            raise ScenarioError(
                f"generate.services: {service!r} is not a service name (letters, digits and _)"
            )
    duration = data.get("duration_s", 1.0)
    if isinstance(duration, list):
        if len(duration) != 2:
            raise ScenarioError(f"generate.duration_s must be a number or [min, max] (got {duration!r})")
        low, high = (_number(d, "generate.duration_s") for d in duration)
        if low > high:
            raise ScenarioError(f"generate.duration_s [min, max] needs min <= max (got {duration!r})")
    else:
        low = high = _number(duration, "generate.duration_s")
    rows = data.get("rows", 50)
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise ScenarioError(f"generate.rows must be a whole number >= 0 (got {rows!r})")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ScenarioError(f"generate.seed must be a whole number (got {seed!r})")
    rng = random.Random(seed)  # noqa: S311 - sync lengths, not secrets
    width = len(str(count - 1))
    made = []
    for i in range(count):
        service = services[i % len(services)]
        length = low if low == high else round(rng.uniform(low, high), 3)
        cid = f"{service}_{i:0{width}d}"
        made.append(
            {"id": cid, "service": service, "schema": cid, "sync": {"duration_s": length, "rows": rows}}
        )
    return made


def parse_scenario(raw: Any, name: str = "scenario") -> Scenario:
    raw = _mapping(raw, "the scenario")
    _keys(
        raw,
        {
            "name",
            "description",
            "group_id",
            "input",
            "connectors",
            "generate",
            "expect",
            "settings",
            "fivetran",
        },
        "",
    )
    connectors_raw = raw.get("connectors")
    if connectors_raw is None and raw.get("generate") is not None:
        connectors_raw = []
    if not isinstance(connectors_raw, list) or (not connectors_raw and raw.get("generate") is None):
        raise ScenarioError("connectors must be a non-empty list (or use generate)")
    if raw.get("generate") is not None:
        connectors_raw = connectors_raw + generated_connectors(raw["generate"])
    connectors = tuple(_connector(c, i) for i, c in enumerate(connectors_raw))
    ids = [c.id for c in connectors]
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        duplicates = sorted({i for i in ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
        raise ScenarioError(f"connector ids must be unique (duplicate: {duplicates})")
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
        {
            "max_concurrency",
            "heartbeat_seconds",
            "reconcile_interval_s",
            "reconcile_after_s",
            "timeout_s",
            "triggers_per_minute",
        },
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
        fivetran=_fivetran(raw),
    )


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc}") from exc
    return parse_scenario(raw, name=path.stem)
