"""Where a command acts: a deployed stage in AWS, or the local runtime (``--local``).

- ``--stage S``: the CloudFormation stack ``<app>-S-infra`` gives the state machine ARN and the
  secrets' ARNs (Secrets Manager holds the webhook secret and the Fivetran API key);
  ``.chalice/deployed/S.json`` gives the API's URL, hence the webhook URL.
- ``--local`` / ``--state-file PATH``: the state file written by ``python -m local serve`` gives
  the moto endpoint, the simulator and the local-only secrets. Executions run inside that
  process, where the handlers live; commands only call its endpoints.

Everything is read lazily and once: ``runs`` never needs the API URL, the secrets or Fivetran.
``ORCHESTRATOR_PROJECT_DIR`` points at another checkout's ``.chalice/`` (default: this repo).
"""

from __future__ import annotations

import functools
import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from chalicelib.safety_net.webhook_watchdog import WebhookWatch
from contracts.state_file import LocalState, read_state, state_file_path
from infra import InfraError
from infra.outputs import (
    DEFAULT_APP_NAME,
    deployed_path,
    parse_deployed,
    read_json,
    stack_name,
    stack_outputs,
    webhook_url,
)
from ops.errors import OpsError, UsageProblem
from ops.fivetran_admin import FivetranAdmin

__all__ = ["LocalTarget", "StageTarget", "Target", "TargetSpec", "resolve_target"]

PROJECT_DIR_ENV = "ORCHESTRATOR_PROJECT_DIR"
STAGE_ENV = "ORCHESTRATOR_STAGE"
DEFAULT_FIVETRAN_URL = "https://api.fivetran.com"
PLACEHOLDER = "REPLACE_ME"
REPO_ROOT = Path(__file__).resolve().parent.parent
# The stack's secret outputs and the names they have (infra/README.md, "Names").
SECRET_NAMES = {
    "FivetranApiSecretArn": "fivetran-api",
    "WebhookSecretArn": "webhook-secret",
    "WarehouseSecretArn": "warehouse",
}


@dataclass(frozen=True)
class TargetSpec:
    """The target options as given on the command line (resolved by ``resolve_target``)."""

    stage: str | None = None
    local: bool = False
    state_file: Path | None = None
    region: str | None = None


class Target(ABC):
    """What every command needs; subclasses say where it comes from."""

    label: str  # "stage dev (eu-west-1)" / "the local runtime"
    flag: str  # how to name this target on a command line: "--stage dev" / "--local"
    poll_seconds: float  # how often `start-run --wait` asks about the run

    @abstractmethod
    def stepfunctions(self) -> Any:
        """A Step Functions client."""

    @abstractmethod
    def s3(self) -> Any:
        """An S3 client (a distributed run's ``outcomes.json``)."""

    @property
    @abstractmethod
    def state_machine_arn(self) -> str:
        """The orchestrator's state machine."""

    @abstractmethod
    def webhook_url(self) -> str:
        """Where Fivetran posts: the API's ``/webhooks/fivetran``."""

    @abstractmethod
    def webhook_secret(self) -> str:
        """The secret the route verifies signatures with."""

    @abstractmethod
    def fivetran_url(self) -> str:
        """The Fivetran API's base URL."""

    def client(self, service: str) -> Any:
        """Any AWS client of this target (``stop`` uses ECS, ``logs`` CloudWatch Logs)."""
        raise NotImplementedError(service)

    def check_group(self, group_id: str) -> None:
        """Refuse a group this target cannot have (a deployed stage leaves it to Fivetran)."""
        return None

    @abstractmethod
    def fivetran(self) -> FivetranAdmin:
        """A Fivetran client with this target's API key."""

    def webhook_watch(self) -> WebhookWatch | None:
        """The safety net's webhook watchdog items in this target's token table (None: unknown)."""
        return None


