"""``asl_parse_cache`` (``local/patches/sfn_parse_cache.py``): a definition is parsed once, and each
execution still runs on its own program."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.asl.antlr.runtime.ASLParser import ASLParser

from tests.conftest import REGION
from tests.functional.moto_support import ROLE, run_machine


def _echo_machine() -> dict[str, Any]:
    """A definition no other test has created (its comment is new), that answers its input's ``n``."""
    return {
        "Comment": f"parsed once {uuid.uuid4()}",
        "StartAt": "Echo",
        "States": {"Echo": {"Type": "Pass", "Parameters": {"n.$": "$.n"}, "End": True}},
    }


def test_a_definition_is_parsed_once_for_every_machine_and_execution_of_it(
    moto_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[int] = []
    original = ASLParser.state_machine

    def counted(self: ASLParser) -> Any:
        parsed.append(1)
        return original(self)

    monkeypatch.setattr(ASLParser, "state_machine", counted)
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
