"""The scenario key ``fivetran.webhook_disabled`` (local/README.md): when Fivetran disables the account's
webhook, and the local watchdog's cadence ``settings.webhook_watchdog_s``."""

from __future__ import annotations

import pytest

from local.scenario import ScenarioError, parse_scenario

CONNECTORS = [{"id": "stripe_prod"}]


def test_webhook_disabled_says_when_and_is_absent_by_default() -> None:
    disabled = parse_scenario(
        {
            "fivetran": {"webhook_disabled": {"at_s": 3}},
            "settings": {"webhook_watchdog_s": 1},
            "connectors": CONNECTORS,
        }
    )
    plain = parse_scenario({"connectors": CONNECTORS})

    assert disabled.fivetran.webhook_disabled is not None
    assert disabled.fivetran.webhook_disabled.at_s == 3.0
    assert disabled.settings["webhook_watchdog_s"] == 1
    assert plain.fivetran.webhook_disabled is None


def test_an_unknown_key_of_webhook_disabled_is_an_error_naming_it() -> None:
    with pytest.raises(ScenarioError, match=r"fivetran\.webhook_disabled\.when"):
        parse_scenario({"fivetran": {"webhook_disabled": {"when": 3}}, "connectors": CONNECTORS})
