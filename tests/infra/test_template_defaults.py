"""One owner per fact: the run defaults in ``chalicelib/run/run_input.py`` and the values the local runtime
provisions (``local/provision.py``) are the template's parameter defaults (``infra/template.yaml``),
read from all three sides, never written down here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.run.run_input import DEFAULTS
from infra import InfraError
from infra.template import load_template, parameter_defaults, token_table_spec
from local.provision import provision

# run_input.DEFAULTS key -> template parameter (the state machine passes the parameter's value as that key).
RUN_INPUT_PARAMETERS = {
    "sync_timeout_seconds": "SyncTimeoutSeconds",
    "heartbeat_seconds": "HeartbeatSeconds",
    "max_concurrency": "MaxConcurrency",
    "dbt_timeout_seconds": "DbtTimeoutSeconds",
}
REGION = "us-east-1"


def test_run_input_defaults_are_the_template_parameter_defaults() -> None:
    template = parameter_defaults()

    assert set(DEFAULTS) == set(RUN_INPUT_PARAMETERS)
    assert {key: DEFAULTS[key] for key in RUN_INPUT_PARAMETERS} == {
        key: int(template[parameter]) for key, parameter in RUN_INPUT_PARAMETERS.items()
    }


def test_the_local_runtime_provisions_the_template_parameter_defaults(aws: None) -> None:
    clients: dict[str, Any] = {
        service: boto3.client(service, region_name=REGION)
        for service in ("dynamodb", "lambda", "iam", "ecs", "ec2", "stepfunctions", "s3")
    }
    stack = provision(clients, stage="defaults")
    template = parameter_defaults()

    tunables = list(RUN_INPUT_PARAMETERS.values())
    assert {name: stack.substitutions[name] for name in tunables} == {
        name: str(template[name]) for name in tunables
    }
    # Not a parameter: a literal of the template's DefinitionSubstitutions.
    literal = load_template()["Resources"]["StateMachine"]["Properties"]["DefinitionSubstitutions"]
    assert stack.substitutions["DbtRelaunchWaitSeconds"] == literal["DbtRelaunchWaitSeconds"]


def test_the_one_loader_reads_short_tags_in_their_long_form() -> None:
    template = load_template()
    machine = template["Resources"]["StateMachine"]["Properties"]

    assert machine["DefinitionSubstitutions"]["MaxConcurrency"] == {"Ref": "MaxConcurrency"}
    assert template["Resources"]["TokenTable"]["Properties"]["KeySchema"] == token_table_spec()["KeySchema"]


def test_a_file_that_is_not_a_template_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "not-a-template.yaml"
    path.write_text("just: text\n", encoding="utf-8")

    with pytest.raises(InfraError, match="not a CloudFormation template"):
        load_template(path)
