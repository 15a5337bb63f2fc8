"""Fixtures of the operator CLI's tests: one local runtime per module, and the CLI itself.

``served`` starts ``python -m local serve`` (the scenario is the module's ``SCENARIO``, else
``scenarios/ops.yaml``) with a state file in a temporary folder, waits for that file, and stops
the process with SIGTERM after the module. ``orchestrator(*args)`` runs the click command
in-process with ``ORCHESTRATOR_STATE_FILE`` pointing at that runtime, so ``--local`` finds it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from click.testing import Result

from contracts.state_file import STATE_FILE_ENV
from tests.ops.support import SCENARIOS, Served, invoke, start_serve, stop_serve_process


@pytest.fixture(scope="module")
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    scenario = getattr(request.module, "SCENARIO", SCENARIOS / "ops.yaml")
    running = start_serve(scenario, tmp_path_factory.mktemp("serve"))
    yield running
    stop_serve_process(running.process)


@pytest.fixture
def orchestrator(served: Served) -> Callable[..., Result]:
    def run(*args: str) -> Result:
        return invoke(list(args), env={STATE_FILE_ENV: str(served.state_file)})

    return run
