"""The safety net's webhook watchdog as the operator sees it, against ``python -m local serve`` whose
simulated Fivetran disabled the account's webhook at once (``fivetran.webhook_disabled``): ``doctor``
shows the disabled webhook and the watchdog's verdict, ``runs`` warns, and ``register-webhook``
re-activates the webhook (no duplicate), after which the simulator delivers again and doctor passes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from ops.target import LocalTarget
from ops.webhook_health import last_check
from tests.ops.support import Served

SCENARIO = Path(__file__).resolve().parent / "scenarios" / "webhook_disabled.yaml"
WAIT_S = 60  # the watchdog checks every safety-net pass here (about every second)


def wait_for_state(served: Served, state: str) -> None:
    target = LocalTarget(served.state, served.state_file)
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        record = last_check(target)
        if record is not None and record.verdict is not None and record.verdict.state == state:
            return
        time.sleep(0.2)
    pytest.fail(f"the watchdog never found the webhook {state}: {last_check(target)}")


def test_doctor_and_runs_show_the_disabled_webhook_and_register_webhook_re_activates_it(
    served: Served, orchestrator: Callable[..., Result]
) -> None:
    wait_for_state(served, "inactive")

    doctor = orchestrator("doctor", "--local")
    runs = orchestrator("runs", "--local")

    assert doctor.exit_code == 1, doctor.output
    assert "✘ Fivetran webhook: webhook_account is inactive" in doctor.output
    assert "✘ webhook watchdog: inactive at " in doctor.output
    assert "orchestrator register-webhook --local --group <group_id> re-activates it" in doctor.output
    assert runs.exit_code == 0, runs.output
    assert "warning: webhook inactive (checked " in runs.output

    again = orchestrator("register-webhook", "--local", "--group", "ops_group")

    assert again.exit_code == 0, again.output
    assert again.output.startswith("re-activated Fivetran webhook webhook_account for group ops_group: ")
    hooks = LocalTarget(served.state, served.state_file).fivetran().list_webhooks()
    assert [(h["id"], h["active"]) for h in hooks] == [("webhook_account", True)]
    wait_for_state(served, "ok")
    healthy = orchestrator("doctor", "--local")
    assert healthy.exit_code == 0, healthy.output
    assert "✔ webhook watchdog: ok at " in healthy.output
    assert "warning: webhook" not in orchestrator("runs", "--local").output
