"""The scenario's ``runs`` list: several executions on one runtime (one warehouse, token table and
artifacts bucket), each with its own connection changes, input, start time and ``expect``.

A run's ``connectors`` maps a connection id to fields that replace that connection's entry for this
run (a given key replaces the whole key: ``sync: {rows: 0}`` is this run's whole ``sync``, its other
keys at their defaults). Only how Fivetran plays the run's syncs may change: ``RUN_CONNECTOR_KEYS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from local.scenario.connector import parse_connector
from local.scenario.fields import check_keys, mapping, number
from local.scenario.model import Expectation, RunSpec, ScenarioError

RUN_KEYS = {"connectors", "input", "start_s", "expect"}
# What a run may change of a connection: how its syncs, webhooks and API calls play, and whether it
# is paused, set up or manual. Not its id, service or schema (the warehouse's tables), nor the
# scenario-timed keys (already_syncing, scheduled_syncs, mid_run: they count from the scenario's zero).
RUN_CONNECTOR_KEYS = {"sync", "webhook", "api", "paused", "setup_state", "schedule_type"}


def _run_connectors(value: Any, where: str, raw_by_id: dict[str, dict[str, Any]]) -> dict[str, Any]:
    changes = mapping(value, where)
    specs = {}
    for cid, fields in changes.items():
        if cid not in raw_by_id:
            raise ScenarioError(f"{where}.{cid} is not a connector of this scenario")
        fields = mapping(fields, f"{where}.{cid}")
        check_keys(fields, RUN_CONNECTOR_KEYS, f"{where}.{cid}.")
        try:
            specs[str(cid)] = parse_connector({**raw_by_id[cid], **fields}, 0)
        except ScenarioError as exc:  # name the run's key, not the scenario's connectors[0]
            raise ScenarioError(str(exc).replace("connectors[0].", f"{where}.{cid}.")) from exc
    return specs


def parse_runs(
    value: Any,
    raw_by_id: dict[str, dict[str, Any]],
    default_expect: Expectation,
    parse_expect: Callable[[Any, str, set[str]], Expectation],
) -> tuple[RunSpec, ...]:
    """``runs`` (absent: ``()``, one run as the scenario says). A run without ``expect`` expects what
    the scenario's ``expect`` says."""
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        raise ScenarioError("runs must be a non-empty list of runs")
    runs = []
    for i, item in enumerate(value):
        where = f"runs[{i}]"
        item = mapping(item, where)
        check_keys(item, RUN_KEYS, f"{where}.")
        start = item.get("start_s")
        runs.append(
            RunSpec(
                connectors=_run_connectors(item.get("connectors"), f"{where}.connectors", raw_by_id),
                input=mapping(item.get("input"), f"{where}.input"),
                start_s=None if start is None else number(start, f"{where}.start_s"),
                expect=default_expect
                if item.get("expect") is None
                else parse_expect(item["expect"], f"{where}.expect", set(raw_by_id)),
            )
        )
    return tuple(runs)
