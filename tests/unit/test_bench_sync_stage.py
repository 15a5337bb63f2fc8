"""The sync-stage benchmark reads its runs as the issue states the figure: stage over one sync."""

from __future__ import annotations

from benchmarks.report.sync_stage import sync_stage_section
from benchmarks.sync_stage import StageRun


def run(stage_s: float | None, last_trigger_s: float = 9.0, first_end_s: float = 7.0) -> StageRun:
    return StageRun("SUCCEEDED", 100, 5.0, stage_s, 1.0, last_trigger_s, first_end_s)


def test_the_ratio_is_the_stage_over_one_sync():
    assert run(17.5).ratio == 3.5
    assert run(None).ratio is None


def test_every_trigger_must_come_before_the_first_end():
    assert run(17.5, last_trigger_s=6.0, first_end_s=7.0).all_triggered_before_first_end
    assert not run(17.5, last_trigger_s=9.0, first_end_s=7.0).all_triggered_before_first_end


def test_the_section_reports_each_run_and_the_median():
    text = sync_stage_section([run(15.0), run(20.0), run(17.5)], asked=3)

    assert text.startswith("## 9. The sync stage of 100 connections")
    assert "`local/scenarios/hundred_connections.yaml`" in text
    assert "| 2 | SUCCEEDED | 20.0 | 4.00 |" in text
    assert "**3.50 times** one sync's duration over 3 of 3 runs" in text
