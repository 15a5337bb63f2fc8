"""moto's ``SimulatePrincipalPolicy`` (``local/patches/iam_simulate.py``): moto 5.2.6 does not implement
it; the patch evaluates a role's identity policies as AWS's simulator does, for `orchestrator doctor`
and the deploy's preflight. Each test states the AWS behaviour it restores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.moto_patches import install
from local.patches.iam_simulate import evaluate

REGION = "us-east-1"
TRUST = {"Version": "2012-10-17", "Statement": []}
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:Put*"], "Resource": "arn:aws:s3:::bucket/runs/*"},
        {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::bucket/runs/locked/*"},
        {
            "Effect": "Allow",
            "Action": "ecs:RunTask",
            "Resource": "*",
            "Condition": {"ArnEquals": {"ecs:cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/c"}},
        },
    ],
}


@pytest.fixture
def role_arn(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    install()
    with mock_aws():
        iam = boto3.client("iam", REGION)
        arn = iam.create_role(RoleName="runner", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
        iam.put_role_policy(RoleName="runner", PolicyName="inline", PolicyDocument=json.dumps(POLICY))
        yield iam, arn


def decisions(iam: Any, arn: str, actions: list[str], resource: str, **context: str) -> dict[str, str]:
    entries = [
        {"ContextKeyName": k.replace("__", ":"), "ContextKeyValues": [v], "ContextKeyType": "string"}
        for k, v in context.items()
    ]
    answer = iam.simulate_principal_policy(
        PolicySourceArn=arn, ActionNames=actions, ResourceArns=[resource], ContextEntries=entries
    )
    return {r["EvalActionName"]: r["EvalDecision"] for r in answer["EvaluationResults"]}


def test_a_role_is_allowed_what_its_policy_grants_on_that_resource_and_nothing_else(
    role_arn: tuple[Any, str],
) -> None:
    iam, arn = role_arn

    granted = decisions(
        iam, arn, ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "arn:aws:s3:::bucket/runs/a"
    )
    elsewhere = decisions(iam, arn, ["s3:GetObject"], "arn:aws:s3:::bucket/map-runs/a")

    assert granted == {
        "s3:GetObject": "allowed",
        "s3:PutObject": "allowed",
        "s3:DeleteObject": "implicitDeny",
    }
    assert elsewhere == {"s3:GetObject": "implicitDeny"}


def test_an_explicit_deny_wins_over_an_allow(role_arn: tuple[Any, str]) -> None:
    iam, arn = role_arn

    assert decisions(iam, arn, ["s3:PutObject"], "arn:aws:s3:::bucket/runs/locked/a") == {
        "s3:PutObject": "explicitDeny"
    }


def test_a_condition_holds_only_with_the_context_value_it_names(role_arn: tuple[Any, str]) -> None:
    iam, arn = role_arn
    cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/c"

    assert decisions(iam, arn, ["ecs:RunTask"], "*", ecs__cluster=cluster) == {"ecs:RunTask": "allowed"}
    assert decisions(iam, arn, ["ecs:RunTask"], "*", ecs__cluster=cluster + "x") == {
        "ecs:RunTask": "implicitDeny"
    }
    assert decisions(iam, arn, ["ecs:RunTask"], "*") == {"ecs:RunTask": "implicitDeny"}


def test_attached_managed_policies_count_too(role_arn: tuple[Any, str]) -> None:
    iam, arn = role_arn
    managed = iam.create_policy(
        PolicyName="read-map-runs",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="runner", PolicyArn=managed)

    assert decisions(iam, arn, ["s3:GetObject"], "arn:aws:s3:::bucket/map-runs/a") == {
        "s3:GetObject": "allowed"
    }


def test_actions_match_case_insensitively_and_resources_case_sensitively() -> None:
    assert evaluate([POLICY], "S3:getobject", "arn:aws:s3:::bucket/runs/a") == "allowed"
    assert evaluate([POLICY], "s3:GetObject", "arn:aws:s3:::BUCKET/runs/a") == "implicitDeny"


def test_a_log_groups_cfn_arn_ends_in_star_as_on_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS::Logs::LogGroup's Arn return value is ``...:log-group:<name>:*``, so a policy on it covers
    every stream of the group."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    install()
    template = {
        "Resources": {"Logs": {"Type": "AWS::Logs::LogGroup", "Properties": {"LogGroupName": "/ecs/x"}}},
        "Outputs": {"Arn": {"Value": {"Fn::GetAtt": ["Logs", "Arn"]}}},
    }
    with mock_aws():
        cfn = boto3.client("cloudformation", REGION)
        cfn.create_stack(StackName="logs", TemplateBody=json.dumps(template))
        (output,) = cfn.describe_stacks(StackName="logs")["Stacks"][0]["Outputs"]

    assert output["OutputValue"] == "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/x:*"
