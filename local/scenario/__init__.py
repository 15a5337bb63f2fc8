"""Scenario files (YAML) for the local runtime: which connections exist and how each sync plays out.

The format is documented in ``local/README.md`` (the files themselves are in ``local/scenarios/``).
Unknown keys are an error naming the key, and so is a scenario that cannot be played (no
connections, duplicate ids, bad values).

- ``model``: the parsed scenario (``Scenario``, ``ConnectorSpec`` and its parts) and ``ScenarioError``;
- ``fields``: the shared checks that turn a YAML mapping into one of those dataclasses;
- ``connector``: one ``connectors`` entry;
- ``generate``: the ``generate`` key, connections made by rule;
- ``runs``: the ``runs`` list, several executions on one runtime;
- ``parse``: the whole file (``load_scenario``, ``parse_scenario``): ``fivetran``, ``expect``, ``settings``.
"""

from __future__ import annotations

from local.scenario.model import (
    AlreadySyncingSpec,
    ApiKeyRotationSpec,
    ApiOutageSpec,
    ApiSpec,
    ConnectorSpec,
    Expectation,
    FivetranSpec,
    MidRunSpec,
    RunSpec,
    Scenario,
    ScenarioError,
    ScheduledSyncSpec,
    SyncSpec,
    WebhookSpec,
)
from local.scenario.parse import load_scenario, parse_scenario

__all__ = [
    "AlreadySyncingSpec",
    "ApiKeyRotationSpec",
    "ApiOutageSpec",
    "ApiSpec",
    "ConnectorSpec",
    "Expectation",
    "FivetranSpec",
    "MidRunSpec",
    "RunSpec",
    "Scenario",
    "ScenarioError",
    "ScheduledSyncSpec",
    "SyncSpec",
    "WebhookSpec",
    "load_scenario",
    "parse_scenario",
]
