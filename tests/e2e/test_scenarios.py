"""Every scenario in local/scenarios/, played end to end in the local runtime.

Real state machine (moto), real handlers (in-process and behind ``chalice local``),
the Fivetran simulator posting signed webhooks, dbt on DuckDB. Each test asserts the
run report: final status, each connection's outcome, whether dbt ran and its exit
code, no token left behind, webhooks rejected only where the scenario says so.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from local.report import build_report, expectation_problems
from local.runtime import LocalRuntime
from local.scenario import load_scenario

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "local" / "scenarios").glob("*.yaml"))
# Runs of hundreds or thousands of connections take minutes: `make test` leaves them out (each says so in
# its description). RUN_SCALE_SCENARIOS=1 plays them too, e.g.
# `RUN_SCALE_SCENARIOS=1 pytest tests/e2e/test_scenarios.py -k hundred_connections`.
SCALE_SCENARIOS = {"hundred_connections", "twenty_five_hundred_connections"}
RUN_SCALE = os.environ.get("RUN_SCALE_SCENARIOS") == "1"
# Scenarios whose subject is dbt (it builds the landed sources, fails, or runs without the sources of
# failed connections, `schema.table` ones included) run the real dbt; the others the stand-in
# (local/dbt_standin.py: the same entrypoint, exit code, artifacts and summary, without dbt's seconds).
REAL_DBT = {
    "all_succeed",
    "dbt_fails",
    "one_fails_policy_continue",
    "schema_table_name",
    "sheets_connection_fails_continue",
}

pytestmark = pytest.mark.e2e


def _param(path: Path) -> object:
    marks = [pytest.mark.timeout(3600)] if path.stem in SCALE_SCENARIOS else []
    return pytest.param(path, id=path.stem, marks=marks)


# Not collected (rather than skipped) unless asked for: `make test` reports only what it ran.
PLAYED = [p for p in SCENARIOS if RUN_SCALE or p.stem not in SCALE_SCENARIOS]


@pytest.mark.parametrize("path", [_param(p) for p in PLAYED])
def test_scenario_ends_as_it_expects(path: Path, tmp_path: Path) -> None:
    scenario = load_scenario(path)
    dbt = "real" if path.stem in REAL_DBT else "stand-in"
    with LocalRuntime(scenario, workdir=tmp_path, dbt=dbt) as runtime:
        result = runtime.run()
        report = build_report(runtime, result)

    assert expectation_problems(runtime, report) == [], report
    assert report["tokens_left"] == 0
    # Rejected deliveries only where the scenario makes them fail (each is then redelivered).
    expects_rejection = any(c.webhook.bad_signature or c.webhook.fail_first for c in scenario.connectors)
    assert (report["webhooks"]["rejected"] > 0) == expects_rejection, report["webhooks"]
    if any(c.webhook.bad_signature for c in scenario.connectors):
        assert report["webhooks"]["by_status"].get("401", 0) >= 1
    if any(c.webhook.fail_first for c in scenario.connectors):
        assert report["webhooks"]["by_status"].get("503", 0) >= 1
    if report["dbt"]["ran"] and scenario.expect.status == "SUCCEEDED":
        assert report["dbt"]["exit_code"] == 0
        failed = sorted(
            spec.schema
            for spec in scenario.connectors
            if scenario.expect.connectors.get(spec.id) in ("failed", "timed_out")
        )
        assert sorted(report["dbt"]["exclude_sources"]) == failed
    syncing = [c for c in scenario.connectors if not c.paused and c.setup_state == "connected"]
    assert len(report["connectors"]) == len(syncing)
    assert report["fivetran_api_calls"]["by_endpoint"].get("POST /v1/connections/{id}/sync", 0) >= len(
        syncing
    )
