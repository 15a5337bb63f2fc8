"""infra/template.yaml: lint-clean, wired to the real state machine definition, names derived from app and
stage, and IAM that grants only what the orchestrator uses."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from deploy.template import TEMPLATE_PATH, definition_placeholders, render_template
from infra.warehouse_secret import ADAPTERS, DEFAULTS, GENERATED_KEY, SECRET_KEYS, env_name, required_keys

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "dbt_container"))
from task.warehouses import ADAPTERS as TASK_ADAPTERS
from task.warehouses import WAREHOUSE_KEYS

# The ${...} placeholders the ASL may use, as the brief for the state machine fixed them.
CONTRACT_SUBSTITUTIONS = {
    "ListConnectorsFunctionArn",
    "StartSyncFunctionArn",
    "CollectOutcomesFunctionArn",
    "TransformLeaseFunctionArn",
    "DbtTarget",
    "ClusterArn",
    "TaskDefinitionFamily",
    "ArtifactsBucket",
    "DbtLogGroupName",
    "DbtRelaunchWaitSeconds",
    "SubnetIds",
    "SecurityGroupIds",
    "AssignPublicIp",
    "MaxConcurrency",
    "HeartbeatSeconds",
    "SyncTimeoutSeconds",
    "DbtTimeoutSeconds",
}
RECONCILE_INTERVAL_SECONDS = 300


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in role["Properties"]["Policies"] for s in policy["PolicyDocument"]["Statement"]]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def lint_messages(text: str) -> list[str]:
    matches = lint(text, config=ManualArgs(regions=["us-east-1", "eu-west-1"], include_checks=["I"]))
    return [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches]


def test_template_passes_cfn_lint_with_no_errors_warnings_or_informational_findings() -> None:
    assert lint_messages(TEMPLATE_PATH.read_text(encoding="utf-8")) == []


def test_rendered_template_with_the_real_definition_passes_cfn_lint(
    template: dict[str, Any], definition_text: str
) -> None:
    rendered = render_template(template, definition_text)

    assert lint_messages(json.dumps(rendered, indent=1)) == []


def test_definition_placeholders_are_exactly_the_definition_substitutions(
    resources: dict[str, Any], definition_text: str
) -> None:
    substitutions = resources["StateMachine"]["Properties"]["DefinitionSubstitutions"]

    assert definition_placeholders(definition_text) == set(substitutions)
    assert set(substitutions) == CONTRACT_SUBSTITUTIONS


def test_definition_substitutions_wire_the_parameters_and_resources_the_definition_expects(
    resources: dict[str, Any],
) -> None:
    substitutions = resources["StateMachine"]["Properties"]["DefinitionSubstitutions"]

    assert substitutions["ListConnectorsFunctionArn"] == {"Ref": "ListConnectorsFunctionArn"}
    assert substitutions["StartSyncFunctionArn"] == {"Ref": "StartSyncFunctionArn"}
    assert substitutions["ClusterArn"] == {"Fn::GetAtt": ["Cluster", "Arn"]}
    assert substitutions["ArtifactsBucket"] == {"Ref": "ArtifactsBucket"}
    assert substitutions["DbtLogGroupName"] == {"Ref": "DbtLogGroup"}
    assert substitutions["SubnetIds"] == {"Fn::Join": [",", {"Ref": "SubnetIds"}]}
    assert substitutions["SecurityGroupIds"] == {
        "Fn::If": [
            "CreateSecurityGroup",
            {"Fn::GetAtt": ["SecurityGroup", "GroupId"]},
            {"Ref": "SecurityGroupId"},
        ]
    }
    for number in ("MaxConcurrency", "HeartbeatSeconds", "SyncTimeoutSeconds", "DbtTimeoutSeconds"):
        assert substitutions[number] == {"Ref": number}


def test_runs_in_flight_survive_a_deploy_the_state_machine_names_the_task_family_not_a_revision(
    resources: dict[str, Any], definition_text: str
) -> None:
    # CloudFormation replaces the task definition on a new DbtImageTag and deregisters the old revision
    # (INACTIVE: it cannot start tasks). A run started before the deploy reaches RunDbt afterwards: it
    # must ask for the family, which RunTask resolves to the latest ACTIVE revision.
    substitutions = resources["StateMachine"]["Properties"]["DefinitionSubstitutions"]
    family = substitutions["TaskDefinitionFamily"]
    assert family == {
        "Fn::Select": [
            0,
            {"Fn::Split": [":", {"Fn::Select": [1, {"Fn::Split": ["/", {"Ref": "TaskDefinition"}]}]}]},
        ]
    }
    # What CloudFormation evaluates it to, on the ARN Ref returns:
    arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/fivetran-orchestrator-dev-dbt:7"
    assert arn.split("/")[1].split(":")[0] == "fivetran-orchestrator-dev-dbt"
    assert "TaskDefinitionArn" not in substitutions
    run_dbt = json.loads(definition_text)["States"]["RunDbt"]
    assert run_dbt["Parameters"]["TaskDefinition"] == "${TaskDefinitionFamily}"
    # The role may run the family (as named) and any of its revisions (as resolved), nothing else.
    role = resources["StateMachineRole"]
    (run,) = [s for s in statements(role) if s.get("Sid") == "RunTheDbtTask"]
    resources_allowed = [r["Fn::Sub"] for r in as_list(run["Resource"])]
    assert resources_allowed == [
        "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/${AppName}-${Stage}-dbt",
        "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/${AppName}-${Stage}-dbt:*",
    ]


def test_the_state_machine_may_read_only_the_dbt_summaries_of_the_artifacts_bucket(
    resources: dict[str, Any],
) -> None:
    role = resources["StateMachineRole"]
    (read,) = [s for s in statements(role) if s.get("Sid") == "ReadTheDbtSummary"]

    assert read["Action"] == "s3:GetObject"
    assert read["Resource"] == {"Fn::Sub": "${ArtifactsBucket.Arn}/dbt-runs/*"}


def test_the_stand_in_definition_fails_every_run_with_a_cause_naming_the_deploy_command(
    resources: dict[str, Any],
) -> None:
    stand_in = resources["StateMachine"]["Properties"]["Definition"]
    only_state = stand_in["States"][stand_in["StartAt"]]

    assert only_state["Type"] == "Fail"
    assert "`python -m deploy deploy --stage <stage>`" in only_state["Cause"]


def test_token_table_key_schema_and_settings_match_the_design(resources: dict[str, Any]) -> None:
    table = resources["TokenTable"]["Properties"]

    assert table["KeySchema"] == [
        {"AttributeName": "connector_id", "KeyType": "HASH"},
        {"AttributeName": "token_id", "KeyType": "RANGE"},
    ]
    assert table["AttributeDefinitions"] == [
        {"AttributeName": "connector_id", "AttributeType": "S"},
        {"AttributeName": "token_id", "AttributeType": "S"},
    ]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True


@pytest.mark.parametrize(
    ("logical_id", "name_property", "expected"),
    [
        ("TokenTable", "TableName", "${AppName}-${Stage}-tokens"),
        ("StateMachine", "StateMachineName", "${AppName}-${Stage}"),
        ("Cluster", "ClusterName", "${AppName}-${Stage}"),
        ("TaskDefinition", "Family", "${AppName}-${Stage}-dbt"),
        ("Repository", "RepositoryName", "${AppName}-${Stage}-dbt"),
        ("FivetranApiSecret", "Name", "${AppName}/${Stage}/fivetran-api"),
        ("WebhookSecret", "Name", "${AppName}/${Stage}/webhook-secret"),
        ("WarehouseSecret", "Name", "${AppName}/${Stage}/warehouse"),
    ],
)
def test_resource_names_derive_from_app_name_and_stage(
    resources: dict[str, Any], logical_id: str, name_property: str, expected: str
) -> None:
    assert resources[logical_id]["Properties"][name_property] == {"Fn::Sub": expected}


def test_app_name_defaults_to_the_chalice_app_and_stage_allows_only_aws_stages(
    template: dict[str, Any],
) -> None:
    parameters = template["Parameters"]

    assert parameters["AppName"]["Default"] == "fivetran-orchestrator"
    assert parameters["Stage"]["AllowedValues"] == ["dev", "prod"]


def test_secrets_hold_generated_values_and_never_plain_text(resources: dict[str, Any]) -> None:
    secrets = {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::SecretsManager::Secret"}

    assert set(secrets) == {"FivetranApiSecret", "WebhookSecret", "WarehouseSecret", "SlackWebhookSecret"}
    for properties in secrets.values():
        assert "SecretString" not in properties
        assert "GenerateSecretString" in properties
    assert "SecretStringTemplate" not in secrets["WebhookSecret"]["GenerateSecretString"]
    api = secrets["FivetranApiSecret"]["GenerateSecretString"]
    assert set(json.loads(api["SecretStringTemplate"])) | {api["GenerateStringKey"]} == {
        "api_key",
        "api_secret",
    }
    warehouse = secrets["WarehouseSecret"]["GenerateSecretString"]
    by_adapter = {"Fn::FindInMap": ["WarehouseSecretByAdapter", {"Ref": "DbtAdapter"}]}
    assert warehouse["SecretStringTemplate"] == {"Fn::FindInMap": [*by_adapter["Fn::FindInMap"], "Template"]}
    assert warehouse["GenerateStringKey"] == {"Fn::FindInMap": [*by_adapter["Fn::FindInMap"], "GeneratedKey"]}


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_the_warehouse_secret_starts_with_each_adapters_keys_placeholders_and_defaults(
    template: dict[str, Any], adapter: str
) -> None:
    entry = template["Mappings"]["WarehouseSecretByAdapter"][adapter]
    generated = json.loads(entry["Template"])

    assert [*generated, entry["GeneratedKey"]] == [
        k for k in SECRET_KEYS[adapter] if k != GENERATED_KEY[adapter]
    ] + [GENERATED_KEY[adapter]]
    assert entry["Keys"] == ", ".join(SECRET_KEYS[adapter])
    placeholders = {k for k, v in generated.items() if v == "REPLACE_ME"}
    assert {k: v for k, v in generated.items() if k not in placeholders} == DEFAULTS.get(adapter, {})
    assert placeholders | {entry["GeneratedKey"]} == set(required_keys(adapter))


def test_the_adapter_is_a_parameter_of_the_five_warehouses_snowflake_by_default(
    template: dict[str, Any],
) -> None:
    parameter = template["Parameters"]["DbtAdapter"]

    assert parameter["AllowedValues"] == list(ADAPTERS) == [a for a in TASK_ADAPTERS if a != "duckdb"]
    assert parameter["Default"] == "snowflake"


def test_task_definition_runs_one_container_named_dbt_with_memory_and_a_read_only_root(
    resources: dict[str, Any],
) -> None:
    task = resources["TaskDefinition"]["Properties"]
    (container,) = task["ContainerDefinitions"]

    assert task["RequiresCompatibilities"] == ["FARGATE"]
    assert task["NetworkMode"] == "awsvpc"
    assert container["Name"] == "dbt"
    assert container["Memory"] == {"Ref": "DbtTaskMemory"}
    assert container["Image"] == {"Fn::Sub": "${Repository.RepositoryUri}:${DbtImageTag}"}
    assert container["ReadonlyRootFilesystem"] is True
    assert container["MountPoints"] == [
        {"SourceVolume": "scratch", "ContainerPath": "/tmp", "ReadOnly": False}
    ]
    environment = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert environment["DBT_TARGET"] == {"Ref": "DbtAdapter"}
    # The transform lease is keyed by the target the task builds (one dbt at a time per target).
    substitutions = resources["StateMachine"]["Properties"]["DefinitionSubstitutions"]
    assert substitutions["DbtTarget"] == environment["DBT_TARGET"]
    assert environment["ARTIFACTS_BUCKET"] == {"Ref": "ArtifactsBucket"}
    assert environment["ARTIFACTS_PREFIX"] == "dbt-runs"
    assert container["LinuxParameters"] == {"InitProcessEnabled": True}
    assert container["LogConfiguration"]["Options"]["awslogs-group"] == {"Ref": "DbtLogGroup"}


def injected_secrets(container: dict[str, Any], adapter: str) -> dict[str, Any]:
    """The container's Secrets when DbtAdapter is ``adapter``: the nested Fn::If resolved."""
    conditions = {
        "DbtOnSnowflake": "snowflake",
        "DbtOnBigQuery": "bigquery",
        "DbtOnRedshift": "redshift",
        "DbtOnDatabricks": "databricks",
    }
    value = container["Secrets"]
    while isinstance(value, dict) and "Fn::If" in value:
        condition, chosen, other = value["Fn::If"]
        value = chosen if conditions[condition] == adapter else other
    return {s["Name"]: s["ValueFrom"] for s in value}


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_dbt_container_reads_each_warehouse_key_of_its_adapter_from_the_warehouse_secret(
    resources: dict[str, Any], template: dict[str, Any], adapter: str
) -> None:
    (container,) = resources["TaskDefinition"]["Properties"]["ContainerDefinitions"]
    condition = {"Fn::Equals": [{"Ref": "DbtAdapter"}, adapter]}

    expected = {
        env_name(adapter, key): {"Fn::Sub": f"${{WarehouseSecret}}:{key}::"} for key in SECRET_KEYS[adapter]
    }
    assert injected_secrets(container, adapter) == expected
    # every key the dbt task requires (dbt_container/task/warehouses.py) is injected; optional ones only
    # with a default in the generated secret
    required, optional = WAREHOUSE_KEYS[adapter]
    assert set(required) <= set(expected) <= set(required) | set(optional)
    if adapter != "postgres":  # the last branch of the Fn::If chain: no condition of its own
        assert condition in template["Conditions"].values()


