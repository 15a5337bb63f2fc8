"""A parsed scenario: the dataclasses the simulator and the runtime read, their defaults (a key a
scenario leaves out), the values a few keys accept, and ``ScenarioError``.

Parsing and validation live in ``fields``, ``connector``, ``generate`` and ``parse``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.webhook.events import SUBSCRIBED_EVENTS

OUTCOMES = ("success", "failure", "failure_with_task", "canceled", "rescheduled", "never_ends")
KNOWN_SERVICES = ("stripe", "hubspot", "salesforce", "postgres", "zendesk")
# What ``fivetran.webhook_events`` may list: every event the product's webhook acts on.
WEBHOOK_EVENTS = SUBSCRIBED_EVENTS
# Its default: a webhook that sends the sync events only (as one registered before the connection
# events were), so a paused, deleted or broken connection is found by the safety net unless the
# scenario lists pause_connector, delete_connector or connection_failure.
DEFAULT_WEBHOOK_EVENTS = ("sync_start", "sync_end")


class ScenarioError(ValueError):
    """The scenario file is not valid; the message names the key."""


@dataclass(frozen=True)
class SyncSpec:
    """A connection's ``sync``: how a triggered sync plays out (and a resumed one, after a reschedule)."""

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
    """A connection's ``webhook``: the faults of its triggered syncs' webhooks."""

    drop: bool = False
    duplicate: int = 0
    delay_s: float = 0.0
    bad_signature: bool = False
    fail_first: int = 0


@dataclass(frozen=True)
class ApiSpec:
    """A connection's ``api``: the faults of API calls about it."""

    rate_limit_first: int = 0
    server_error_first: int = 0
    trigger_status: int = 0  # 0: triggers are answered as usual


@dataclass(frozen=True)
class AlreadySyncingSpec:
    """A connection's ``already_syncing``: a sync running at the run's zero, ending ``remaining_s`` later."""

    remaining_s: float = 1.0
    outcome: str = "success"
    reason: str = ""


@dataclass(frozen=True)
class ScheduledSyncSpec:
    """One of a connection's ``scheduled_syncs``: a sync Fivetran starts ``start_s`` into the run."""

    start_s: float = 0.0
    duration_s: float = 1.0
    outcome: str = "success"
    reason: str = ""


@dataclass(frozen=True)
class MidRunSpec:
    """One ``mid_run`` change at ``at_s``: paused (``paused: true``) or resumed (``paused: false``),
    setup ``broken``/``incomplete``, ``deleted``, or moved to another group (``group_id``)."""

    at_s: float = 0.0
    paused: bool | None = None  # None: no change to paused
    setup_state: str = ""  # broken | incomplete
    deleted: bool = False
    group_id: str = ""


@dataclass(frozen=True)
class ApiOutageSpec:
    """``fivetran.api_outage``: every API call in the window gets ``status``."""

    start_s: float = 0.0
    duration_s: float = 1.0
    status: int = 503


@dataclass(frozen=True)
class ApiKeyRotationSpec:
    """``fivetran.api_key_rotation``: at ``at_s`` the API key is rotated: the new pair is put in the
    orchestrator's API secret and Fivetran refuses the old pair (401) from then on."""

    at_s: float = 0.0


@dataclass(frozen=True)
class WebhookDisabledSpec:
    """``fivetran.webhook_disabled``: at ``at_s`` Fivetran disables the account's webhook (as after about
    24 hours of failed deliveries): nothing more is delivered and ``GET /v1/webhooks`` lists it with
    ``active: false`` until ``PATCH /v1/webhooks/{id}`` activates it again."""

    at_s: float = 0.0


@dataclass(frozen=True)
class FivetranSpec:
    """``fivetran``: the account as a whole (its clock, its webhook's events, an API outage, a key
    rotation, its webhook disabled)."""

    clock_offset_s: float = 0.0
    webhook_events: tuple[str, ...] = DEFAULT_WEBHOOK_EVENTS
    api_outage: ApiOutageSpec | None = None
    api_key_rotation: ApiKeyRotationSpec | None = None
    webhook_disabled: WebhookDisabledSpec | None = None


@dataclass(frozen=True)
class ConnectorSpec:
    """One ``connectors`` entry (or one connection ``generate`` made)."""

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
    mid_run: tuple[MidRunSpec, ...] = ()  # in the order they happen
    group_id: str = ""  # the group it belongs to ("": the scenario's group_id)


@dataclass(frozen=True)
class Expectation:
    """``expect``: how the run should end."""

    status: str = "SUCCEEDED"
    dbt_ran: bool = True
    connectors: dict[str, str] = field(default_factory=dict)
    error: str | None = None  # the execution's error, e.g. Orchestrator.DbtFailed
    dbt_exit_code: int | None = None
    cause_contains: str | None = None  # text the execution's cause must hold
    causes: dict[str, str] = field(default_factory=dict)  # connection -> text its cause contains
    # Budget deferrals in the run (the report's ``deferrals``): at least / at most, and per connection.
    min_deferrals: int | None = None
    max_deferrals: int | None = None
    max_deferrals_per_connection: int | None = None
    dbt_built: tuple[str, ...] = ()  # models the run must build (report's dbt.models_built has them)
    dbt_not_built: tuple[str, ...] = ()  # models the run must not build
    dbt_skipped: bool | None = None  # the report's dbt.skipped (None: not checked)
    # the connections the dbt task warns have no dbt source (None: not checked)
    connections_without_dbt_source: tuple[str, ...] | None = None


@dataclass(frozen=True)
class RunSpec:
    """One item of ``runs``: one execution of the state machine on the scenario's runtime.

    ``connectors``: the connections this run plays differently, each as its whole ``ConnectorSpec``
    (the scenario's entry with this run's fields replacing its own). ``input``: merged into the
    scenario's run input. ``start_s``: seconds from the scenario's zero (None: once the previous run
    ended). ``expect``: how this run should end.
    """

    connectors: dict[str, ConnectorSpec] = field(default_factory=dict)
    input: dict[str, Any] = field(default_factory=dict)
    start_s: float | None = None
    expect: Expectation = field(default_factory=Expectation)


@dataclass(frozen=True)
class Scenario:
    """A whole scenario file."""

    name: str
    group_id: str
    input: dict[str, Any]
    connectors: tuple[ConnectorSpec, ...]
    expect: Expectation
    settings: dict[str, Any] = field(default_factory=dict)
    fivetran: FivetranSpec = field(default_factory=FivetranSpec)
    runs: tuple[RunSpec, ...] = ()  # empty: one run, the scenario's own input and expect

    def execution_input(self, run: RunSpec | None = None) -> dict[str, Any]:
        """The scenario's group, unless the run's input names ``connector_ids`` or ``group_ids`` (a run
        takes one of them), then the scenario's ``input`` and the run's."""
        extra = {**self.input, **(run.input if run is not None else {})}
        targets = "connector_ids" in extra or "group_ids" in extra
        base: dict[str, Any] = {} if targets else {"group_id": self.group_id}
        base.update(extra)
        return base

    @property
    def group_ids(self) -> tuple[str, ...]:
        """Every group of the account: the scenario's, then each connection's own and the groups
        ``mid_run`` moves connections to, in order of appearance."""
        groups = [self.group_id]
        for spec in self.connectors:
            groups += [spec.group_id] + [change.group_id for change in spec.mid_run]
        return tuple(dict.fromkeys(g for g in groups if g))

    @property
    def multi_run(self) -> bool:
        """Whether the scenario has a ``runs`` list (its report then has ``runs``)."""
        return bool(self.runs)
