"""The local runtime holds every principal to the policies a dev deploy attaches (local/iam), so a run
passes only if the deployed roles would let it, and each policy as it was before issue 20 fails the run
with AWS's AccessDeniedException naming the role, the action and the resource."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import pytest

from chalicelib.platform.aws_calls import calls_of, render_resource
from local.iam.stage import Policies
from local.report import build_report, expectation_problems
from local.runtime import LocalRuntime
from local.scenario import load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
APP = "fivetran-orchestrator-local"
ONE_CONNECTION = {
    "description": "One connection syncs; the smallest run that makes every principal's calls.",
    "group_id": "iam_group",
    "connectors": [
        {"id": "stripe_prod", "service": "stripe", "schema": "stripe", "sync": {"duration_s": 0.3}}
    ],
    # A refused heartbeat ends the child within seconds, not after the default 20 s.
    "settings": {"heartbeat_seconds": 6},
    "expect": {"status": "SUCCEEDED", "dbt_ran": True, "connectors": {"stripe_prod": "succeeded"}},
}

pytestmark = pytest.mark.e2e
# IAM is the subject, not dbt: the stand-in is the task's own entrypoint (local/dbt_standin.py), which
# makes the dbt task's AWS calls (its exclusions read, its artifacts and summary kept in S3) as the
# dbt task's principal, without dbt's seconds of CPU.
DBT = "stand-in"


def play(tmp_path: Path, variant: Any = None) -> tuple[LocalRuntime, dict[str, Any]]:
    with LocalRuntime(
        parse_scenario(ONE_CONNECTION, name="iam"), workdir=tmp_path, iam_variant=variant, dbt=DBT
    ) as runtime:
        result = runtime.run(timeout=90)
        report = build_report(runtime, result)
    return runtime, report


def statements(policies: Policies, principal: str) -> list[dict[str, Any]]:
    return [s for document in policies[principal] for s in document["Statement"]]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def denial_text(runtime: LocalRuntime) -> str:
    assert runtime.iam is not None
    return "\n".join(d.message for d in runtime.iam.denials)


def test_the_demo_passes_with_iam_enforced_and_every_call_it_makes_is_in_the_table(tmp_path: Path) -> None:
    scenario = load_scenario(ROOT / "local" / "scenarios" / "demo.yaml")
    with LocalRuntime(scenario, workdir=tmp_path, dbt=DBT) as runtime:
        report = build_report(runtime, runtime.run())
        assert runtime.iam is not None

    assert expectation_problems(runtime, report) == [], report
    assert runtime.iam.denials == []
    made = runtime.iam.decisions
    assert {principal for principal, _, _ in made} >= {
        "list_connectors",
        "start_sync",
        "collect_outcomes",
        "api_handler",
        "reconcile_syncs",
        "state_machine",
        "dbt_task",
    }
    account = runtime.iam.account
    bucket = runtime.stack.artifacts_bucket if runtime.stack else ""
    unlisted = [
        call
        for call in sorted(made)
        if not any(
            row.action == call[1]
            and fnmatch.fnmatchcase(
                call[2],
                render_resource(
                    row,
                    region="us-east-1",
                    account=account,
                    app="fivetran-orchestrator",
                    stage="local",
                    pattern=True,
                    artifacts_bucket=bucket,
                    task_role=f"{APP}-dbt-task",
                    task_execution_role=f"{APP}-dbt-execution",
                ),
            )
            for row in calls_of(call[0])
        )
    ]
    assert unlisted == [], "calls the local runtime saw that chalicelib/platform/aws_calls.py does not list"


def test_callbacks_scoped_to_the_parent_state_machine_are_refused_for_a_child_executions_token(
    tmp_path: Path,
) -> None:
    def old_callback_scope(policies: Policies) -> None:
        for function in ("start_sync", "api_handler", "reconcile_syncs"):
            for statement in statements(policies, function):
                if any(str(a).startswith("states:SendTask") for a in as_list(statement["Action"])):
                    statement["Resource"] = [
                        f"arn:aws:states:*:*:stateMachine:{APP}",
                        f"arn:aws:states:*:*:execution:{APP}:*",
                    ]

    runtime, report = play(tmp_path, old_callback_scope)

    assert report["connectors"][0]["outcome"] == "timed_out", report["connectors"]
    assert report["execution"]["status"] == "FAILED"
    # The webhook (api_handler) or the safety net (reconcile_syncs), whichever resolves the sync first.
    refused = re.compile(
        rf"User: arn:aws:sts::123456789012:assumed-role/{APP}-(api_handler|reconcile_syncs)/\S+ is not "
        r"authorized to perform: (states:SendTask\w+) on resource: "
        rf"arn:aws:states:us-east-1:123456789012:stateMachine:{APP}/Sync because no identity-based policy "
        r"allows the \2 action"
    )
    assert refused.search(denial_text(runtime)), denial_text(runtime)
    assert f"assumed-role/{APP}-reconcile_syncs/{APP}-reconcile_syncs" in denial_text(runtime)


def test_run_files_granted_to_list_connectors_role_only_fail_the_run_at_collect_outcomes(
    tmp_path: Path,
) -> None:
    def run_files_to_the_first_role(policies: Policies) -> None:
        collect = policies["collect_outcomes"]
        granted = [d for d in collect if any("s3:" in str(s["Action"]) for s in d["Statement"])]
        for document in granted:
            collect.remove(document)
            policies["list_connectors"].append(document)

    runtime, report = play(tmp_path, run_files_to_the_first_role)

    assert report["execution"]["status"] == "FAILED"
    role = f"assumed-role/{APP}-collect_outcomes/{APP}-collect_outcomes"
    denied = f"{role} is not authorized to perform: s3:GetObject"
    assert denied in denial_text(runtime)
    assert "AccessDenied" in str(report["execution"]), report["execution"]
    assert "/map-runs/" in denial_text(runtime)


def test_describe_execution_on_child_executions_only_fails_the_map_run(tmp_path: Path) -> None:
    def children_only(policies: Policies) -> None:
        for statement in statements(policies, "state_machine"):
            if "states:DescribeExecution" in as_list(statement["Action"]):
                statement["Resource"] = [
                    r for r in as_list(statement["Resource"]) if f"execution:{APP}/" in r
                ]

    runtime, report = play(tmp_path, children_only)

    assert report["execution"]["status"] == "FAILED"
    assert (
        f"User: arn:aws:sts::123456789012:assumed-role/{APP}-sfn/StepFunctions is not authorized to perform: "
        f"states:DescribeExecution on resource: arn:aws:states:us-east-1:123456789012:execution:{APP}:"
    ) in denial_text(runtime)
    assert "AccessDeniedException" in str(report["execution"]), report["execution"]