def test_state_machine_role_grants_only_what_the_definition_uses(resources: dict[str, Any]) -> None:
    by_sid = {s["Sid"]: s for s in statements(resources["StateMachineRole"])}

    assert as_list(by_sid["InvokeTheRunFunctions"]["Action"]) == ["lambda:InvokeFunction"]
    assert by_sid["InvokeTheRunFunctions"]["Resource"] == [
        {"Ref": "ListConnectorsFunctionArn"},
        {"Fn::Sub": "${ListConnectorsFunctionArn}:*"},
        {"Ref": "StartSyncFunctionArn"},
        {"Fn::Sub": "${StartSyncFunctionArn}:*"},
        {"Ref": "CollectOutcomesFunctionArn"},
        {"Fn::Sub": "${CollectOutcomesFunctionArn}:*"},
        {"Ref": "TransformLeaseFunctionArn"},
        {"Fn::Sub": "${TransformLeaseFunctionArn}:*"},
    ]
    # The Distributed Map's children are executions of this same state machine (AWS docs, "IAM
    # policies for using Distributed Map states"): start, watch and stop them, nothing else.
    assert by_sid["DistributedMapChildExecutions"]["Action"] == "states:StartExecution"
    assert by_sid["DistributedMapChildExecutions"]["Resource"]["Fn::Sub"].endswith(
        ":stateMachine:${AppName}-${Stage}"
    )
    # DescribeExecution on the state machine's executions as AWS's example grants it (execution:<name>:*)
    # and on the children (execution:<name>/<label>:<id>, which that does not match); stop and redrive
    # only the children.
    describe = by_sid["DistributedMapDescribeExecutions"]
    assert describe["Action"] == "states:DescribeExecution"
    assert [r["Fn::Sub"].rsplit(":", 2)[-2:] for r in describe["Resource"]] == [
        ["${AppName}-${Stage}", "*"],
        ["execution", "${AppName}-${Stage}/*"],
    ]
    children = by_sid["DistributedMapStopAndRedriveChildren"]
    assert sorted(children["Action"]) == ["states:RedriveExecution", "states:StopExecution"]
    assert children["Resource"]["Fn::Sub"].endswith(":execution:${AppName}-${Stage}/*")
    files = by_sid["DistributedMapItemsAndResults"]
    assert "s3:GetObject" in files["Action"] and "s3:PutObject" in files["Action"]
    assert [r["Fn::Sub"] for r in files["Resource"]] == [
        "${ArtifactsBucket.Arn}/runs/*",
        "${ArtifactsBucket.Arn}/map-runs/*",
    ]
    run_task = by_sid["RunTheDbtTask"]
    assert as_list(run_task["Action"]) == ["ecs:RunTask"]
    assert [r["Fn::Sub"].rsplit(":", 1)[-1] for r in run_task["Resource"]] == [
        "task-definition/${AppName}-${Stage}-dbt",
        "*",
    ]
    assert run_task["Condition"] == {"ArnEquals": {"ecs:cluster": {"Fn::GetAtt": ["Cluster", "Arn"]}}}
    watch = by_sid["WatchAndStopTheDbtTask"]
    assert sorted(watch["Action"]) == ["ecs:DescribeTasks", "ecs:StopTask"]
    assert watch["Resource"]["Fn::Sub"].endswith(":task/${AppName}-${Stage}/*")
    pass_role = by_sid["PassTheTaskRoles"]
    assert pass_role["Resource"] == [
        {"Fn::GetAtt": ["TaskRole", "Arn"]},
        {"Fn::GetAtt": ["TaskExecutionRole", "Arn"]},
    ]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    events = by_sid["EcsSyncIntegrationRule"]
    assert sorted(events["Action"]) == ["events:DescribeRule", "events:PutRule", "events:PutTargets"]
    assert events["Resource"]["Fn::Sub"].endswith(":rule/StepFunctionsGetEventsForECSTaskRule")


