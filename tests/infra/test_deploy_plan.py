"""The deploy (``deploy/``) without AWS: reading the template, rendering the definition, building the stack
parameters from deployed/<stage>.json and the params file, and what it tells the operator."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deploy.bootstrap import TEMPLATE_URL_LIMIT
from deploy.cli import main
from deploy.commands import DeployOptions, deploy
from deploy.errors import DeployError
from deploy.messages import config_warnings, next_steps, stage_environment
from deploy.template import (
    TEMPLATE_BODY_LIMIT,
    build_parameters,
    load_template,
    parse_overrides,
    read_params_file,
    render_template,
    template_body,
)
from infra.outputs import parse_deployed, stack_name, webhook_url
from statemachine.definition import without_comments

NETWORK = {"VpcId": "vpc-0123abcd", "SubnetIds": "subnet-0a1b2c3d,subnet-4e5f6a7b", "DbtImageTag": "2f1c9ab"}
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:fivetran-orchestrator-dev"
ARNS = {
    "ListConnectorsFunctionArn": f"{FUNCTION}-list_connectors",
    "StartSyncFunctionArn": f"{FUNCTION}-start_sync",
    "CollectOutcomesFunctionArn": f"{FUNCTION}-collect_outcomes",
    "TransformLeaseFunctionArn": f"{FUNCTION}-transform_lease",
    "NotifyRunFunctionArn": f"{FUNCTION}-notify_run",
    "ListConnectorsRoleName": "fivetran-orchestrator-dev-list_connectors",
    "CollectOutcomesRoleName": "fivetran-orchestrator-dev-collect_outcomes",
    "NotifyRunRoleName": "fivetran-orchestrator-dev-notify_run",
}


def params(template: dict[str, Any], **changes: Any) -> dict[str, str]:
    arguments: dict[str, Any] = {
        "app_name": "fivetran-orchestrator",
        "stage": "dev",
        "function_arns": ARNS,
        "file_params": NETWORK,
        "overrides": {},
    }
    arguments.update(changes)
    return build_parameters(template, **arguments)


def test_load_template_turns_short_tags_into_long_form_intrinsics(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(
        "Resources:\n"
        "  A:\n"
        "    Type: X\n"
        "    Properties:\n"
        "      Ref: !Ref Param\n"
        "      Att: !GetAtt Thing.Nested.Arn\n"
        "      Sub: !Sub ${AppName}-x\n"
        "      If: !If [Cond, !Ref A, !Ref AWS::NoValue]\n"
        "      Join: !Join [',', !Ref List]\n"
        "      Mode: 'OFF'\n"
        "Conditions:\n"
        "  C: !Equals [!Ref P, '']\n",
        encoding="utf-8",
    )

    template = load_template(path)

    properties = template["Resources"]["A"]["Properties"]
    assert properties["Ref"] == {"Ref": "Param"}
    assert properties["Att"] == {"Fn::GetAtt": ["Thing", "Nested.Arn"]}
    assert properties["Sub"] == {"Fn::Sub": "${AppName}-x"}
    assert properties["If"] == {"Fn::If": ["Cond", {"Ref": "A"}, {"Ref": "AWS::NoValue"}]}
    assert properties["Join"] == {"Fn::Join": [",", {"Ref": "List"}]}
    assert properties["Mode"] == "OFF"
    assert template["Conditions"]["C"] == {"Fn::Equals": [{"Ref": "P"}, ""]}


def test_load_template_refuses_a_file_that_is_not_a_template(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("just: text\n", encoding="utf-8")

    with pytest.raises(DeployError, match="not a CloudFormation template"):
        load_template(path)


def test_template_format_version_stays_a_string_so_the_json_body_is_valid(template: dict[str, Any]) -> None:
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"


def test_render_inlines_the_definition_and_leaves_the_template_untouched(
    template: dict[str, Any], definition_text: str
) -> None:
    rendered = render_template(template, definition_text)

    properties = rendered["Resources"]["StateMachine"]["Properties"]
    assert properties["Definition"] == without_comments(json.loads(definition_text))
    assert "Comment" not in json.dumps(properties["Definition"])
    assert "DefinitionString" not in properties
    stand_in = template["Resources"]["StateMachine"]["Properties"]["Definition"]
    assert stand_in["StartAt"] == "DefinitionNotRendered"


def test_render_refuses_a_definition_whose_placeholders_differ_from_the_substitutions(
    template: dict[str, Any], definition_text: str
) -> None:
    changed = definition_text.replace("${MaxConcurrency}", "${MaxParallelSyncs}")

    with pytest.raises(
        DeployError, match=r"not substituted \['MaxParallelSyncs'\], unused \['MaxConcurrency'\]"
    ):
        render_template(template, changed)


def test_render_refuses_a_definition_that_is_not_json(template: dict[str, Any]) -> None:
    with pytest.raises(DeployError, match="not valid JSON"):
        render_template(template, "{not json")


def test_rendered_body_leaves_room_to_grow_under_the_template_url_limit(
    template: dict[str, Any], definition_text: str
) -> None:
    body = template_body(render_template(template, definition_text))

    # The deploy sends the template through S3 (deploy/bootstrap.py): 1 MB, not TemplateBody's 51,200.
    assert len(body.encode()) < TEMPLATE_URL_LIMIT * 0.6
    assert "Comment" not in json.dumps(
        json.loads(body)["Resources"]["StateMachine"]["Properties"]["Definition"]
    )
    assert json.loads(body)["Resources"]["StateMachine"]["Type"] == "AWS::StepFunctions::StateMachine"


def test_a_body_over_the_inline_limit_is_still_rendered_for_s3() -> None:
    body = template_body({"Description": "x" * TEMPLATE_BODY_LIMIT})

    assert len(body.encode()) > TEMPLATE_BODY_LIMIT


def test_parse_deployed_picks_the_function_arns_the_role_and_the_rest_api_url(
    deployed_document: Callable[..., dict[str, Any]],
) -> None:
    deployment = parse_deployed(deployed_document("dev"), "dev")

    assert deployment.parameters == ARNS
    assert deployment.rest_api_url == "https://abc123defg.execute-api.us-east-1.amazonaws.com/api/"


def test_parse_deployed_names_the_functions_it_could_not_find(
    deployed_document: Callable[..., dict[str, Any]],
) -> None:
    document = deployed_document("dev")
    document["resources"] = [r for r in document["resources"] if r["name"] != "start_sync"]

    with pytest.raises(DeployError, match="no lambda_arn for start_sync"):
        parse_deployed(document, "dev")


def test_webhook_url_appends_the_route_to_the_stage_url_with_or_without_a_slash() -> None:
    expected = "https://abc.execute-api.us-east-1.amazonaws.com/api/webhooks/fivetran"

    assert webhook_url("https://abc.execute-api.us-east-1.amazonaws.com/api/") == expected
    assert webhook_url("https://abc.execute-api.us-east-1.amazonaws.com/api") == expected


def test_params_file_values_become_strings_lists_comma_joined_objects_as_json(tmp_path: Path) -> None:
    path = tmp_path / "params-dev.json"
    path.write_text(
        json.dumps(
            {
                "SubnetIds": ["subnet-1", "subnet-2"],
                "MaxConcurrency": 5,
                "ScheduleInput": {"group_id": "g1", "on_sync_failure": "continue"},
                "VpcId": "vpc-1",
            }
        ),
        encoding="utf-8",
    )

    assert read_params_file(path) == {
        "SubnetIds": "subnet-1,subnet-2",
        "MaxConcurrency": "5",
        "ScheduleInput": '{"group_id":"g1","on_sync_failure":"continue"}',
        "VpcId": "vpc-1",
    }


def test_a_missing_params_file_is_empty_and_a_malformed_one_is_refused(tmp_path: Path) -> None:
    assert read_params_file(tmp_path / "absent.json") == {}
    (tmp_path / "list.json").write_text("[1]", encoding="utf-8")
    with pytest.raises(DeployError, match="JSON object"):
        read_params_file(tmp_path / "list.json")


def test_parameter_overrides_split_on_the_first_equals_sign() -> None:
    assert parse_overrides(['ScheduleInput={"a":"b=c"}', "MaxConcurrency=4"]) == {
        "ScheduleInput": '{"a":"b=c"}',
        "MaxConcurrency": "4",
    }
    with pytest.raises(DeployError, match="KEY=VALUE"):
        parse_overrides(["MaxConcurrency"])


def test_parameters_take_arns_from_chalice_then_the_file_then_the_command_line(
    template: dict[str, Any],
) -> None:
    result = params(
        template, file_params={**NETWORK, "MaxConcurrency": "5"}, overrides={"MaxConcurrency": "7"}
    )

    assert result == {
        **ARNS,
        **NETWORK,
        "MaxConcurrency": "7",
        "AppName": "fivetran-orchestrator",
        "Stage": "dev",
    }


def test_parameters_refuse_unknown_names_and_setting_the_stage_by_hand(template: dict[str, Any]) -> None:
    with pytest.raises(DeployError, match=r"unknown stack parameter.*MaxParallelSyncs"):
        params(template, overrides={"MaxParallelSyncs": "3"})
    with pytest.raises(DeployError, match="Stage comes from the command line"):
        params(template, overrides={"Stage": "prod"})


def test_parameters_list_every_required_value_nobody_gave(template: dict[str, Any]) -> None:
    with pytest.raises(DeployError) as raised:
        params(template, file_params={})

    message = str(raised.value)
    assert "VpcId is required" in message
    assert "SubnetIds is required" in message
    assert "DbtImageTag is required" in message


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"AssignPublicIp": "YES"}, "is not one of"),
        ({"SecurityGroupId": "my-group"}, "does not match"),
        ({"MaxConcurrency": "-1"}, "below the minimum"),
        ({"MaxConcurrency": "10001"}, "above the maximum"),
        ({"HeartbeatSeconds": "120"}, "below the minimum"),
        ({"DbtTimeoutSeconds": "a while"}, "is not a number"),
        ({"DbtImageTag": "has spaces"}, "does not match"),
        ({"LogRetentionDays": "42"}, "is not one of"),
    ],
)
def test_parameters_refuse_values_cloudformation_would_reject(
    template: dict[str, Any], override: dict[str, str], complaint: str
) -> None:
    with pytest.raises(DeployError, match=complaint):
        params(template, overrides=override)


def test_stack_name_is_derived_from_app_and_stage() -> None:
    assert stack_name("fivetran-orchestrator", "prod") == "fivetran-orchestrator-prod-infra"


SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:fivetran-orchestrator/dev"
OUTPUTS = {
    "StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:fivetran-orchestrator-dev",
    "TokenTableName": "fivetran-orchestrator-dev-tokens",
    "RepositoryUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/fivetran-orchestrator-dev-dbt",
    "WebhookSecretArn": f"{SECRET}/webhook-secret-AbC123",
    "FivetranApiSecretArn": f"{SECRET}/fivetran-api-XyZ789",
    "WarehouseSecretArn": f"{SECRET}/warehouse-QwE456",
}


def test_config_matching_the_stack_by_secret_name_or_arn_gives_no_warning() -> None:
    environment = {
        "TOKEN_TABLE": "fivetran-orchestrator-dev-tokens",
        "FIVETRAN_WEBHOOK_SECRET_ARN": "fivetran-orchestrator/dev/webhook-secret",
        "FIVETRAN_API_SECRET_ARN": OUTPUTS["FivetranApiSecretArn"],
    }

    assert config_warnings(environment, OUTPUTS) == []


def test_config_pointing_elsewhere_is_reported() -> None:
    environment = {
        "TOKEN_TABLE": "tokens",
        "FIVETRAN_WEBHOOK_SECRET_ARN": "fivetran-orchestrator/prod/webhook-secret",
    }

    warnings = config_warnings(environment, OUTPUTS)

    assert len(warnings) == 2
    assert "TOKEN_TABLE is 'tokens'" in warnings[0]
    assert "FIVETRAN_WEBHOOK_SECRET_ARN" in warnings[1]


def test_stage_environment_merges_top_level_and_stage_variables() -> None:
    config = {
        "environment_variables": {"A": "top", "B": "top"},
        "stages": {"dev": {"environment_variables": {"B": "dev"}}},
    }

    assert stage_environment(config, "dev") == {"A": "top", "B": "dev"}
    assert stage_environment(config, "prod") == {"A": "top", "B": "top"}


def test_next_steps_name_the_webhook_url_secrets_image_and_registration() -> None:
    text = next_steps(
        stage="dev",
        region="us-east-1",
        outputs=OUTPUTS,
        params={"DbtImageTag": "2f1c9ab", "DbtCpuArchitecture": "ARM64", "DbtAdapter": "postgres"},
        url="https://abc.execute-api.us-east-1.amazonaws.com/api/webhooks/fivetran",
    )

    assert "Webhook URL: https://abc.execute-api.us-east-1.amazonaws.com/api/webhooks/fivetran" in text
    assert f"--secret-id {OUTPUTS['FivetranApiSecretArn']}" in text
    assert f"--secret-id {OUTPUTS['WarehouseSecretArn']}" in text
    assert (
        f"docker build --platform linux/arm64 --build-arg DBT_ADAPTER=postgres "
        f"-t {OUTPUTS['RepositoryUri']}:2f1c9ab dbt_container"
    ) in text
    assert "for dbt on postgres (JSON keys host, user, password, database, schema, port, sslmode)" in text
    assert "--password-stdin 123456789012.dkr.ecr.us-east-1.amazonaws.com" in text
    assert "orchestrator register-webhook --stage dev --group <group_id>" in text
    assert "Run notifications" not in text


def test_next_steps_say_where_the_slack_url_goes_and_to_confirm_the_email_when_notifications_are_on() -> None:
    secret = (
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:fivetran-orchestrator/dev/slack-webhook-AbCdEf"
    )
    outputs = {**OUTPUTS, "SlackWebhookSecretArn": secret, "RunNotificationsTopicArn": "arn:aws:sns:t"}
    text = next_steps(
        stage="dev", region="us-east-1", outputs=outputs, params={"NotifyEmail": "data@x.io"}, url=None
    )

    assert f"--secret-id {secret} \\\n         --secret-string https://hooks.slack.com/services/..." in text
    assert "confirm the subscription AWS mailed to data@x.io" in text


def test_dry_run_prints_the_plan_and_touches_neither_chalice_nor_aws(tmp_path: Path) -> None:
    params_file = tmp_path / "params-dev.json"
    params_file.write_text(json.dumps(NETWORK), encoding="utf-8")
    out = io.StringIO()

    def no_aws(region: str | None) -> Any:
        raise AssertionError("dry run created AWS clients")

    def no_chalice(*args: Any) -> None:
        raise AssertionError("dry run ran chalice")

    result = deploy(
        DeployOptions(stage="dev", params_file=params_file, dry_run=True, project_dir=tmp_path),
        clients_factory=no_aws,
        run=no_chalice,
        out=out,
    )

    assert result == {}
    printed = out.getvalue()
    assert "stand-ins until chalice deploy has run" in printed
    assert "stack fivetran-orchestrator-dev-infra" in printed
    assert "DbtImageTag=2f1c9ab" in printed
    assert "SubnetIds=subnet-0a1b2c3d,subnet-4e5f6a7b" in printed


def test_help_lists_the_three_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])

    assert exited.value.code == 0
    printed = capsys.readouterr().out
    assert all(command in printed for command in ("deploy", "destroy", "render"))


def test_the_local_stage_cannot_be_deployed(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["deploy", "--stage", "local"])

    assert exited.value.code == 2
    assert "invalid choice: 'local'" in capsys.readouterr().err


def test_a_deploy_error_is_printed_and_exits_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["deploy", "--stage", "dev", "--dry-run", "--params-file", str(tmp_path / "none.json")])

    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: no parameters file {tmp_path / 'none.json'}: ")
    assert "VpcId is required" in err
    assert err.count("\n") == 1


def test_render_writes_the_template_with_the_definition_inlined(tmp_path: Path, definition_text: str) -> None:
    output = tmp_path / "build" / "template.json"

    assert main(["render", "--output", str(output)]) == 0

    rendered = json.loads(output.read_text(encoding="utf-8"))
    assert rendered["Resources"]["StateMachine"]["Properties"]["Definition"] == without_comments(
        json.loads(definition_text)
    )


def test_missing_aws_credentials_are_reported_as_an_error_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    code = main(["destroy", "--stage", "dev", "--yes", "--region", "us-east-1"])

    assert code == 1
    assert capsys.readouterr().err.startswith("error: no AWS credentials: set AWS_PROFILE")
