"""`.chalice/config.json`: stage options the deploy depends on.

Reserved concurrency for ``reconcile_syncs`` is an opt-in stage option: Lambda refuses any reservation
that would leave an account less than 10 unreserved concurrent executions, and new accounts often have a
quota of 10, so a default reservation would make `chalice deploy` fail there (docs/operate.md, "Limits").
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from chalice.config import Config

ROOT = Path(__file__).resolve().parents[2]
CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
FUNCTIONS = ("api_handler", "list_connectors", "start_sync", "transform_lease", "reconcile_syncs")


def _scoped(config: dict[str, Any], stage: str, function: str) -> Config:
    return Config(chalice_stage=stage, config_from_disk=config).scope(stage, function)


@pytest.mark.parametrize("stage", sorted(CONFIG["stages"]))
@pytest.mark.parametrize("function", FUNCTIONS)
def test_no_function_reserves_concurrency_by_default(stage: str, function: str) -> None:
    scoped = _scoped(CONFIG, stage, function)

    assert scoped.reserved_concurrency is None
    assert scoped.lambda_memory_size == 256  # the config really was read


def test_a_stage_can_opt_in_to_a_single_reconcile_runner() -> None:
    config = copy.deepcopy(CONFIG)
    config["stages"]["prod"]["lambda_functions"]["reconcile_syncs"]["reserved_concurrency"] = 1

    assert _scoped(config, "prod", "reconcile_syncs").reserved_concurrency == 1
    assert _scoped(config, "prod", "start_sync").reserved_concurrency is None
    assert _scoped(config, "dev", "reconcile_syncs").reserved_concurrency is None


def test_the_operators_guide_says_why_reservation_is_off_and_how_to_turn_it_on() -> None:
    guide = (ROOT / "docs" / "operate.md").read_text(encoding="utf-8")

    assert '"reserved_concurrency": 1' in guide
    assert "unreserved concurrency below 10" in guide


@pytest.mark.parametrize("stage", sorted(CONFIG["stages"]))
def test_every_stage_gives_the_transform_lease_a_short_timeout(stage: str) -> None:
    """One take or release is three small AWS calls; the state machine's TimeoutSeconds is 60."""
    assert _scoped(CONFIG, stage, "transform_lease").lambda_timeout == 30
