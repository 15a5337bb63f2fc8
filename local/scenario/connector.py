"""One ``connectors`` entry of a scenario: the connection (id, service, schema, paused, setup and
schedule type) and how Fivetran plays it (``sync``, ``webhook``, ``api`` faults, a sync
``already_syncing`` when the run begins, ``scheduled_syncs``, a ``mid_run`` change)."""

from __future__ import annotations

from typing import Any

from local.scenario.fields import check_keys, check_outcome, dataclass_from, mapping, sub, typed
from local.scenario.model import (
    AlreadySyncingSpec,
    ApiSpec,
    ConnectorSpec,
    MidRunSpec,
    ScenarioError,
    ScheduledSyncSpec,
    SyncSpec,
    WebhookSpec,
)

CONNECTOR_KEYS = {
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
    "group_id",
}


def _already_syncing(raw: dict[str, Any], where: str) -> AlreadySyncingSpec | None:
    if raw.get("already_syncing") is None:
        return None
    spec = sub(raw, "already_syncing", AlreadySyncingSpec, where)
    check_outcome(spec.outcome, f"{where}already_syncing.outcome")
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
        spec = dataclass_from(mapping(item, at), ScheduledSyncSpec, f"{at}.")
        check_outcome(spec.outcome, f"{at}.outcome")
        specs.append(spec)
    return tuple(specs)


SINGLE_CHANGES = "paused: true, setup_state: broken|incomplete, deleted: true"
LISTED_CHANGES = "paused: true|false, setup_state: broken|incomplete, deleted: true, group_id: <group>"


def _mid_run_change(data: dict[str, Any], at: str, *, listed: bool) -> MidRunSpec:
    """One change; a resume (``paused: false``) and a move (``group_id``) only in the list form."""
    check_keys(data, {"at_s", "paused", "setup_state", "deleted", "group_id"}, f"{at}.")
    paused = data.get("paused")
    if paused is not None and not isinstance(paused, bool):
        raise ScenarioError(f"{at}.paused must be true or false (got {paused!r})")
    spec = MidRunSpec(
        at_s=typed(data, "at_s", float, 0.0, f"{at}."),
        paused=paused,
        setup_state=typed(data, "setup_state", str, "", f"{at}."),
        deleted=typed(data, "deleted", bool, False, f"{at}."),
        group_id=typed(data, "group_id", str, "", f"{at}."),
    )
    changes = [spec.paused is not None, bool(spec.setup_state), spec.deleted, bool(spec.group_id)]
    single_only = spec.paused is not False and not spec.group_id
    if sum(changes) != 1 or not (listed or single_only):
        raise ScenarioError(f"{at} needs exactly one of {LISTED_CHANGES if listed else SINGLE_CHANGES}")
    if spec.setup_state and spec.setup_state not in ("broken", "incomplete"):
        raise ScenarioError(f"{at}.setup_state must be broken or incomplete")
    return spec


def _mid_run(raw: dict[str, Any], where: str) -> tuple[MidRunSpec, ...]:
    """``mid_run``: one change (a mapping), or a list of changes, each at its own ``at_s``."""
    value = raw.get("mid_run")
    if value is None:
        return ()
    if isinstance(value, list):
        if not value:
            raise ScenarioError(f"{where}mid_run must not be an empty list")
        changes = [
            _mid_run_change(mapping(item, f"{where}mid_run[{i}]"), f"{where}mid_run[{i}]", listed=True)
            for i, item in enumerate(value)
        ]
        return tuple(sorted(changes, key=lambda c: c.at_s))
    return (_mid_run_change(mapping(value, f"{where}mid_run"), f"{where}mid_run", listed=False),)


def parse_connector(raw: Any, index: int) -> ConnectorSpec:
    """``connectors[index]``; the service defaults to the id's first ``_``-separated word, the schema
    to the id."""
    where = f"connectors[{index}]."
    raw = mapping(raw, f"connectors[{index}]")
    check_keys(raw, CONNECTOR_KEYS, where)
    cid = raw.get("id")
    if not isinstance(cid, str) or not cid.strip():
        raise ScenarioError(f"{where}id is required (a non-empty string)")
    service = typed(raw, "service", str, cid.split("_")[0], where)
    sync = sub(raw, "sync", SyncSpec, where)
    check_outcome(sync.outcome, f"{where}sync.outcome")
    api = sub(raw, "api", ApiSpec, where)
    if api.trigger_status and not 400 <= api.trigger_status <= 599:
        raise ScenarioError(f"{where}api.trigger_status must be an HTTP error status (400-599)")
    setup_state = typed(raw, "setup_state", str, "connected", where)
    if setup_state not in ("connected", "broken", "incomplete"):
        raise ScenarioError(f"{where}setup_state must be connected, broken or incomplete")
    schedule_type = typed(raw, "schedule_type", str, "auto", where)
    if schedule_type not in ("auto", "manual"):
        raise ScenarioError(f"{where}schedule_type must be auto or manual")
    return ConnectorSpec(
        id=cid,
        service=service,
        schema=typed(raw, "schema", str, cid, where),
        paused=typed(raw, "paused", bool, False, where),
        setup_state=setup_state,
        schedule_type=schedule_type,
        sync=sync,
        webhook=sub(raw, "webhook", WebhookSpec, where),
        api=api,
        already_syncing=_already_syncing(raw, where),
        scheduled_syncs=_scheduled_syncs(raw, where),
        mid_run=_mid_run(raw, where),
        group_id=typed(raw, "group_id", str, "", where).strip(),
    )
