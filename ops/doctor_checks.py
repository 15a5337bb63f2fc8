"""Doctor's checks other than IAM: secrets, the dbt image, the dbt task's network, Fivetran and its
webhook, the schedule and the alarm's topic. Each reads only, and yields ``Check`` lines."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.platform.errors import FivetranAuthError
from infra.warehouse_secret import SECRET_KEYS
from ops.doctor import Check, Services, Stage
from ops.webhooks import CONNECTION_EVENTS_NOTE, REQUIRED_EVENTS, missing_connection_events

__all__ = [
    "check_alarm",
    "check_fivetran",
    "check_image",
    "check_network",
    "check_schedule",
    "check_secrets",
]

PLACEHOLDER = "REPLACE_ME"
INTERNET = "0.0.0.0/0"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _secret_text(services: Services, secret_id: str) -> str | None:
    try:
        return str(
            services.aws("secretsmanager").get_secret_value(SecretId=secret_id).get("SecretString") or ""
        )
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            return None
        raise


def _put_command(stage: Stage, secret_id: str, value: str) -> str:
    return (
        f"aws secretsmanager put-secret-value --region {stage.region} "
        f"--secret-id {secret_id} --secret-string {value}"
    )


def _json_secret_problem(text: str | None, keys: tuple[str, ...]) -> str | None:
    if text is None:
        return "does not exist"
    try:
        data = json.loads(text)
    except ValueError:
        return "is not JSON"
    if not isinstance(data, dict):
        return "is not a JSON object"
    missing = [k for k in keys if not str(data.get(k) or "").strip()]
    placeholders = [k for k in keys if str(data.get(k, "")).strip() == PLACEHOLDER]
    if missing:
        return f"has no {', '.join(missing)}"
    if placeholders:
        return f"still holds the generated placeholder in {', '.join(placeholders)}"
    return None


def check_secrets(stage: Stage, services: Services) -> Iterator[Check]:
    api = stage.secret_id("FivetranApiSecretArn", "fivetran-api")
    problem = _json_secret_problem(_secret_text(services, api), ("api_key", "api_secret"))
    value = """'{"api_key": "...", "api_secret": "..."}'"""
    yield Check(
        "secret fivetran-api",
        problem is None,
        "holds an API key and secret"
        if problem is None
        else f"{api} {problem}: {_put_command(stage, api, value)}",
    )
    warehouse = stage.secret_id("WarehouseSecretArn", "warehouse")
    # The keys of the stack's DbtAdapter (snowflake when a stack predates the parameter).
    keys = SECRET_KEYS.get(stage.parameters.get("DbtAdapter") or "snowflake", SECRET_KEYS["snowflake"])
    problem = _json_secret_problem(_secret_text(services, warehouse), keys)
    yield Check(
        "secret warehouse",
        problem is None,
        f"holds {', '.join(keys)}"
        if problem is None
        else f"{warehouse} {problem}: {_put_command(stage, warehouse, 'file://warehouse.json')}",
    )
    webhook = stage.secret_id("WebhookSecretArn", "webhook-secret")
    text = _secret_text(services, webhook)
    ok = bool(text and text.strip() and PLACEHOLDER not in text)
    yield Check(
        "secret webhook-secret",
        ok,
        "holds a signing secret"
        if ok
        else f"{webhook} is missing or empty: deploy again (`make deploy STAGE={stage.stage}`)",
    )


def check_image(stage: Stage, services: Services) -> Iterator[Check]:
    tag = stage.parameters.get("DbtImageTag", "")
    uri = stage.outputs.get(
        "RepositoryUri", f"<account>.dkr.ecr.{stage.region}.amazonaws.com/{stage.app}-{stage.stage}-dbt"
    )
    repository = uri.split("/", 1)[-1]
    try:
        services.aws("ecr").describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ClientError as exc:
        if _code(exc) not in {"ImageNotFoundException", "RepositoryNotFoundException"}:
            raise
        yield Check(
            "dbt image",
            False,
            f"{repository} has no image tagged {tag}: docker build -t {uri}:{tag} dbt_container && "
            f"docker push {uri}:{tag} (log in first: docs/first-deploy.md)",
        )
        return
    yield Check("dbt image", True, f"{uri}:{tag} is in ECR")


def _route_tables(ec2: Any, subnet: str, vpc: str) -> list[dict[str, Any]]:
    """The subnet's route table: its explicit association, else the VPC's main table."""
    explicit = ec2.describe_route_tables(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])[
        "RouteTables"
    ]
    if explicit:
        return list(explicit)
    main = ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"]
    return list(main)


def _egress(tables: list[dict[str, Any]]) -> str | None:
    for table in tables:
        for route in table.get("Routes", []):
            if route.get("DestinationCidrBlock") != INTERNET or route.get("State", "active") != "active":
                continue
            target = (
                route.get("NatGatewayId") or route.get("GatewayId") or route.get("TransitGatewayId") or ""
            )
            if target and target != "local":
                return str(target)
    return None


def check_network(stage: Stage, services: Services) -> Iterator[Check]:
    ec2 = services.aws("ec2")
    subnets = stage.list_parameter("SubnetIds")
    public_ip = stage.parameters.get("AssignPublicIp") == "ENABLED"
    described = ec2.describe_subnets(SubnetIds=subnets)["Subnets"] if subnets else []
    problems, routes = [], []
    for subnet in described:
        target = _egress(_route_tables(ec2, subnet["SubnetId"], subnet["VpcId"]))
        if target is None:
            problems.append(f"{subnet['SubnetId']} has no active route to {INTERNET}")
        elif target.startswith("igw-") and not public_ip:
            problems.append(
                f"{subnet['SubnetId']} routes to an internet gateway ({target}) "
                "but AssignPublicIp is DISABLED"
            )
        else:
            routes.append(f"{subnet['SubnetId']} → {target}")
    if not described:
        problems.append("the stack names no subnet (SubnetIds)")
    if problems:
        yield Check(
            "network",
            False,
            "; ".join(problems)
            + ": the dbt task cannot reach ECR, Secrets Manager or the warehouse. Give the "
            "subnets a NAT gateway route (private) or use public subnets with AssignPublicIp=ENABLED "
            "(infra/params-<stage>.json), then deploy again",
        )
        return
    yield Check("network", True, "the dbt task's subnets reach the internet: " + ", ".join(routes))


def check_fivetran(stage: Stage, services: Services) -> Iterator[Check]:
    """The API key works (listing the account's webhooks), and the stage's webhook is there."""
    try:
        hooks = services.fivetran().list_webhooks()
    except FivetranAuthError as exc:
        secret = stage.secret_id("FivetranApiSecretArn", "fivetran-api")
        yield Check(
            "Fivetran API key", False, f"Fivetran refused it ({exc}): put a valid key and secret in {secret}"
        )
        return
    yield Check("Fivetran API key", True, "Fivetran accepts it")
    if stage.webhook_url is None:
        yield Check(
            "Fivetran webhook", False, "; ".join(stage.problems) or "the stage's webhook URL is unknown"
        )
        return
    url = stage.webhook_url.rstrip("/")
    mine = [h for h in hooks if str(h.get("url", "")).rstrip("/") == url]
    register = f"orchestrator register-webhook --stage {stage.stage} --group <group_id>"
    if not mine:
        yield Check("Fivetran webhook", False, f"no webhook posts to {url}: {register}")
        return
    good = [
        h
        for h in mine
        if h.get("active", True) is not False and set(REQUIRED_EVENTS) <= set(h.get("events") or [])
    ]
    if good:
        hook = good[0]
        sent = [e for e in hook.get("events") or [] if isinstance(e, str)]
        detail = f"{hook.get('id')} is active and sends {', '.join(sent)} to {url}"
        short = missing_connection_events(hook)
        if short:
            detail += (
                f" (not {', '.join(short)}: {CONNECTION_EVENTS_NOTE};"
                f" add them in Fivetran, or delete it and run {register})"
            )
        yield Check("Fivetran webhook", True, detail)
        return
    hook = mine[0]
    missing = [e for e in REQUIRED_EVENTS if e not in (hook.get("events") or [])]
    why = []
    if hook.get("active", True) is False:
        why.append("is inactive (Fivetran disables a webhook after about 24 hours of failed deliveries)")
    if missing:
        why.append(f"does not send {', '.join(missing)}")
    fix = (
        f"run {register} (it re-activates the webhook)"
        if not missing
        else f"fix it in Fivetran's dashboard, or delete it and run {register}"
    )
    yield Check("Fivetran webhook", False, f"{hook.get('id')} {' and '.join(why)}: {fix}")


def check_schedule(stage: Stage, services: Services) -> Iterator[Check]:
    expression = stage.parameters.get("ScheduleExpression", "")
    if not expression:
        yield Check("schedule", True, "none configured (ScheduleExpression is empty): runs start on demand")
        return
    name = f"{stage.app}-{stage.stage}-run"
    try:
        schedule = services.aws("scheduler").get_schedule(Name=name)
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
        yield Check(
            "schedule", False, f"{name} does not exist: deploy again (`make deploy STAGE={stage.stage}`)"
        )
        return
    machine = stage.outputs.get("StateMachineArn", "")
    problems = []
    if schedule.get("State") != "ENABLED":
        problems.append(f"is {schedule.get('State')}")
    if schedule.get("Target", {}).get("Arn") != machine:
        problems.append(f"starts {schedule.get('Target', {}).get('Arn')}, not {machine}")
    if problems:
        yield Check(
            "schedule",
            False,
            f"{name} {' and '.join(problems)}: deploy again (`make deploy STAGE={stage.stage}`)",
        )
        return
    yield Check("schedule", True, f"{name} ({schedule.get('ScheduleExpression', expression)}) starts runs")


def check_alarm(stage: Stage, services: Services) -> Iterator[Check]:
    topic = stage.parameters.get("AlarmTopicArn", "")
    if not topic:
        yield Check(
            "alarm topic",
            True,
            "none configured (AlarmTopicArn is empty): failed runs alarm but notify no one",
        )
        return
    name = f"{stage.app}-{stage.stage}-failed-runs"
    alarms = services.aws("cloudwatch").describe_alarms(AlarmNames=[name]).get("MetricAlarms", [])
    if not alarms:
        yield Check(
            "alarm topic",
            False,
            f"alarm {name} does not exist: deploy again (`make deploy STAGE={stage.stage}`)",
        )
        return
    if topic not in alarms[0].get("AlarmActions", []):
        yield Check("alarm topic", False, f"alarm {name} does not notify {topic}: deploy again")
        return
    try:
        services.aws("sns").get_topic_attributes(TopicArn=topic)
    except ClientError as exc:
        if _code(exc) != "NotFound":
            raise
        yield Check(
            "alarm topic", False, f"{topic} does not exist: create it, or set AlarmTopicArn to one that does"
        )
        return
    yield Check("alarm topic", True, f"alarm {name} notifies {topic}")