class LocalTarget(Target):
    poll_seconds = 0.5

    def __init__(self, state: LocalState, path: Path) -> None:
        self.state = state
        self.label = "the local runtime"
        default = state_file_path(None)
        self.flag = "--local" if path.resolve() == default.resolve() else f"--state-file {path}"
        self._session = boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto accepts anything
            region_name=state.region,
        )
        self._sfn: Any = None
        self._s3: Any = None

    def client(self, service: str) -> Any:
        """A client of the runtime's moto for ``service`` (the operator's keys, as the other calls)."""
        # Any service by name: the stubs type each client by a literal service name only.
        return self._session.client(service, endpoint_url=self.state.aws_endpoint_url)  # type: ignore[call-overload]

    def stepfunctions(self) -> Any:
        if self._sfn is None:
            self._sfn = self._session.client("stepfunctions", endpoint_url=self.state.aws_endpoint_url)
        return self._sfn

    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = self._session.client("s3", endpoint_url=self.state.aws_endpoint_url)
        return self._s3

    @property
    def state_machine_arn(self) -> str:
        return self.state.state_machine_arn

    def webhook_url(self) -> str:
        return self.state.webhook_url

    def webhook_secret(self) -> str:
        return self.state.webhook_secret

    def fivetran_url(self) -> str:
        return self.state.fivetran_api_url

    def check_group(self, group_id: str) -> None:
        """The local runtime simulates one group (its scenario's ``group_id``): any other is unknown."""
        if group_id != self.state.group_id:
            raise OpsError(
                f"the local runtime has no group {group_id!r}: it simulates group {self.state.group_id!r} "
                f"(its scenario's group_id); use --group {self.state.group_id}"
            )

    def fivetran(self) -> FivetranAdmin:
        return FivetranAdmin(
            self.state.fivetran_api_url,
            self.state.fivetran_api_key,
            self.state.fivetran_api_secret,
            max_retries=2,
        )

    def webhook_watch(self) -> WebhookWatch | None:
        client = self._session.client("dynamodb", endpoint_url=self.state.aws_endpoint_url)
        return WebhookWatch(self.state.token_table, client)


