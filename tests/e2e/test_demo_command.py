"""The first command a new user runs: ``python -m local demo`` (what ``make demo`` calls)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.__main__ import DEFAULT_SCENARIO
from local.scenario import load_scenario
from tests.conftest import PATIENCE_S

ROOT = Path(__file__).resolve().parents[2]
LOGS = re.compile(r"^logs: (\S+) \(", re.MULTILINE)

# The demo's own patience (its scenario's timeout_s, which the report's duration is held to below) plus
# the suite's margin for a loaded machine (tests/conftest.py): starting Python, moto, chalice local and
# dbt takes seconds on an idle machine, minutes on a busy one. pytest-timeout's limit (300 s) would cut
# it first, so the tests that share the run get this one (it covers the fixture's run and the test).
DEMO_PATIENCE_S = load_scenario(DEFAULT_SCENARIO).settings.get("timeout_s", 120) + PATIENCE_S

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(DEMO_PATIENCE_S + 60)]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[subprocess.CompletedProcess, Path]]:
    """One ``python -m local demo`` with its output captured (a pipe: not a terminal), run as a user
    with AWS credentials in the environment would run it; its logs folder is removed afterwards."""
    report_path = tmp_path_factory.mktemp("demo") / "report.json"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "example"}
    done = subprocess.run(
        [sys.executable, "-m", "local", "demo", "--report", str(report_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEMO_PATIENCE_S,
    )
    yield done, report_path
    for folder in LOGS.findall(done.stdout):
        shutil.rmtree(folder, ignore_errors=True)


def test_demo_prints_progress_and_summary_and_exits_zero(
    demo_run: tuple[subprocess.CompletedProcess, Path],
) -> None:
    done, report_path = demo_run

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "summary" in done.stdout
    assert "the run ended as the scenario expects" in done.stdout
    report = json.loads(report_path.read_text())
    assert report["execution"]["status"] == "SUCCEEDED"
    assert {c["connector_id"]: c["outcome"] for c in report["connectors"]}["zendesk_support"] == "failed"
    assert report["dbt"] == {**report["dbt"], "ran": True, "exit_code": 0, "exclude_sources": ["zendesk"]}
    assert report["tokens_left"] == 0
    # Within the demo scenario's own patience (its timeout_s), whatever the machine's load.
    assert report["duration_s"] < load_scenario(DEFAULT_SCENARIO).settings.get("timeout_s", 120)


def test_demo_output_outside_a_terminal_is_clean(demo_run: tuple[subprocess.CompletedProcess, Path]) -> None:
    """In a log or a pipe: no escape codes, whole URL lines, the final table once, a title on its own line."""
    done, _ = demo_run
    lines = done.stdout.splitlines()

    assert "\x1b" not in done.stdout
    webhook = re.compile(r"webhook: http://127\.0\.0\.1:\d+/webhooks/fivetran")
    assert [line for line in lines if webhook.fullmatch(line)]
    assert [line for line in lines if re.fullmatch(r"Fivetran API: http://127\.0\.0\.1:\d+", line)]
    assert len([line for line in lines if re.search(r"run [0-9a-f]{8}  ·  SUCCEEDED", line)]) == 1
    assert [line.strip() for line in lines if "summary" in line] == ["summary"]
    progress = lines[: lines.index(next(line for line in lines if line.strip() == "summary"))]
    rows = {line.split("│")[1].strip(): line for line in progress if line.startswith("│")}
    assert "sync failed" in rows["zendesk_support"] and "failed" in rows["zendesk_support"]
    assert "sync succeeded" in rows["stripe_prod"]
    assert "scheduled" not in done.stdout


def test_demo_prints_progress_and_summary_and_where_the_logs_are_nothing_else(
    demo_run: tuple[subprocess.CompletedProcess, Path],
) -> None:
    """No EMF metric line, no JSON log record, no warning a user cannot act on: those go to the logs,
    whose folder the demo names (and the metrics are there)."""
    done, _ = demo_run

    assert '"_aws"' not in done.stdout
    assert [line for line in done.stdout.splitlines() if line.lstrip().startswith("{")] == []
    assert "Found credentials" not in done.stdout + done.stderr
    assert done.stderr.strip() == ""
    (folder,) = LOGS.findall(done.stdout)
    logs = Path(folder)
    assert {"handlers.log", "chalice-local.log", "dbt-1.log"} <= {p.name for p in logs.glob("*.log")}
    assert '"_aws"' in (logs / "handlers.log").read_text(encoding="utf-8")  # the metrics, kept
    # Each run's files, kept beside the logs (local/README.md): outcomes, dbt's summary, the run's log lines.
    assert f"run files: {logs / 'runs'}/<run>/ (outcomes, dbt artifacts, logs)" in done.stdout
    (run,) = (logs / "runs").iterdir()
    assert json.loads((run / "execution.json").read_text())["status"] == "SUCCEEDED"
    assert (run / "outcomes.json").exists() and (run / "dbt" / "summary.json").exists()
    assert (run / "logs" / "run.log").read_text(encoding="utf-8")


def test_demo_refuses_a_scenario_with_an_unknown_key(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.yaml"
    scenario.write_text("connectors:\n  - id: a\n    colour: blue\n")

    done = subprocess.run(
        [sys.executable, "-m", "local", "demo", "--scenario", str(scenario)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode != 0
    assert "colour" in done.stderr
    assert "Traceback" not in done.stderr
