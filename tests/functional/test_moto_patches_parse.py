"""``asl_parse_cache`` (``local/patches/sfn_parse_cache.py``): a definition is parsed once, and each
execution still runs on its own program."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser

from local import moto_patches
from local.provision import APP_NAME, provision
from tests.conftest import REGION
from tests.functional.moto_support import ROLE, run_machine


def _echo_machine() -> dict[str, Any]:
    """A definition no other test has created (its comment is new), that answers its input's ``n``."""
    return {
        "Comment": f"parsed once {uuid.uuid4()}",
        "StartAt": "Echo",
        "States": {"Echo": {"Type": "Pass", "Parameters": {"n.$": "$.n"}, "End": True}},
    }


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One item per ANTLR parse of a definition from now on (moto's ``ASLParser.state_machine``)."""
    parsed: list[int] = []
    original = ASLParser.state_machine

    def counted(self: ASLParser) -> Any:
        parsed.append(1)
        return original(self)

    monkeypatch.setattr(ASLParser, "state_machine", counted)
    return parsed


def test_a_definition_is_parsed_once_for_every_machine_and_execution_of_it(
    moto_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed = _count_parses(monkeypatch)
    definition = _echo_machine()

    described = [run_machine(definition, {"n": n}) for n in (1, 2, 3)]  # three machines, one run each

    assert [d["status"] for d in described] == ["SUCCEEDED"] * 3
    assert [json.loads(d["output"]) for d in described] == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert len(parsed) == 1


def test_a_definition_that_does_not_parse_is_refused_every_time(moto_aws: None) -> None:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    broken = json.dumps({"StartAt": "Nowhere", "States": {"Nowhere": {"Type": "Teleport", "End": True}}})

    for attempt in range(2):
        with pytest.raises(ClientError):
            sfn.create_state_machine(name=f"broken-{attempt}", definition=broken, roleArn=ROLE)


def _provisioned_definition(stage: str) -> tuple[str, str]:
    """A local stack in the current moto account: its state machine's definition and security group."""
    clients = {
        s: boto3.client(s, region_name=REGION)
        for s in ("dynamodb", "lambda", "iam", "ecs", "ec2", "stepfunctions", "s3")
    }
    stack = provision(clients, stage=stage)
    described = clients["stepfunctions"].describe_state_machine(stateMachineArn=stack.state_machine_arn)
    (group,) = clients["ec2"].describe_security_groups(GroupNames=[f"{APP_NAME}-{stage}-dbt"])[
        "SecurityGroups"
    ]
    return described["definition"], group["GroupId"]


def test_local_stacks_in_fresh_accounts_have_one_definition_text_so_moto_parses_it_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    moto_patches.install()
    parsed = _count_parses(monkeypatch)
    definitions = []
    for _ in range(2):  # two fresh accounts, as two tests or two local runtimes have
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            definitions.append(_provisioned_definition("parsed-once")[0])

    assert definitions[0] == definitions[1]  # the default subnets and the group: the same ids
    assert len(parsed) <= 1  # none if this process has parsed that definition before


def test_a_second_local_stack_in_the_same_account_gets_a_security_group_of_its_own(moto_aws: None) -> None:
    first = _provisioned_definition("first")[1]
    second = _provisioned_definition("second")[1]
    groups = boto3.client("ec2", region_name=REGION).describe_security_groups()["SecurityGroups"]

    assert first != second
    assert len({g["GroupId"] for g in groups}) == len(groups) == 3  # the VPC's default group and these two
