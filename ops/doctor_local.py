"""``orchestrator doctor --local``: the checks that mean something for the local runtime of
``python -m local serve``: its state machine exists, its webhook secret is set, the Fivetran simulator
accepts the runtime's API key, and a webhook registered for the runtime's route is active and sends
the events the product needs. IAM is not simulated here (the runtime enforces its own, local/README.md),
and nothing is deployed, so secrets in Secrets Manager, the dbt image and the network are not checked.

The simulator delivers its events to the runtime's route whether or not a webhook is registered
(``local/fivetran_sim/registrations.py``); a registered one must still be active and complete, as on AWS.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from chalicelib.platform.errors import FivetranAuthError
from ops.doctor import Check
from ops.webhooks import CONNECTION_EVENTS_NOTE, REQUIRED_EVENTS, missing_connection_events

__all__ = ["check_local"]


def check_local(target: Any) -> Iterator[Check]:
    arn = target.state_machine_arn
    machine = target.stepfunctions().describe_state_machine(stateMachineArn=arn)
    yield Check("state machine", True, f"{machine['name']} exists")
    secret = target.webhook_secret()
    yield Check("webhook secret", bool(secret), "set" if secret else "empty: restart `python -m local serve`")
    try:
        hooks = target.fivetran().list_webhooks()
    except FivetranAuthError as exc:
        yield Check(
            "Fivetran API key", False, f"the simulator refused it ({exc}): restart `python -m local serve`"
        )
        return
    yield Check("Fivetran API key", True, "the simulator accepts it")
    url = target.webhook_url().rstrip("/")
    mine = [h for h in hooks if str(h.get("url", "")).rstrip("/") == url]
    if not mine:
        yield Check(
            "Fivetran webhook",
            True,
            f"none registered for {url}; the simulator delivers there anyway "
            "(`orchestrator register-webhook --local --group G` registers it as on AWS)",
        )
        return
    hook = mine[0]
    missing = [e for e in REQUIRED_EVENTS if e not in (hook.get("events") or [])]
    inactive = hook.get("active", True) is False
    ok = not missing and not inactive
    sent = [e for e in hook.get("events") or [] if isinstance(e, str)]
    detail = f"{hook.get('id')} is active and sends {', '.join(sent)} to {url}"
    short = missing_connection_events(hook)
    if short:
        detail += f" (not {', '.join(short)}: {CONNECTION_EVENTS_NOTE})"
    if not ok:
        detail = (
            f"{hook.get('id')} is {'inactive' if inactive else 'active'}"
            f"{' and does not send ' + ', '.join(missing) if missing else ''}: register it again"
            f"{'' if missing else ' (`orchestrator register-webhook --local --group G` re-activates it)'}"
        )
    yield Check("Fivetran webhook", ok, detail)
