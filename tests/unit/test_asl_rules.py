"""The house rules for the ASL (``statemachine/rules.py``) and the validator's CLI
(``python -m statemachine.validate``): each rule fires on a small bad definition and stays quiet on a
good one; the CLI exits non-zero on a bad file and zero on the real definition."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from statemachine.definition import ASL_PATH
from statemachine.rules import check
from statemachine.validate import main, validate

ROOT = Path(__file__).resolve().parents[2]
RETRY = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 1}]
CATCH = [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}]
FAILED = {"Type": "Fail", "Error": "Orchestrator.Failed", "Cause": "something failed"}


def good() -> dict[str, Any]:
    """A small definition every rule accepts: a Task with a token, a Choice, a Map, Succeed and Fail."""
    return {
        "StartAt": "Work",
        "States": {
            "Work": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "TimeoutSeconds": 60,
                "HeartbeatSecondsPath": "$.heartbeat",
                "Retry": RETRY,
                "Catch": CATCH,
                "Next": "Decide",
            },
            "Decide": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.ok", "BooleanEquals": True, "Next": "Each"}],
                "Default": "Failed",
            },
            "Each": {
                "Type": "Map",
                "ItemProcessor": {
                    "StartAt": "Inner",
                    "States": {"Inner": {"Type": "Pass", "End": True}},
                },
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
            "Failed": dict(FAILED),
        },
    }


def with_change(path: list[str], value: Any = None, *, delete: bool = False) -> dict[str, Any]:
    definition = copy.deepcopy(good())
    node: Any = definition
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return definition


def test_the_small_good_definition_passes_every_rule() -> None:
    assert check(good()) == []


def test_the_real_definition_passes_every_rule() -> None:
    assert check(json.loads(ASL_PATH.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize(
    ("definition", "problem"),
    [
        (with_change(["States", "Work", "Retry"], delete=True), "/Work: Task has no Retry"),
        (with_change(["States", "Work", "Catch"], delete=True), "/Work: Task has no Catch"),
        (
            with_change(["States", "Work", "TimeoutSeconds"], delete=True),
            "/Work: waitForTaskToken Task has no TimeoutSeconds",
        ),
        (
            with_change(["States", "Work", "HeartbeatSecondsPath"], delete=True),
            "/Work: waitForTaskToken Task has no HeartbeatSeconds",
        ),
        (with_change(["States", "Failed", "Error"], delete=True), "/Failed: Fail state has no Error"),
        (with_change(["States", "Failed", "Cause"], delete=True), "/Failed: Fail state has no Cause"),
        (with_change(["StartAt"], "Nowhere"), ": StartAt 'Nowhere' is not a state"),
        (
            with_change(["States", "Decide", "Default"], "Nowhere"),
            "/Decide: transition to unknown state 'Nowhere'",
        ),
        (
            with_change(["States", "Each", "ItemProcessor", "States", "Inner", "End"], delete=True),
            "/Each/Inner: Pass state has neither Next nor End",
        ),
        (
            with_change(["States", "Each", "Next"], delete=True),
            "/Each: Map state has neither Next nor End",
        ),
        (
            with_change(["States", "Orphan"], {"Type": "Succeed"}),
            "/Orphan: unreachable",
        ),
    ],
    ids=[
        "task-retry",
        "task-catch",
        "token-timeout",
        "token-heartbeat",
        "fail-error",
        "fail-cause",
        "start-at",
        "unknown-target",
        "map-inner-no-end",
        "no-next-no-end",
        "unreachable",
    ],
)
def test_each_rule_fires_on_a_small_bad_definition(definition: dict[str, Any], problem: str) -> None:
    assert problem in check(definition)


def test_a_top_level_path_must_end_in_succeed_or_fail_but_a_map_branch_may_end_anywhere() -> None:
    top_level = with_change(["States", "Done"], {"Type": "Pass", "End": True})

    assert "/Done: a top-level path ends in a Pass, not in Succeed or a named Fail" in check(top_level)
    assert not [p for p in check(good()) if "/Each/Inner" in p]


def test_a_task_without_a_token_needs_no_timeout_or_heartbeat() -> None:
    plain = with_change(["States", "Work", "Resource"], "arn:aws:states:::lambda:invoke")
    del plain["States"]["Work"]["TimeoutSeconds"]
    del plain["States"]["Work"]["HeartbeatSecondsPath"]

    assert check(plain) == []


def test_validate_reports_a_file_that_is_not_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad.asl.json"
    bad.write_text("{not json", encoding="utf-8")

    [problem] = validate(bad)
    assert "not valid JSON" in problem


def test_validate_names_a_placeholder_without_a_sample_value(tmp_path: Path) -> None:
    definition = good()
    definition["States"]["Work"]["Resource"] = "${NoSuchPlaceholder}"
    path = tmp_path / "placeholder.asl.json"
    path.write_text(json.dumps(definition), encoding="utf-8")

    assert any("NoSuchPlaceholder" in problem for problem in validate(path))


def test_main_exits_non_zero_on_a_bad_file_and_says_which(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.asl.json"
    bad.write_text(json.dumps(with_change(["States", "Work", "Retry"], delete=True)), encoding="utf-8")

    assert main([str(bad)]) == 1
    captured = capsys.readouterr()
    assert f"{bad}: INVALID" in captured.out
    assert "Task has no Retry" in captured.err


@pytest.mark.slow
def test_the_cli_exits_non_zero_on_a_bad_file_and_zero_on_the_real_definition(tmp_path: Path) -> None:
    bad = tmp_path / "bad.asl.json"
    bad.write_text(json.dumps(with_change(["States", "Failed", "Cause"], delete=True)), encoding="utf-8")

    def run(*files: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "statemachine.validate", *map(str, files)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    # One process for both files (each start imports moto's ASL parser): the bad one fails the run.
    done = run(bad, ASL_PATH)
    assert done.returncode != 0
    assert "Fail state has no Cause" in done.stderr
    assert f"{bad}: INVALID" in done.stdout
    assert f"{ASL_PATH}: ok" in done.stdout
