"""The first command a new user runs: ``python -m local demo`` (what ``make demo`` calls)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def test_demo_prints_progress_and_summary_and_exits_zero(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "local", "demo", "--report", str(report_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "summary" in done.stdout
    assert "the run ended as the scenario expects" in done.stdout
    report = json.loads(report_path.read_text())
    assert report["execution"]["status"] == "SUCCEEDED"
    assert {c["connector_id"]: c["outcome"] for c in report["connectors"]}["zendesk_support"] == "failed"
    assert report["dbt"] == {**report["dbt"], "ran": True, "exit_code": 0, "exclude_sources": ["zendesk"]}
    assert report["tokens_left"] == 0
    assert report["duration_s"] < 60


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
