"""What the deploy tells the operator, pure: where config.json disagrees with the stack, and the next
steps after a deploy with the real names filled in."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from infra.warehouse_secret import SECRET_KEYS

__all__ = ["config_warnings", "next_steps", "stage_environment"]


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
    adapter = params.get("DbtAdapter") or "snowflake"
    keys = SECRET_KEYS.get(adapter, SECRET_KEYS["snowflake"])
    lines = [
        f"Webhook URL: {url or '(unknown: no rest_api in .chalice/deployed/' + stage + '.json)'}",
        "",
        f"Next steps for stage {stage}:",
        "  1. Put the Fivetran API key and secret:",
        f"       aws secretsmanager put-secret-value --region {region} \\",
        f"         --secret-id {outputs.get('FivetranApiSecretArn', '<FivetranApiSecretArn>')} \\",
        '         --secret-string \'{"api_key": "...", "api_secret": "..."}\'',
        f"  2. Put the warehouse credentials for dbt on {adapter} (JSON keys {', '.join(keys)}):",
        f"       aws secretsmanager put-secret-value --region {region} \\",
        f"         --secret-id {outputs.get('WarehouseSecretArn', '<WarehouseSecretArn>')} \\",
        "         --secret-string file://warehouse.json",
        f"  3. Build and push the dbt image with the tag the stack expects ({tag}):",
        f"       aws ecr get-login-password --region {region} | "
        f"docker login --username AWS --password-stdin {registry}",
        f"       docker build --platform {platform} --build-arg DBT_ADAPTER={adapter} "
        f"-t {repository}:{tag} dbt_container",
        f"       docker push {repository}:{tag}",
        "  4. Register the webhook with Fivetran (it signs with the generated webhook secret):",
        f"       orchestrator register-webhook --stage {stage} --group <group_id>",
        "  5. Start a run:",
        f"       aws stepfunctions start-execution --region {region} \\",
        f"         --state-machine-arn {outputs.get('StateMachineArn', '<StateMachineArn>')} \\",
        '         --input \'{"group_id": "<group_id>"}\'',
    ]
    if outputs.get("SlackWebhookSecretArn"):  # NotifySlack=true
        lines += [
            "  Run notifications to Slack: put your incoming-webhook URL:",
            f"       aws secretsmanager put-secret-value --region {region} \\",
            f"         --secret-id {outputs['SlackWebhookSecretArn']} \\",
            "         --secret-string https://hooks.slack.com/services/...",
        ]
    if outputs.get("RunNotificationsTopicArn"):  # NotifyEmail given
        email = params.get("NotifyEmail")
        lines.append(f"  Run notifications by email: confirm the subscription AWS mailed to {email}")
    return "\n".join(lines)