def test_only_log_delivery_tracing_and_ecr_login_use_a_wildcard_resource(resources: dict[str, Any]) -> None:
    roles = {k: v for k, v in resources.items() if v["Type"] == "AWS::IAM::Role"}
    wildcard_actions = {
        action
        for role in roles.values()
        for statement in statements(role)
        if statement["Resource"] == "*"
        for action in as_list(statement["Action"])
    }

    assert {a.split(":")[0] for a in wildcard_actions} == {"logs", "xray", "ecr"}
    assert {a for a in wildcard_actions if a.startswith("ecr:")} == {"ecr:GetAuthorizationToken"}
    assert all("*" not in action for action in wildcard_actions)


def test_execution_role_reads_only_the_warehouse_secret_and_task_role_writes_artifacts_reads_run_files(
    resources: dict[str, Any],
) -> None:
    execution = {s["Sid"]: s for s in statements(resources["TaskExecutionRole"])}
    task = statements(resources["TaskRole"])

    assert execution["ReadWarehouseSecret"]["Resource"] == {"Ref": "WarehouseSecret"}
    assert execution["PullDbtImage"]["Resource"] == {"Fn::GetAtt": ["Repository", "Arn"]}
    assert task == [
        {
            "Sid": "PutRunArtifacts",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": {"Fn::Sub": "${ArtifactsBucket.Arn}/dbt-runs/*"},
        },
        {
            "Sid": "ReadRetriedRunArtifacts",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": {"Fn::Sub": "${ArtifactsBucket.Arn}/dbt-runs/*"},
        },
        {
            "Sid": "ReadExcludedSources",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": {"Fn::Sub": "${ArtifactsBucket.Arn}/runs/*"},
        },
        {
            "Sid": "KeepBuildState",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": {"Fn::Sub": "${ArtifactsBucket.Arn}/dbt-state/*"},
        },
    ]


def test_each_function_role_gets_only_the_run_files_its_own_calls_need(resources: dict[str, Any]) -> None:
    """Chalice makes one role per function: the stack attaches each its own run files, by role name."""
    grants = {
        name: (
            resource["Properties"]["Roles"],
            {
                s["Sid"]: (sorted(as_list(s["Action"])), s["Resource"]["Fn::Sub"])
                for s in resource["Properties"]["PolicyDocument"]["Statement"]
            },
        )
        for name, resource in resources.items()
        if resource["Type"] == "AWS::IAM::Policy"
    }

    assert grants == {
        "ListConnectorsRunFilesPolicy": (
            [{"Ref": "ListConnectorsRoleName"}],
            {"WriteTheMapItems": (["s3:PutObject"], "${ArtifactsBucket.Arn}/runs/*")},
        ),
        "CollectOutcomesRunFilesPolicy": (
            [{"Ref": "CollectOutcomesRoleName"}],
            {
                "RunFiles": (["s3:GetObject", "s3:PutObject"], "${ArtifactsBucket.Arn}/runs/*"),
                "MapResults": (["s3:GetObject"], "${ArtifactsBucket.Arn}/map-runs/*"),
            },
        ),
        "NotifyRunRunFilesPolicy": (
            [{"Ref": "NotifyRunRoleName"}],
            {
                "RunOutcomes": (["s3:GetObject"], "${ArtifactsBucket.Arn}/runs/*"),
                "DbtSummary": (["s3:GetObject"], "${ArtifactsBucket.Arn}/dbt-runs/*"),
            },
        ),
    }


def test_state_machine_logs_to_its_log_group_without_execution_data(resources: dict[str, Any]) -> None:
    logging = resources["StateMachine"]["Properties"]["LoggingConfiguration"]

    assert logging["IncludeExecutionData"] is False
    assert logging["Destinations"] == [
        {"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": ["StateMachineLogGroup", "Arn"]}}}
    ]
    for group in ("StateMachineLogGroup", "DbtLogGroup"):
        assert resources[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_security_group_is_created_only_when_none_is_given_and_allows_no_ingress(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    group = resources["SecurityGroup"]

    assert template["Conditions"]["CreateSecurityGroup"] == {"Fn::Equals": [{"Ref": "SecurityGroupId"}, ""]}
    assert group["Condition"] == "CreateSecurityGroup"
    assert "SecurityGroupIngress" not in group["Properties"]
    assert not [r for r in resources.values() if r["Type"] == "AWS::EC2::SecurityGroupIngress"]
    (egress,) = group["Properties"]["SecurityGroupEgress"]
    assert (egress["IpProtocol"], egress["FromPort"], egress["ToPort"]) == ("tcp", 443, 443)


def test_artifacts_bucket_is_encrypted_versioned_private_and_expires_runs(resources: dict[str, Any]) -> None:
    bucket = resources["ArtifactsBucket"]
    properties = bucket["Properties"]

    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
    rules = {r["Id"]: r for r in properties["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-dbt-runs"]["Prefix"] == "dbt-runs/"
    assert bucket["DeletionPolicy"] == "Retain"


def test_alarm_counts_failed_and_timed_out_runs_and_notifies_only_a_given_topic(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    alarm = resources["FailedRunsAlarm"]["Properties"]
    metric_names = {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}
    (expression,) = [m for m in alarm["Metrics"] if "Expression" in m]

    assert metric_names == {"ExecutionsFailed", "ExecutionsTimedOut"}
    assert expression["ReturnData"] is True
    assert alarm["AlarmActions"] == {
        "Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]
    }
    assert template["Conditions"]["HasAlarmTopic"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]
    }


def test_schedule_exists_only_with_an_expression_and_may_only_start_this_state_machine(
    resources: dict[str, Any],
) -> None:
    schedule, role = resources["Schedule"], resources["SchedulerRole"]

    assert schedule["Condition"] == "HasSchedule"
    assert role["Condition"] == "HasAnySchedule"
    assert schedule["Properties"]["Target"]["Arn"] == {"Ref": "StateMachine"}
    assert schedule["Properties"]["Target"]["Input"] == {"Ref": "ScheduleInput"}
    assert statements(role) == [
        {"Effect": "Allow", "Action": "states:StartExecution", "Resource": {"Ref": "StateMachine"}}
    ]


def test_up_to_three_schedules_each_start_this_state_machine_with_their_own_input(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    names = []
    for number, prefix in ((1, "Schedule"), (2, "Schedule2"), (3, "Schedule3")):
        schedule = resources["Schedule" if number == 1 else prefix]
        condition = "HasSchedule" if number == 1 else f"HasSchedule{number}"
        assert schedule["Condition"] == condition
        assert template["Conditions"][condition] == {
            "Fn::Not": [{"Fn::Equals": [{"Ref": f"{prefix}Expression"}, ""]}]
        }
        properties = schedule["Properties"]
        assert properties["ScheduleExpression"] == {"Ref": f"{prefix}Expression"}
        assert properties["ScheduleExpressionTimezone"] == {"Ref": f"{prefix}Timezone"}
        assert properties["Target"]["Input"] == {"Ref": f"{prefix}Input"}
        assert properties["Target"]["Arn"] == {"Ref": "StateMachine"}
        assert properties["Target"]["RoleArn"] == {"Fn::GetAtt": ["SchedulerRole", "Arn"]}
        assert template["Parameters"][f"{prefix}Expression"]["Default"] == ""
        assert template["Parameters"][f"{prefix}Input"]["Default"] == "{}"
        names.append(properties["Name"])
    # One role for them all, present when any schedule is.
    assert template["Conditions"]["HasAnySchedule"] == {
        "Fn::Or": [{"Condition": "HasSchedule"}, {"Condition": "HasSchedule2"}, {"Condition": "HasSchedule3"}]
    }
    assert names == [
        {"Fn::Sub": "${AppName}-${Stage}-run"},
        {"Fn::Sub": "${AppName}-${Stage}-run-2"},
        {"Fn::Sub": "${AppName}-${Stage}-run-3"},
    ]


def test_run_defaults_match_the_contract_and_heartbeat_outlasts_the_reconcile_interval(
    template: dict[str, Any],
) -> None:
    parameters = template["Parameters"]

    assert parameters["MaxConcurrency"]["Default"] == 0  # every sync at once (the API budget paces them)
    assert parameters["MaxConcurrency"]["MaxValue"] == 10_000
    assert parameters["HeartbeatSeconds"]["Default"] == 900
    assert parameters["HeartbeatSeconds"]["MinValue"] > RECONCILE_INTERVAL_SECONDS
    assert parameters["SyncTimeoutSeconds"]["Default"] == 21600
    assert parameters["DbtTimeoutSeconds"]["Default"] == 7200
    assert parameters["AssignPublicIp"]["Default"] == "DISABLED"
    assert parameters["ScheduleInput"]["Default"] == "{}"
    assert parameters["SubnetIds"]["Type"] == "List<AWS::EC2::Subnet::Id>"


def test_outputs_include_every_name_the_deploy_script_and_operators_use(template: dict[str, Any]) -> None:
    expected = {
        "StateMachineArn",
        "TokenTableName",
        "ClusterArn",
        "TaskDefinitionArn",
        "RepositoryUri",
        "ArtifactsBucket",
        "WebhookSecretArn",
        "FivetranApiSecretArn",
        "WarehouseSecretArn",
    }

    assert expected <= set(template["Outputs"])


def test_every_checkov_skip_names_a_check_and_gives_a_reason() -> None:
    skips = re.findall(r"#\s*checkov:skip=([^:\s]+):(.*)", TEMPLATE_PATH.read_text(encoding="utf-8"))

    assert skips
    for check_id, reason in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", check_id)
        assert len(reason.strip()) > 40, f"{check_id} needs a real reason"


def test_checkov_finds_no_failed_checks() -> None:
    local = Path(__file__).resolve().parents[2] / ".venv-tools" / "bin" / "checkov"
    checkov = str(local) if local.exists() else shutil.which("checkov")
    assert checkov is not None, "checkov is missing: run `make install` (it goes into .venv-tools)"
    result = subprocess.run(
        [
            checkov,
            "-f",
            str(TEMPLATE_PATH),
            "--quiet",
            "--compact",
            "--framework",
            "cloudformation",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Failed checks: 0" in result.stdout


def test_the_dashboard_graphs_every_operator_metric_of_this_stage_and_the_runs(
    resources: dict[str, Any],
) -> None:
    from chalicelib.platform import metrics

    dashboard = resources["Dashboard"]["Properties"]
    assert dashboard["DashboardName"] == {"Fn::Sub": "${AppName}-${Stage}"}
    body = json.loads(dashboard["DashboardBody"]["Fn::Sub"])  # ${...} only appear inside JSON strings
    widgets = body["widgets"]
    rows = [row for w in widgets if w["type"] == "metric" for row in w["properties"]["metrics"]]
    expressions = [
        item["expression"] for row in rows for item in row if isinstance(item, dict) and "expression" in item
    ]
    plain = [row for row in rows if isinstance(row[0], str)]

    emitted = {
        metrics.SYNC_OUTCOMES,
        metrics.SYNC_DURATION,
        metrics.WEBHOOK_ANSWERS,
        metrics.WEBHOOK_LATENCY,
        metrics.TOKENS_PARKED,
        metrics.SAFETY_NET_ACTIONS,
        metrics.CONFLICTING_SYNC_ENDS,
        metrics.WEBHOOK_UNHEALTHY,
    }
    graphed = {re.search(r'MetricName="(\w+)"', e).group(1) for e in expressions} | {
        row[1] for row in plain if row[0] == metrics.NAMESPACE
    }
    assert graphed == emitted
    for expression in expressions:
        assert expression.startswith(f"SEARCH('{{{metrics.NAMESPACE},")
        assert 'service="${AppName}-${Stage}"' in expression
    for row in plain:
        if row[0] == metrics.NAMESPACE:
            assert row[2:4] == ["service", "${AppName}-${Stage}"]
    assert {row[1] for row in plain if row[0] == "AWS/States"} == {
        "ExecutionsSucceeded",
        "ExecutionsFailed",
        "ExecutionsTimedOut",
    }
    for alarm in ("failed-runs", "webhook-unhealthy"):
        assert any(
            w["type"] == "alarm"
            and w["properties"]["alarms"]
            == [
                "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:${AppName}-${Stage}-"
                + alarm
            ]
            for w in widgets
        )
    # The Lambdas emit service=<app>-<stage>, what the dashboard filters on.
    config = json.loads((TEMPLATE_PATH.parents[1] / ".chalice" / "config.json").read_text(encoding="utf-8"))
    for stage in ("dev", "prod"):
        variables = config["stages"][stage]["environment_variables"]
        assert variables[metrics.SERVICE_ENV] == f"{config['app_name']}-{stage}"


def test_the_failed_runs_alarm_is_unchanged_by_the_dashboard(resources: dict[str, Any]) -> None:
    alarm = resources["FailedRunsAlarm"]["Properties"]
    assert alarm["AlarmName"] == {"Fn::Sub": "${AppName}-${Stage}-failed-runs"}  # the dashboard's alarm ARN
    names = [m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m]

    assert names == ["ExecutionsFailed", "ExecutionsTimedOut"]
    assert (alarm["Threshold"], alarm["EvaluationPeriods"], alarm["ComparisonOperator"]) == (
        1,
        1,
        "GreaterThanOrEqualToThreshold",
    )


def _alarm_breached(alarm: dict[str, Any], document: dict[str, Any], app: str, stage: str) -> bool:
    """Would this EMF document's datapoint put ``alarm`` (a single-metric alarm) in ALARM? Only if the
    document is the alarm's metric with exactly its dimensions (CloudWatch matches all of them)."""
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    (dimension_names,) = directive["Dimensions"]
    wanted = {
        d["Name"]: d["Value"]["Fn::Sub"].replace("${AppName}", app).replace("${Stage}", stage)
        for d in alarm["Dimensions"]
    }
    if directive["Namespace"] != alarm["Namespace"] or {d: document[d] for d in dimension_names} != wanted:
        return False
    if alarm["MetricName"] not in {m["Name"] for m in directive["Metrics"]}:
        return False
    assert (alarm["ComparisonOperator"], alarm["Statistic"]) == ("GreaterThanOrEqualToThreshold", "Maximum")
    return max(document[alarm["MetricName"]]) >= alarm["Threshold"]


def test_the_webhook_unhealthy_alarm_fires_on_the_watchdogs_metric_of_its_own_stage_only(
    resources: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from chalicelib.platform import metrics

    alarm = resources["WebhookUnhealthyAlarm"]["Properties"]
    stream = io.StringIO()
    metrics.set_stream(stream)
    try:
        monkeypatch.setenv(metrics.SERVICE_ENV, "fivetran-orchestrator-prod")
        metrics.record_webhook_check(True)  # the watchdog found the webhook inactive
        metrics.record_webhook_check(False)  # a later check found it healthy
        monkeypatch.setenv(metrics.SERVICE_ENV, "fivetran-orchestrator-dev")
        metrics.record_webhook_check(True)  # another stage's webhook
    finally:
        metrics.set_stream(None)
    inactive, healthy, other_stage = (json.loads(line) for line in stream.getvalue().splitlines())

    assert alarm["AlarmName"] == {"Fn::Sub": "${AppName}-${Stage}-webhook-unhealthy"}
    assert _alarm_breached(alarm, inactive, "fivetran-orchestrator", "prod")
    assert not _alarm_breached(alarm, healthy, "fivetran-orchestrator", "prod")
    assert not _alarm_breached(alarm, other_stage, "fivetran-orchestrator", "prod")
    # A check runs at most every 15 minutes after a 5-minute pass: a 30-minute period always holds one,
    # and without data the alarm keeps its state until a check finds the webhook healthy.
    assert (alarm["Period"], alarm["EvaluationPeriods"], alarm["TreatMissingData"]) == (1800, 1, "ignore")
    topic = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    assert alarm["AlarmActions"] == alarm["OKActions"] == topic
