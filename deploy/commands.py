"""The two commands, ``deploy`` and ``destroy``: the order of the steps and the glue between the Chalice
app and the infra stack. The CLI (``deploy.cli``) only parses arguments and calls these."""

from __future__ import annotations

import functools
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from deploy.bootstrap import bootstrap_bucket_name, ensure_bootstrap_bucket, upload_template
from deploy.errors import DeployError
from deploy.messages import config_warnings, next_steps, stage_environment
from deploy.preflight import Preflight, run_checks
from deploy.stack import (
    Clients,
    Runner,
    Waiting,
    chalice_executable,
    deploy_stack,
    empty_and_delete_bucket,
    make_clients,
    resolved_region,
    run_command,
    stack_status,
    wait_for,
)
from deploy.stages import REPO_ROOT, app_name_of
from deploy.template import (
    DEFINITION_PATH,
    TEMPLATE_PATH,
    build_parameters,
    load_template,
    missing_parameters,
    parameter_value,
    read_params_file,
    region_of_arn,
    render_template,
    template_body,
)
from infra.outputs import deployed_path, parse_deployed, read_json, stack_name, stack_outputs, webhook_url
from infra.template import FUNCTION_PARAMETERS, ROLE_PARAMETERS

__all__ = ["DeployOptions", "DestroyOptions", "Plan", "confirm", "deploy", "destroy", "make_plan"]


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
    waiting: Waiting = field(default_factory=Waiting)

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

    def stand_in_arns(self, region: str = "us-east-1") -> dict[str, str]:
        """Function ARNs of the right shape (in ``region``), for checking everything else before
        `chalice deploy`."""
        return {
            **{
                parameter: f"arn:aws:lambda:{region}:000000000000:function:{self.app_name}-{self.stage}-{fn}"
                for parameter, fn in FUNCTION_PARAMETERS.items()
            },
            **{parameter: f"{self.app_name}-{self.stage}-{fn}" for parameter, fn in ROLE_PARAMETERS.items()},
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


def chalice(command: str, stage: str, project_dir: Path, region: str, run: Runner) -> None:
    run([chalice_executable(), command, "--stage", stage], project_dir, {"AWS_DEFAULT_REGION": region})


def send_template(plan: Plan, clients: Clients, say: Callable[..., None]) -> str:
    """Put the rendered template in the account's bootstrap bucket (created on first use); its URL."""
    account = str(clients.sts.get_caller_identity()["Account"])
    bucket = bootstrap_bucket_name(plan.app_name, account, clients.region)
    if ensure_bootstrap_bucket(clients.s3, bucket, region=clients.region, account=account):
        say(f"==> created the bootstrap bucket {bucket} (deploy templates)")
    return upload_template(
        clients.s3, bucket=bucket, region=clients.region, account=account, stack=plan.stack, body=plan.body
    )


def print_dry_run(plan: Plan, options: DeployOptions, say: Callable[..., None]) -> None:
    """The plan: the region it would use, the steps, every parameter (defaults marked)."""
    deployed = deployed_path(options.project_dir, plan.stage)
    region = resolved_region(options.region)
    arns, source = plan.stand_in_arns(region or "us-east-1"), "stand-ins until chalice deploy has run"
    if deployed.exists():
        arns, source = parse_deployed(read_json(deployed), plan.stage).parameters, str(deployed)
    say(f"Dry run for stage {plan.stage}: nothing is deployed. Function ARNs: {source}.")
    say(f"  region: {region or '(none: pass --region or set AWS_DEFAULT_REGION)'}")
    say(f"  1. chalice deploy --stage {plan.stage}   (in {options.project_dir})")
    say(
        f"  2. create or update stack {plan.stack} ({len(plan.body.encode())} bytes, sent through the "
        f"bootstrap bucket {plan.app_name}-deploy-<account>-{region or '<region>'}) with:"
    )
    given = plan.parameters(arns)
    for key, value in sorted(given.items()):
        say(f"       {key}={value}")
    defaults = {
        name: spec["Default"]
        for name, spec in plan.template.get("Parameters", {}).items()
        if "Default" in spec
    }
    for key, value in sorted(defaults.items()):
        if key not in given:
            say(f"       {key}={parameter_value(value)}   (default)")


def preflight(
    options: DeployOptions, clients_factory: Callable[[str | None], Clients], say: Callable[..., None]
) -> tuple[Plan, Clients]:
    """Every check before anything is created (``deploy.preflight``); ``PreflightFailed`` lists them all."""
    result = Preflight()
    plan: Plan | None = None
    try:
        plan = make_plan(options)
    except DeployError as exc:
        result.add(str(exc))
    try:
        clients = clients_factory(options.region)
    except DeployError as exc:
        result.add(str(exc))
        result.raise_if_any()
        raise
    arns: dict[str, str] = {}
    deployed = deployed_path(options.project_dir, options.stage)
    if deployed.exists():
        try:
            arns = parse_deployed(read_json(deployed), options.stage).function_arns
        except DeployError:
            arns = {}  # chalice deploy rewrites it
    name = plan.stack if plan else stack_name(app_name_of(options.project_dir), options.stage)
    run_checks(result, clients, stack=name, function_arns=arns, say=say)
    if shutil.which("docker") is None:  # not needed to deploy; needed to build the dbt image
        say("note: no `docker` here: build and push the dbt image from a machine with Docker (next steps)")
    assert plan is not None  # no problem found, so the plan was made
    return plan, clients


def deploy(
    options: DeployOptions,
    *,
    clients_factory: Callable[[str | None], Clients] = make_clients,
    run: Runner = run_command,
    out: TextIO | None = None,
) -> dict[str, str]:
    """chalice deploy, then the infra stack; prints the webhook URL and next steps. Returns the outputs."""
    say = functools.partial(print, file=out or sys.stdout, flush=True)
    if options.dry_run:
        print_dry_run(make_plan(options), options, say)
        return {}
    plan, clients = preflight(options, clients_factory, say)
    template_url = send_template(plan, clients, say)
    if not options.skip_chalice:
        say(f"==> chalice deploy --stage {plan.stage} ({clients.region})")
        chalice("deploy", plan.stage, options.project_dir, clients.region, run)
    deployment = parse_deployed(read_json(deployed_path(options.project_dir, plan.stage)), plan.stage)
    for parameter, arn in deployment.function_arns.items():
        if region_of_arn(arn) != clients.region:
            raise DeployError(f"{parameter} {arn} is not in {clients.region}: deploy both to one region")
    params = plan.parameters(deployment.parameters)

    say(f"==> stack {plan.stack} ({clients.region})")
    result = deploy_stack(
        clients.cloudformation,
        name=plan.stack,
        template_url=template_url,
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
    waiting: Waiting = field(default_factory=Waiting)


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
    out: TextIO | None = None,
) -> None:
    """Delete the infra stack (and, if asked, the retained artifacts bucket), then `chalice delete`."""
    say = functools.partial(print, file=out or sys.stdout, flush=True)
    stage = options.stage
    if not options.yes and not confirm(stage, read, out or sys.stdout):
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
        wait_for(cfn, "stack_delete_complete", name, options.waiting)
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
