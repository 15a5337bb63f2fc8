"""A whole scenario file: ``load_scenario`` reads the YAML, ``parse_scenario`` checks its top-level
keys and builds the ``Scenario``: the connections (listed, then ``generate``d; ids unique), what
the run should end as (``expect``), the orchestrator's ``settings`` and the account's ``fivetran``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from local.scenario.connector import parse_connector
from local.scenario.fields import check_keys, mapping, sub, typed
from local.scenario.generate import generated_connectors
from local.scenario.model import (
    DEFAULT_WEBHOOK_EVENTS,
    WEBHOOK_EVENTS,
    ApiKeyRotationSpec,
    ApiOutageSpec,
    Expectation,
    FivetranSpec,
    Scenario,
    ScenarioError,
    WebhookDisabledSpec,
)
from local.scenario.runs import parse_runs

SCENARIO_KEYS = {
    "name",
    "description",
    "group_id",
    "input",
    "connectors",
    "generate",
    "expect",
    "settings",
    "fivetran",
    "runs",
}
DEFERRAL_KEYS = ("min_deferrals", "max_deferrals", "max_deferrals_per_connection")
SETTINGS_KEYS = {
    "max_concurrency",
    "heartbeat_seconds",
    "reconcile_interval_s",
    "reconcile_after_s",
    "webhook_watchdog_s",
    "timeout_s",
    "fivetran_hourly_quota",
    "trigger_quota_share",
    "trigger_burst",
    "triggers_per_minute",
    "notify_slack_url",
    "pace",
}


def _fivetran(raw: dict[str, Any]) -> FivetranSpec:
    data = mapping(raw.get("fivetran"), "fivetran")
    check_keys(
        data,
        {"clock_offset_s", "webhook_events", "api_outage", "api_key_rotation", "webhook_disabled"},
        "fivetran.",
    )
    offset = data.get("clock_offset_s", 0.0)
    if isinstance(offset, bool) or not isinstance(offset, int | float):
        raise ScenarioError(f"fivetran.clock_offset_s must be a number of seconds (got {offset!r})")
    events = data.get("webhook_events", list(DEFAULT_WEBHOOK_EVENTS))
    # An empty list: the account has no webhook at all (the safety net alone finds every sync's end).
    if not isinstance(events, list) or any(e not in WEBHOOK_EVENTS for e in events):
        raise ScenarioError(
            f"fivetran.webhook_events must be a list of {', '.join(WEBHOOK_EVENTS)}, [] for no webhook "
            f"(got {events!r})"
        )
    outage = None
    if data.get("api_outage") is not None:
        outage = sub(data, "api_outage", ApiOutageSpec, "fivetran.")
        if not 400 <= outage.status <= 599:
            raise ScenarioError("fivetran.api_outage.status must be an HTTP error status (400-599)")
    rotation = None
    if data.get("api_key_rotation") is not None:
        rotation = sub(data, "api_key_rotation", ApiKeyRotationSpec, "fivetran.")
    disabled = None
    if data.get("webhook_disabled") is not None:
        disabled = sub(data, "webhook_disabled", WebhookDisabledSpec, "fivetran.")
    return FivetranSpec(
        clock_offset_s=float(offset),
        webhook_events=tuple(events),
        api_outage=outage,
        api_key_rotation=rotation,
        webhook_disabled=disabled,
    )


def parse_scenario(raw: Any, name: str = "scenario") -> Scenario:
    raw = mapping(raw, "the scenario")
    check_keys(raw, SCENARIO_KEYS, "")
    connectors_raw = raw.get("connectors")
    if connectors_raw is None and raw.get("generate") is not None:
        connectors_raw = []
    if not isinstance(connectors_raw, list) or (not connectors_raw and raw.get("generate") is None):
        raise ScenarioError("connectors must be a non-empty list (or use generate)")
    if raw.get("generate") is not None:
        connectors_raw = connectors_raw + generated_connectors(raw["generate"])
    connectors = tuple(parse_connector(c, i) for i, c in enumerate(connectors_raw))
    ids = [c.id for c in connectors]
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        duplicates = sorted({i for i in ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
        raise ScenarioError(f"connector ids must be unique (duplicate: {duplicates})")
    expect = parse_expect(raw.get("expect"), "expect", set(ids))
    settings = mapping(raw.get("settings"), "settings")
    check_keys(settings, SETTINGS_KEYS, "settings.")
    if not isinstance(settings.get("pace", False), bool):
        raise ScenarioError(f"settings.pace must be true or false (got {settings['pace']!r})")
    raw_by_id = {str(c.get("id")): c for c in connectors_raw if isinstance(c, dict)}
    return Scenario(
        name=str(raw.get("name") or name),
        group_id=typed(raw, "group_id", str, "demo_group", ""),
        input=mapping(raw.get("input"), "input"),
        connectors=connectors,
        expect=expect,
        settings=settings,
        fivetran=_fivetran(raw),
        runs=parse_runs(raw.get("runs"), raw_by_id, expect, parse_expect),
    )


def parse_expect(value: Any, where: str, ids: set[str]) -> Expectation:
    """An ``expect`` mapping (the scenario's, or one run's at ``where``)."""
    expect_raw = mapping(value, where)
    expect_keys = {"status", "dbt_ran", "connectors", "error", "dbt_exit_code", "cause_contains", "causes"}
    expect_keys.update(DEFERRAL_KEYS)
    expect_keys.update(("dbt_built", "dbt_not_built", "dbt_skipped", "connections_without_dbt_source"))
    check_keys(expect_raw, expect_keys, f"{where}.")
    status = typed(expect_raw, "status", str, "SUCCEEDED", f"{where}.")
    if status not in ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"):
        raise ScenarioError(f"{where}.status must be SUCCEEDED, FAILED, TIMED_OUT or ABORTED")
    expected_connectors = mapping(expect_raw.get("connectors"), f"{where}.connectors")
    for cid, outcome in expected_connectors.items():
        if cid not in ids:
            raise ScenarioError(f"{where}.connectors.{cid} is not a connector of this scenario")
        if outcome not in ("succeeded", "failed", "timed_out", "skipped"):
            raise ScenarioError(f"{where}.connectors.{cid} must be succeeded, failed, timed_out or skipped")
    causes = mapping(expect_raw.get("causes"), f"{where}.causes")
    for cid, text in causes.items():
        if cid not in ids:
            raise ScenarioError(f"{where}.causes.{cid} is not a connector of this scenario")
        if not isinstance(text, str) or not text:
            raise ScenarioError(f"{where}.causes.{cid} must be the text the connection's cause contains")
    return Expectation(
        status=status,
        dbt_ran=typed(expect_raw, "dbt_ran", bool, True, f"{where}."),
        connectors={str(k): str(v) for k, v in expected_connectors.items()},
        error=typed(expect_raw, "error", (str, type(None)), None, f"{where}."),
        dbt_exit_code=typed(expect_raw, "dbt_exit_code", (int, type(None)), None, f"{where}."),
        cause_contains=typed(expect_raw, "cause_contains", (str, type(None)), None, f"{where}."),
        causes={str(k): str(v) for k, v in causes.items()},
        **{key: typed(expect_raw, key, (int, type(None)), None, f"{where}.") for key in DEFERRAL_KEYS},
        dbt_built=_model_names(expect_raw, "dbt_built", where),
        dbt_not_built=_model_names(expect_raw, "dbt_not_built", where),
        dbt_skipped=typed(expect_raw, "dbt_skipped", (bool, type(None)), None, f"{where}."),
        connections_without_dbt_source=_unmatched_connections(expect_raw, where, ids),
    )


def _unmatched_connections(raw: dict[str, Any], where: str, ids: set[str]) -> tuple[str, ...] | None:
    """``connections_without_dbt_source``: the connections of this scenario the dbt task warns about."""
    key = "connections_without_dbt_source"
    if key not in raw:
        return None
    names = raw[key]
    if not isinstance(names, list) or not all(isinstance(n, str) and n in ids for n in names):
        raise ScenarioError(f"{where}.{key} must be a list of this scenario's connector ids (got {names!r})")
    return tuple(sorted(names))


def _model_names(raw: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    """``dbt_built`` / ``dbt_not_built``: a list of model names (strings)."""
    names = raw.get(key, [])
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise ScenarioError(f"{where}.{key} must be a list of model names (got {names!r})")
    return tuple(names)


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc}") from exc
    return parse_scenario(raw, name=path.stem)