class StageTarget(Target):
    poll_seconds = 5.0

    def __init__(self, stage: str, region: str | None, project_dir: Path) -> None:
        self.stage = stage
        self.project_dir = project_dir
        self.config = _chalice_config(project_dir)
        self.app_name = str(self.config.get("app_name", DEFAULT_APP_NAME))
        _check_stage(self.config, stage, project_dir)
        self._session = boto3.session.Session(region_name=region)
        if not self._session.region_name:
            raise OpsError(
                "no AWS region: pass --region or set AWS_DEFAULT_REGION (or give the profile a region)"
            )
        self.region = self._session.region_name
        self.stack = stack_name(self.app_name, stage)
        self.label = f"stage {stage} ({self.region})"
        self.flag = f"--stage {stage}"
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service)  # type: ignore[call-overload]
        return self._clients[service]

    def stepfunctions(self) -> Any:
        return self.client("stepfunctions")

    def services(self) -> Any:
        """The clients `doctor` uses (``ops.doctor.Services``): this target's AWS clients and Fivetran."""
        from ops.doctor import Services

        return Services(aws=self.client, fivetran=self.fivetran)

    def s3(self) -> Any:
        return self.client("s3")

    @functools.cached_property
    def outputs(self) -> dict[str, str]:
        try:
            return stack_outputs(self.client("cloudformation"), self.stack)
        except ClientError as exc:
            if "does not exist" in str(exc):
                raise OpsError(
                    f"stage {self.stage} is not deployed in {self.region}: there is no stack {self.stack} "
                    f"(deploy it with `make deploy STAGE={self.stage}`, or pass --region)"
                ) from None
            raise

    def _output(self, key: str) -> str:
        value = self.outputs.get(key)
        if not value:
            raise OpsError(
                f"stack {self.stack} has no output {key}: deploy again with `make deploy STAGE={self.stage}`"
            )
        return value

    @property
    def state_machine_arn(self) -> str:
        return self._output("StateMachineArn")

    def webhook_watch(self) -> WebhookWatch | None:
        return WebhookWatch(self._output("TokenTableName"), self.client("dynamodb"))

    def webhook_url(self) -> str:
        path = deployed_path(self.project_dir, self.stage)
        if not path.exists():
            raise OpsError(
                f"no {path}: run `make deploy STAGE={self.stage}` from this checkout (it records the API URL)"
            )
        try:
            deployment = parse_deployed(read_json(path), self.stage)
        except InfraError as exc:
            raise OpsError(str(exc)) from None
        if not deployment.rest_api_url:
            raise OpsError(f"{path} has no rest_api: deploy again with `make deploy STAGE={self.stage}`")
        return webhook_url(deployment.rest_api_url)

    def _secret(self, key: str) -> str:
        arn = self._secret_id(key)
        value = self.client("secretsmanager").get_secret_value(SecretId=arn).get("SecretString") or ""
        if not value.strip():
            raise OpsError(f"secret {arn} is empty")
        return value.strip()

    def webhook_secret(self) -> str:
        value = self._secret("WebhookSecretArn")
        if value.startswith("{"):  # also accepted by the webhook Lambda: {"secret": "..."}
            try:
                return str(json.loads(value)["secret"])
            except (ValueError, KeyError):
                raise OpsError("the webhook secret is JSON without a 'secret' key") from None
        return value

    def fivetran_url(self) -> str:
        environment = {
            **self.config.get("environment_variables", {}),
            **self.config["stages"][self.stage].get("environment_variables", {}),
        }
        return (
            os.environ.get("FIVETRAN_API_URL") or environment.get("FIVETRAN_API_URL") or DEFAULT_FIVETRAN_URL
        )

    def _secret_id(self, key: str) -> str:
        """A secret's ARN from the stack's outputs, else its name: ``<app>/<stage>/<name>`` is the
        contract of infra/README.md (Secrets Manager accepts a name as ``SecretId``)."""
        value = self.outputs.get(key)
        if value:
            return value
        name = SECRET_NAMES.get(key)
        if name is None:
            return self._output(key)
        return f"{self.app_name}/{self.stage}/{name}"

    def fivetran(self) -> FivetranAdmin:
        arn = self._secret_id("FivetranApiSecretArn")
        try:
            data = json.loads(self._secret("FivetranApiSecretArn"))
            key, secret = str(data["api_key"]), str(data["api_secret"])
        except (ValueError, KeyError, TypeError):
            raise OpsError(f'secret {arn} must be JSON {{"api_key": "...", "api_secret": "..."}}') from None
        if PLACEHOLDER in (key, secret):
            raise OpsError(
                f"secret {arn} still holds the placeholder the stack generated: put your Fivetran API "
                "key and secret in it first (docs/operate.md: Deploy to AWS, step 3)"
            )
        return FivetranAdmin(self.fivetran_url(), key, secret)


def _chalice_config(project_dir: Path) -> dict[str, Any]:
    path = project_dir / ".chalice" / "config.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OpsError(
            f"no {path}: run the command from the project's checkout (or set {PROJECT_DIR_ENV})"
        ) from None
    except ValueError as exc:
        raise OpsError(f"{path} is not valid JSON: {exc}") from None


def _check_stage(config: dict[str, Any], stage: str, project_dir: Path) -> None:
    stages = [name for name in config.get("stages", {}) if name != "local"]
    if stage == "local":
        raise OpsError(
            "stage 'local' is chalice local's; for the local runtime use --local (python -m local serve)"
        )
    if stage not in stages:
        raise OpsError(
            f"unknown stage {stage!r}: {project_dir / '.chalice' / 'config.json'} has "
            f"{', '.join(stages) or 'no AWS stages'} (use --local for the local runtime)"
        )


def resolve_target(spec: TargetSpec) -> Target:
    """The target the options name: ``--stage`` or ``--local``/``--state-file``, else $ORCHESTRATOR_STAGE."""
    local = spec.local or spec.state_file is not None
    if local and spec.stage:
        raise UsageProblem("give either --stage or --local (--state-file), not both")
    if local:
        path = state_file_path(spec.state_file)
        return LocalTarget(read_state(path), path)
    stage = spec.stage or os.environ.get(STAGE_ENV)
    if not stage:
        raise UsageProblem(
            "say where: --stage S for a deployed stage, or --local for `python -m local serve`"
        )
    project_dir = Path(os.environ.get(PROJECT_DIR_ENV) or REPO_ROOT)
    return StageTarget(stage, spec.region, project_dir)
