"""Deploy or destroy one stage: the Chalice app, then the infra stack (``infra/template.yaml``) beside it.

This module owns the deploy order and the glue between the two halves: ``chalice deploy --stage S``
creates the Lambda functions and the REST API and records them in ``.chalice/deployed/S.json``; the
CloudFormation stack takes the two function ARNs from that file as parameters (so nothing is circular),
gets ``statemachine/orchestrator.asl.json`` inlined as the state machine definition, and is created or
updated with boto3 (no ``aws`` CLI needed). ``destroy`` deletes the stack, then ``chalice delete``.

Usage::

    python -m scripts.deploy deploy  --stage dev [--region R] [--parameter K=V ...] [--dry-run]
    python -m scripts.deploy destroy --stage dev [--yes] [--delete-artifacts]
    python -m scripts.deploy render  [--output FILE]      # the template with the definition inlined

Stack parameters other than the function ARNs come from ``infra/params-<stage>.json`` and ``--parameter``
(see infra/README.md). Pure functions (template loading and rendering, parameters, URLs, messages) are
separate from the functions doing I/O, which take their boto3 clients and command runner as arguments.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TextIO

import yaml

from statemachine.definition import without_comments

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "infra" / "template.yaml"
DEFINITION_PATH = REPO_ROOT / "statemachine" / "orchestrator.asl.json"
DEFAULT_APP_NAME = "fivetran-orchestrator"
STAGES = ("dev", "prod")
WEBHOOK_PATH = "webhooks/fivetran"
STATE_MACHINE_ID = "StateMachine"
# Parameters the deploy script fills from .chalice/deployed/<stage>.json.
FUNCTION_PARAMETERS = {
    "ListConnectorsFunctionArn": "list_connectors",
    "StartSyncFunctionArn": "start_sync",
    "CollectOutcomesFunctionArn": "collect_outcomes",
}
# ... and the functions' IAM role, which the stack grants the run files in its bucket.
ROLE_PARAMETER = "LambdaRoleName"
# CloudFormation accepts a TemplateBody of at most 51,200 bytes (larger ones must come from S3).
TEMPLATE_BODY_LIMIT = 51_200
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
SHORT_TAG_FUNCTIONS = {"Ref": "Ref", "Condition": "Condition"}
STACK_GONE = {"DELETE_COMPLETE"}


class DeployError(Exception):
    """Something the operator must fix; the message says what."""


# --------------------------------------------------------------------------- template (pure)


class CfnLoader(yaml.SafeLoader):
    """A YAML loader that reads CloudFormation short tags (``!Ref``, ``!Sub``, ``!GetAtt A.B``...)
    into their long JSON form, so the result can be sent to CloudFormation as JSON."""


def _construct_intrinsic(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = SHORT_TAG_FUNCTIONS.get(tag_suffix, f"Fn::{tag_suffix}")
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            resource, _, attribute = str(value).partition(".")
            value = [resource, attribute]
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as a dict, intrinsic functions in long form (``{"Ref": ...}``, ``{"Fn::Sub": ...}``)."""
    template = yaml.load(path.read_text(encoding="utf-8"), Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass  # nosec B506
    if not isinstance(template, dict) or "Resources" not in template:
        raise DeployError(f"{path} is not a CloudFormation template")
    return template


def definition_placeholders(definition_text: str) -> set[str]:
    """The ``${Name}`` placeholders of an ASL definition."""
    return set(PLACEHOLDER.findall(definition_text))


def render_template(template: Mapping[str, Any], definition_text: str) -> dict[str, Any]:
    """A copy of the template whose state machine ``Definition`` is the ASL document.

    The ASL goes in as a JSON object (``Definition``), not as ``DefinitionString``: CloudFormation applies
    DefinitionSubstitutions to both, and cfn-lint validates the object form (its states) without
    mistaking the ``${...}`` placeholders for an ``Fn::Sub`` that lost its function. Fails when the
    definition is not JSON, or when its placeholders and DefinitionSubstitutions differ (a placeholder
    nobody fills would reach AWS as literal text).
    """
    try:
        definition = json.loads(definition_text)
    except json.JSONDecodeError as exc:
        raise DeployError(f"the state machine definition is not valid JSON: {exc}") from exc
    rendered = copy.deepcopy(dict(template))
    properties = rendered["Resources"][STATE_MACHINE_ID]["Properties"]
    substitutions = set(properties.get("DefinitionSubstitutions", {}))
    placeholders = definition_placeholders(definition_text)
    if placeholders != substitutions:
        raise DeployError(
            "the definition's placeholders and DefinitionSubstitutions differ: "
            f"not substituted {sorted(placeholders - substitutions)}, "
            f"unused {sorted(substitutions - placeholders)}"
        )
    for key in ("DefinitionString", "DefinitionS3Location"):
        properties.pop(key, None)
    # Comments stay in the repository: the template must fit CloudFormation's inline body limit.
    properties["Definition"] = without_comments(definition)
    return rendered


def template_body(rendered: Mapping[str, Any]) -> str:
    """The rendered template as compact JSON, checked against CloudFormation's inline size limit."""
    body = json.dumps(rendered, separators=(",", ":"))
    size = len(body.encode("utf-8"))
    if size > TEMPLATE_BODY_LIMIT:
        raise DeployError(
            f"the rendered template is {size} bytes, over CloudFormation's {TEMPLATE_BODY_LIMIT}-byte "
            "TemplateBody limit: it must be uploaded to S3 and passed as TemplateURL"
        )
    return body


# --------------------------------------------------------------------------- parameters (pure)


@dataclass(frozen=True)
class ChaliceDeployment:
    """What ``chalice deploy`` recorded in .chalice/deployed/<stage>.json and the stack needs."""

    function_arns: dict[str, str]
    rest_api_url: str | None
    role_name: str = ""

    @property
    def parameters(self) -> dict[str, str]:
        """The stack parameters ``chalice deploy`` provides: function ARNs and the functions' role."""
        return {**self.function_arns, ROLE_PARAMETER: self.role_name}


def parse_deployed(deployed: Mapping[str, Any], stage: str) -> ChaliceDeployment:
    """Pick the function ARNs and the REST API URL out of a deployed/<stage>.json document."""
    resources = {r.get("name"): r for r in deployed.get("resources", []) if isinstance(r, dict)}
    arns: dict[str, str] = {}
    missing = []
    for parameter, name in FUNCTION_PARAMETERS.items():
        arn = resources.get(name, {}).get("lambda_arn")
        if arn:
            arns[parameter] = arn
        else:
            missing.append(name)
    if missing:
        raise DeployError(
            f".chalice/deployed/{stage}.json has no lambda_arn for {', '.join(missing)}: "
            "did `chalice deploy` finish, and are the functions still named so in app.py?"
        )
    roles = [r for r in resources.values() if r.get("resource_type") == "iam_role" and r.get("role_name")]
    if not roles:
        raise DeployError(
            f".chalice/deployed/{stage}.json names no IAM role (resource_type iam_role): "
            "did `chalice deploy` "
            "finish? The stack grants that role the run files in the artifacts bucket"
        )
    rest_api_url = resources.get("rest_api", {}).get("rest_api_url")
    return ChaliceDeployment(
        function_arns=arns, rest_api_url=rest_api_url, role_name=str(roles[0]["role_name"])
    )


def parameter_value(value: Any) -> str:
    """A parameter value as CloudFormation wants it: lists comma-joined, objects as JSON, all strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def read_params_file(path: Path) -> dict[str, str]:
    """The stage's parameter file (a JSON object of parameter -> value); an absent file is empty."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DeployError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise DeployError(f"{path} must hold a JSON object of parameter names to values")
    return {str(k): parameter_value(v) for k, v in data.items()}


def parse_overrides(items: Iterable[str]) -> dict[str, str]:
    """``--parameter K=V`` values as a dict (the value may contain ``=``)."""
    overrides: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DeployError(f"--parameter expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = value
    return overrides


def build_parameters(
    template: Mapping[str, Any],
    *,
    app_name: str,
    stage: str,
    function_arns: Mapping[str, str],
    file_params: Mapping[str, str],
    overrides: Mapping[str, str],
) -> dict[str, str]:
    """The stack parameters, later sources winning: function ARNs, the params file, ``--parameter``.

    AppName and Stage always come from the command. Unknown names fail; so do invalid values
    (AllowedValues, AllowedPattern, MinValue/MaxValue) and required parameters nobody gave.
    """
    declared = template.get("Parameters", {})
    params: dict[str, str] = {**function_arns, **file_params, **overrides}
    for fixed in ("AppName", "Stage"):
        if fixed in file_params or fixed in overrides:
            raise DeployError(
                f"{fixed} comes from the command line (--stage) and the app name; do not set it"
            )
    params["AppName"] = app_name
    params["Stage"] = stage
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise DeployError(f"unknown stack parameter(s): {', '.join(unknown)} (see infra/template.yaml)")
    errors = [*parameter_errors(declared, params), *missing_parameters(declared, params)]
    if errors:
        raise DeployError("invalid stack parameters:\n  " + "\n  ".join(errors))
    return params


def missing_parameters(declared: Mapping[str, Any], params: Mapping[str, str]) -> list[str]:
    """Required parameters (no Default) that were not given."""
    return [
        f"{name} is required ({spec.get('Description', '').strip()})"
        for name, spec in declared.items()
        if "Default" not in spec and name not in params
    ]


def parameter_errors(declared: Mapping[str, Any], params: Mapping[str, str]) -> list[str]:
    """Values CloudFormation would reject, checked locally so a deploy fails before it starts."""
    errors = []
    for name, value in params.items():
        spec = declared.get(name, {})
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in {parameter_value(v) for v in allowed}:
            errors.append(f"{name}={value!r} is not one of {[parameter_value(v) for v in allowed]}")
        pattern = spec.get("AllowedPattern")
        if pattern is not None and not re.fullmatch(pattern, value):
            errors.append(f"{name}={value!r} does not match {pattern}")
        if spec.get("Type") == "Number":
            errors.extend(_number_errors(name, value, spec))
    return errors


def _number_errors(name: str, value: str, spec: Mapping[str, Any]) -> list[str]:
    try:
        number = float(value)
    except ValueError:
        return [f"{name}={value!r} is not a number"]
    if "MinValue" in spec and number < float(spec["MinValue"]):
        return [f"{name}={value} is below the minimum {spec['MinValue']}"]
    if "MaxValue" in spec and number > float(spec["MaxValue"]):
        return [f"{name}={value} is above the maximum {spec['MaxValue']}"]
    return []


def region_of_arn(arn: str) -> str:
    """The region field of an ARN (``arn:partition:service:region:account:...``)."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


def stack_name(app_name: str, stage: str) -> str:
    """The infra stack of a stage (Chalice's own resources are not a stack: `chalice deploy` makes them)."""
    return f"{app_name}-{stage}-infra"


def webhook_url(rest_api_url: str) -> str:
    """The URL Fivetran posts to: the REST API's stage URL plus the webhook route."""
    return rest_api_url.rstrip("/") + "/" + WEBHOOK_PATH


def to_cfn_parameters(params: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(params.items())]


def stage_environment(chalice_config: Mapping[str, Any], stage: str) -> dict[str, str]:
    """The environment variables config.json gives every function of a stage (top level + stage)."""
    stage_config = chalice_config.get("stages", {}).get(stage, {})
    return {
        **chalice_config.get("environment_variables", {}),
        **stage_config.get("environment_variables", {}),
    }


def _names_secret(value: str, secret_arn: str) -> bool:
    """Whether a SecretId (name, partial or full ARN) designates the secret with this ARN."""
    full_name = secret_arn.split(":secret:", 1)[-1]
    name = full_name[:-7] if re.search(r"-[A-Za-z0-9]{6}$", full_name) else full_name
    return value in {secret_arn, name, secret_arn[: -len(full_name)] + name}


def config_warnings(environment: Mapping[str, str], outputs: Mapping[str, str]) -> list[str]:
    """Where .chalice/config.json disagrees with the stack it is meant to point at."""
    warnings = []
    table = environment.get("TOKEN_TABLE")
    if table is not None and table != outputs.get("TokenTableName"):
        warnings.append(
            f"TOKEN_TABLE is {table!r} but the stack's table is {outputs.get('TokenTableName')!r}"
        )
    for variable, output in (
        ("FIVETRAN_WEBHOOK_SECRET_ARN", "WebhookSecretArn"),
        ("FIVETRAN_API_SECRET_ARN", "FivetranApiSecretArn"),
    ):
        value = environment.get(variable)
        if value is not None and output in outputs and not _names_secret(value, outputs[output]):
            warnings.append(f"{variable} is {value!r} but the stack's secret is {outputs[output]!r}")
    return warnings


def next_steps(
    *, stage: str, region: str, outputs: Mapping[str, str], params: Mapping[str, str], url: str | None
) -> str:
    """What the operator does after a deploy, with the real names filled in."""
    repository = outputs.get("RepositoryUri", "<RepositoryUri>")
    registry = repository.split("/", 1)[0]
    tag = params.get("DbtImageTag", "<DbtImageTag>")
    platform = "linux/arm64" if params.get("DbtCpuArchitecture") == "ARM64" else "linux/amd64"
    lines = [
        f"Webhook URL: {url or '(unknown: no rest_api in .chalice/deployed/' + stage + '.json)'}",
        "",
        f"Next steps for stage {stage}:",
        "  1. Put the Fivetran API key and secret:",
        f"       aws secretsmanager put-secret-value --region {region} \\",
        f"         --secret-id {outputs.get('FivetranApiSecretArn', '<FivetranApiSecretArn>')} \\",
        '         --secret-string \'{"api_key": "...", "api_secret": "..."}\'',
        "  2. Put the warehouse credentials (JSON keys account, user, private_key, role, warehouse,",
        "     database, schema):",
        f"       aws secretsmanager put-secret-value --region {region} \\",
        f"         --secret-id {outputs.get('WarehouseSecretArn', '<WarehouseSecretArn>')} \\",
        "         --secret-string file://warehouse.json",
        f"  3. Build and push the dbt image with the tag the stack expects ({tag}):",
        f"       aws ecr get-login-password --region {region} | "
        f"docker login --username AWS --password-stdin {registry}",
        f"       docker build --platform {platform} -t {repository}:{tag} dbt_container",
        f"       docker push {repository}:{tag}",
        "  4. Register the webhook with Fivetran (it signs with the generated webhook secret):",
        f"       orchestrator register-webhook --stage {stage} --group <group_id>",
        "  5. Start a run:",
        f"       aws stepfunctions start-execution --region {region} \\",
        f"         --state-machine-arn {outputs.get('StateMachineArn', '<StateMachineArn>')} \\",
        '         --input \'{"group_id": "<group_id>"}\'',
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- I/O

Runner = Callable[[Sequence[str], Path, Mapping[str, str]], None]


class Clients(NamedTuple):
    """The boto3 clients a command uses, created once (``make_clients``) and passed in."""

    cloudformation: Any
    s3: Any
    region: str


def make_clients(region: str | None) -> Clients:
    """boto3 clients for the region given, else the one configured for the environment or profile."""
    import boto3  # deferred: `--help`, `render` and `--dry-run` need no AWS SDK session
    from botocore.exceptions import BotoCoreError

    try:
        session = boto3.session.Session(region_name=region)
        credentials = session.get_credentials()
    except BotoCoreError as exc:  # e.g. AWS_PROFILE names a profile that does not exist
        raise DeployError(f"AWS configuration: {exc}") from exc
    if not session.region_name:
        raise DeployError("no AWS region: pass --region, set AWS_DEFAULT_REGION or give the profile a region")
    if credentials is None:
        raise DeployError(
            "no AWS credentials: set AWS_PROFILE (see `aws configure`) or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY; nothing was created"
        )
    return Clients(session.client("cloudformation"), session.client("s3"), session.region_name)


def chalice_executable() -> str:
    """The `chalice` of the running interpreter's environment (the project venv), else the one on PATH."""
    beside = Path(sys.executable).with_name("chalice")
    if beside.exists():
        return str(beside)
    found = shutil.which("chalice")
    if found is None:
        raise DeployError("chalice is not installed: run `make install`")
    return found


def run_command(command: Sequence[str], cwd: Path, env: Mapping[str, str]) -> None:
    """Run a command in cwd with extra environment variables; its output goes straight to the terminal."""
    completed = subprocess.run(list(command), cwd=cwd, env={**os.environ, **env}, check=False)  # noqa: S603
    if completed.returncode != 0:
        raise DeployError(f"`{' '.join(command)}` failed with exit code {completed.returncode}")


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DeployError(f"{path} does not exist") from exc
    except json.JSONDecodeError as exc:
        raise DeployError(f"{path} is not valid JSON: {exc}") from exc


def stack_status(cfn: Any, name: str) -> str | None:
    """The stack's status, or None when there is no live stack of that name."""
    from botocore.exceptions import ClientError

    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    status = stacks[0]["StackStatus"] if stacks else None
    return None if status in STACK_GONE else status


def stack_outputs(cfn: Any, name: str) -> dict[str, str]:
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def failure_reasons(cfn: Any, name: str, limit: int = 10) -> list[str]:
    """The newest FAILED events of a stack: which resource failed and CloudFormation's reason."""
    events = cfn.describe_stack_events(StackName=name).get("StackEvents", [])
    return [
        f"{e['LogicalResourceId']} ({e.get('ResourceType', '?')}) {e['ResourceStatus']}: "
        f"{e.get('ResourceStatusReason', '')}"
        for e in events
        if str(e.get("ResourceStatus", "")).endswith("FAILED")
    ][:limit]


@dataclass(frozen=True)
class Waiting:
    """How often and how long to poll CloudFormation (tests poll without delay)."""

    delay: int = 10
    max_attempts: int = 360

    def config(self) -> dict[str, int]:
        return {"Delay": self.delay, "MaxAttempts": self.max_attempts}


def _wait(cfn: Any, waiter_name: str, name: str, waiting: Waiting) -> None:
    from botocore.exceptions import WaiterError

    try:
        cfn.get_waiter(waiter_name).wait(StackName=name, WaiterConfig=waiting.config())
    except WaiterError as exc:
        reasons = "\n  ".join(failure_reasons(cfn, name)) or "(no failed events)"
        raise DeployError(f"stack {name}: {exc}\n  {reasons}") from exc


def deploy_stack(
    cfn: Any,
    *,
    name: str,
    body: str,
    parameters: Mapping[str, str],
    tags: Mapping[str, str],
    protect: bool,
    waiting: Waiting,
) -> str:
    """Create or update the stack and wait for it. Returns "created", "updated" or "unchanged"."""
    from botocore.exceptions import ClientError

    common = {
        "StackName": name,
        "TemplateBody": body,
        "Parameters": to_cfn_parameters(parameters),
        "Capabilities": ["CAPABILITY_IAM"],
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }
    status = stack_status(cfn, name)
    if status == "ROLLBACK_COMPLETE":
        # A stack whose creation failed cannot be updated; it holds nothing (the retained artifacts
        # bucket, if it was created, stays and is simply not reused).
        cfn.delete_stack(StackName=name)
        _wait(cfn, "stack_delete_complete", name, waiting)
        status = None
    if status is not None and status.endswith("_IN_PROGRESS"):
        raise DeployError(f"stack {name} is {status}; wait for it to finish, then deploy again")
    if status is None:
        cfn.create_stack(**common, EnableTerminationProtection=protect)
        _wait(cfn, "stack_create_complete", name, waiting)
        return "created"
    try:
        cfn.update_stack(**common)
    except ClientError as exc:
        if "No updates are to be performed" in str(exc):
            return "unchanged"
        raise
    _wait(cfn, "stack_update_complete", name, waiting)
    return "updated"


def empty_and_delete_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker of a bucket, then the bucket. Returns the count."""
    deleted = 0
    paginator = s3.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=bucket):
        keys = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
            deleted += len(keys)
    s3.delete_bucket(Bucket=bucket)
    return deleted


# --------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class DeployOptions:
    stage: str
    region: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    params_file: Path | None = None
    dry_run: bool = False
    skip_chalice: bool = False
    project_dir: Path = REPO_ROOT
    template_path: Path = TEMPLATE_PATH
    definition_path: Path = DEFINITION_PATH
    waiting: Waiting = Waiting()

    @property
    def params_path(self) -> Path:
        return self.params_file or self.project_dir / "infra" / f"params-{self.stage}.json"


@dataclass(frozen=True)
class Plan:
    """Everything a deploy needs except the function ARNs, read and checked before anything runs."""

    app_name: str
    stage: str
    stack: str
    template: dict[str, Any]
    body: str
    file_params: dict[str, str]
    overrides: dict[str, str]

    def parameters(self, function_arns: Mapping[str, str]) -> dict[str, str]:
        return build_parameters(
            self.template,
            app_name=self.app_name,
            stage=self.stage,
            function_arns=function_arns,
            file_params=self.file_params,
            overrides=self.overrides,
        )

    def stand_in_arns(self) -> dict[str, str]:
        """Function ARNs of the right shape, for checking everything else before `chalice deploy`."""
        return {
            **{
                parameter: f"arn:aws:lambda:us-east-1:000000000000:function:{self.app_name}-{self.stage}-{fn}"
                for parameter, fn in FUNCTION_PARAMETERS.items()
            },
            ROLE_PARAMETER: f"{self.app_name}-{self.stage}",
        }


def make_plan(options: DeployOptions) -> Plan:
    app_name = app_name_of(options.project_dir)
    template = load_template(options.template_path)
    rendered = render_template(template, options.definition_path.read_text(encoding="utf-8"))
    plan = Plan(
        app_name=app_name,
        stage=options.stage,
        stack=stack_name(app_name, options.stage),
        template=template,
        body=template_body(rendered),
        file_params=read_params_file(options.params_path),
        overrides=dict(options.overrides),
    )
    try:
        plan.parameters(plan.stand_in_arns())
    except DeployError as exc:
        given = {**plan.stand_in_arns(), **plan.overrides, "AppName": app_name, "Stage": options.stage}
        declared = template.get("Parameters", {})
        missing = [problem.split(" (", 1)[0] for problem in missing_parameters(declared, given)]
        if not options.params_path.exists() and missing:
            raise DeployError(
                f"no parameters file {options.params_path}: {', '.join(missing)}; "
                "create the file (infra/README.md) or pass --parameter KEY=VALUE"
            ) from exc
        raise DeployError(
            f"{exc}\n(set parameters in {options.params_path} or with --parameter KEY=VALUE; "
            "see infra/README.md)"
        ) from exc
    return plan


def app_name_of(project_dir: Path) -> str:
    """The Chalice app name (.chalice/config.json ``app_name``), which prefixes every resource name."""
    config = project_dir / ".chalice" / "config.json"
    if config.exists():
        return str(read_json(config).get("app_name", DEFAULT_APP_NAME))
    return DEFAULT_APP_NAME


def deployed_path(project_dir: Path, stage: str) -> Path:
    return project_dir / ".chalice" / "deployed" / f"{stage}.json"


def chalice(command: str, stage: str, project_dir: Path, region: str, run: Runner) -> None:
    run([chalice_executable(), command, "--stage", stage], project_dir, {"AWS_DEFAULT_REGION": region})


def deploy(
    options: DeployOptions,
    *,
    clients_factory: Callable[[str | None], Clients] = make_clients,
    run: Runner = run_command,
    out: TextIO = sys.stdout,
) -> dict[str, str]:
    """chalice deploy, then the infra stack; prints the webhook URL and next steps. Returns the outputs."""
    say = functools.partial(print, file=out, flush=True)
    plan = make_plan(options)
    deployed = deployed_path(options.project_dir, plan.stage)
    if options.dry_run:
        arns, source = plan.stand_in_arns(), "stand-ins until chalice deploy has run"
        if deployed.exists():
            arns, source = parse_deployed(read_json(deployed), plan.stage).function_arns, str(deployed)
        say(f"Dry run for stage {plan.stage}: nothing is deployed. Function ARNs: {source}.")
        say(f"  1. chalice deploy --stage {plan.stage}   (in {options.project_dir})")
        say(f"  2. create or update stack {plan.stack} ({len(plan.body.encode())} bytes) with:")
        for key, value in sorted(plan.parameters(arns).items()):
            say(f"       {key}={value}")
        return {}

    clients = clients_factory(options.region)
    if shutil.which("docker") is None:  # not needed to deploy; needed to build the dbt image (step 4)
        say("note: no `docker` here: build and push the dbt image from a machine with Docker (step 4)")
    if not options.skip_chalice:
        say(f"==> chalice deploy --stage {plan.stage} ({clients.region})")
        chalice("deploy", plan.stage, options.project_dir, clients.region, run)
    deployment = parse_deployed(read_json(deployed), plan.stage)
    for parameter, arn in deployment.function_arns.items():
        if region_of_arn(arn) != clients.region:
            raise DeployError(f"{parameter} {arn} is not in {clients.region}: deploy both to one region")
    params = plan.parameters(deployment.parameters)

    say(f"==> stack {plan.stack} ({clients.region})")
    result = deploy_stack(
        clients.cloudformation,
        name=plan.stack,
        body=plan.body,
        parameters=params,
        tags={"app": plan.app_name, "stage": plan.stage},
        protect=plan.stage == "prod",
        waiting=options.waiting,
    )
    outputs = stack_outputs(clients.cloudformation, plan.stack)
    say(f"Stack {plan.stack} {result}.")
    for key in sorted(outputs):
        say(f"  {key}: {outputs[key]}")
    config_path = options.project_dir / ".chalice" / "config.json"
    if config_path.exists():
        for warning in config_warnings(stage_environment(read_json(config_path), plan.stage), outputs):
            say(f"WARNING .chalice/config.json: {warning}")
    url = webhook_url(deployment.rest_api_url) if deployment.rest_api_url else None
    say("")
    say(next_steps(stage=plan.stage, region=clients.region, outputs=outputs, params=params, url=url))
    return outputs


@dataclass(frozen=True)
class DestroyOptions:
    stage: str
    region: str | None = None
    yes: bool = False
    delete_artifacts: bool = False
    project_dir: Path = REPO_ROOT
    waiting: Waiting = Waiting()


def confirm(stage: str, read: Callable[[str], str], out: TextIO) -> bool:
    """Ask the operator to type the stage name; anything else (or no terminal) is a no."""
    print(
        f"This deletes the {stage} infra stack (state machine, token table, ECS, ECR and the secrets,\n"
        f"without recovery window) and the Chalice functions and REST API of stage {stage}.",
        file=out,
    )
    try:
        answer = read(f"Type the stage name ({stage}) to confirm: ")
    except EOFError:
        return False
    return answer.strip() == stage


def destroy(
    options: DestroyOptions,
    *,
    clients_factory: Callable[[str | None], Clients] = make_clients,
    run: Runner = run_command,
    read: Callable[[str], str] = input,
    out: TextIO = sys.stdout,
) -> None:
    """Delete the infra stack (and, if asked, the retained artifacts bucket), then `chalice delete`."""
    say = functools.partial(print, file=out, flush=True)
    stage = options.stage
    if not options.yes and not confirm(stage, read, out):
        raise DeployError("not confirmed; nothing was deleted")
    app_name = app_name_of(options.project_dir)
    clients = clients_factory(options.region)
    cfn = clients.cloudformation
    name = stack_name(app_name, stage)
    bucket = None
    if stack_status(cfn, name) is None:
        say(f"==> stack {name} does not exist")
    else:
        bucket = stack_outputs(cfn, name).get("ArtifactsBucket")
        say(f"==> deleting stack {name}")
        if stage == "prod":  # deploy turns termination protection on for prod
            cfn.update_termination_protection(StackName=name, EnableTerminationProtection=False)
        cfn.delete_stack(StackName=name)
        _wait(cfn, "stack_delete_complete", name, options.waiting)
    if bucket and options.delete_artifacts:
        count = empty_and_delete_bucket(clients.s3, bucket)
        say(f"==> deleted the artifacts bucket {bucket} ({count} object versions)")
    elif bucket:
        say(f"Kept the artifacts bucket {bucket} (run again with --delete-artifacts to remove it).")
    if deployed_path(options.project_dir, stage).exists():
        say(f"==> chalice delete --stage {stage}")
        chalice("delete", stage, options.project_dir, clients.region, run)
    else:
        say(f"==> no .chalice/deployed/{stage}.json: no Chalice resources to delete")


# --------------------------------------------------------------------------- CLI


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.deploy",
        description="Deploy or destroy a stage: the Chalice app and the infra stack (infra/template.yaml).",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    dep = commands.add_parser("deploy", help="chalice deploy, then create or update the infra stack")
    dep.add_argument("--stage", required=True, choices=STAGES)
    dep.add_argument("--region", help="AWS region (default: AWS_DEFAULT_REGION, else the profile's)")
    dep.add_argument(
        "--parameter",
        "-p",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="stack parameter, overriding infra/params-<stage>.json (repeatable)",
    )
    dep.add_argument("--params-file", type=Path, help="parameter file (default: infra/params-<stage>.json)")
    dep.add_argument("--dry-run", action="store_true", help="validate and print the plan; deploy nothing")
    dep.add_argument("--skip-chalice", action="store_true", help="reuse .chalice/deployed/<stage>.json")

    des = commands.add_parser("destroy", help="delete the infra stack, then chalice delete")
    des.add_argument("--stage", required=True, choices=STAGES)
    des.add_argument("--region", help="AWS region (default: AWS_DEFAULT_REGION, else the profile's)")
    des.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    des.add_argument(
        "--delete-artifacts", action="store_true", help="also empty and delete the retained artifacts bucket"
    )

    ren = commands.add_parser("render", help="print the template with the state machine definition inlined")
    ren.add_argument("--output", "-o", type=Path, help="write to this file instead of stdout")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    args = parse_args(argv)
    try:
        if args.command == "deploy":
            deploy(
                DeployOptions(
                    stage=args.stage,
                    region=args.region,
                    overrides=parse_overrides(args.parameter),
                    params_file=args.params_file,
                    dry_run=args.dry_run,
                    skip_chalice=args.skip_chalice,
                )
            )
        elif args.command == "destroy":
            destroy(
                DestroyOptions(
                    stage=args.stage, region=args.region, yes=args.yes, delete_artifacts=args.delete_artifacts
                )
            )
        else:
            rendered = render_template(load_template(), DEFINITION_PATH.read_text(encoding="utf-8"))
            text = json.dumps(rendered, indent=2) + "\n"
            if args.output:
                args.output.parent.mkdir(parents=True, exist_ok=True)
                args.output.write_text(text, encoding="utf-8")
            else:
                sys.stdout.write(text)
    except DeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as exc:  # credentials, permissions, throttling...
        print(f"error: AWS said: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
