"""The one place where AWS clients and the Fivetran client are built.

``get_dependencies()`` builds them lazily on first use (never at import) and caches them
for the life of the Lambda container. Tests and the local runtime hand in their own with
``set_dependencies(...)`` (moto-backed clients, a Fivetran client pointed at the
simulator) and call ``reset_dependencies()`` between cases.

Where AWS comes from:

- AWS stages (``dev``, ``prod``): the session's region and credentials. Without them (plain
  ``chalice local`` on a laptop) building fails with ``AwsNotConfigured``, a one-line message
  naming what is missing and the command that serves the webhook locally; the route answers 503.
- ``AWS_ENDPOINT_URL`` set (``make webhook``, ``make demo``): boto3 talks to that moto server.
- The ``local`` stage (``EMBEDDED_AWS=true`` in its config) with no ``AWS_ENDPOINT_URL``: an
  embedded, in-memory token store. moto's in-process DynamoDB (``moto.mock_aws``) runs the real
  ``TokenStore`` code, so plain ``chalice local --stage local`` answers with nothing else
  running. moto is a dev dependency, imported only on this path, never on AWS.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from chalicelib.fivetran.client import FivetranClient
from chalicelib.notify.delivery import SlackWebhook, SnsTopic
from chalicelib.notify.notifier import Channel
from chalicelib.platform.config import Settings
from chalicelib.platform.errors import ConfigurationError
from chalicelib.platform.log import logger
from chalicelib.platform.secrets import FivetranCredentials, SecretSource
from chalicelib.run.run_files import RunFiles
from chalicelib.run.transform_lease import TransformLeases
from chalicelib.tokens.api_budget import Budget
from chalicelib.tokens.callbacks import StepFunctionsCallbacks
from chalicelib.tokens.resolver import Resolver
from chalicelib.tokens.store import TokenStore

if TYPE_CHECKING:  # the pinned stubs (requirements-dev.txt); not in the Lambda package
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_stepfunctions import SFNClient

__all__ = [
    "EMBEDDED_AWS_ENV",
    "AwsNotConfigured",
    "Dependencies",
    "get_dependencies",
    "reset_dependencies",
    "set_dependencies",
]

# Set to "true" only in the `local` stage's config: no AWS endpoint then means the embedded store.
EMBEDDED_AWS_ENV = "EMBEDDED_AWS"
LOCAL_HINT = "to try the webhook on this machine run `chalice local --stage local` or `make webhook`"
ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
TEMPLATE = os.path.join(ROOT, "infra", "template.yaml")


class AwsNotConfigured(ConfigurationError, error_name="Orchestrator.AwsNotConfigured"):
    """An AWS stage started without a region or credentials (e.g. plain ``chalice local``)."""


# Short, bounded AWS calls: the webhook must answer Fivetran within seconds.
# The pool covers the safety net's heartbeat threads and a local receiver's concurrent requests.
AWS_CONFIG = Config(
    connect_timeout=3,
    read_timeout=5,
    retries={"max_attempts": 3, "mode": "standard"},
    max_pool_connections=50,
)
# Run files can be a few MB (10,000 outcomes): a longer read.
S3_CONFIG = Config(connect_timeout=3, read_timeout=30, retries={"max_attempts": 5, "mode": "standard"})


@dataclass
class Dependencies:
    settings: Settings
    secrets: SecretSource
    store: TokenStore
    callbacks: StepFunctionsCallbacks
    fivetran_factory: Callable[[FivetranCredentials], FivetranClient] | None = None  # default: a real one
    s3: S3Client | None = None  # the run files (chalicelib/run/run_files.py): the Map's items and outcomes
    transform_leases: TransformLeases | None = None  # one dbt at a time per target (run/transform_lease.py)
    sns: SNSClient | None = None  # run notifications' email channel (chalicelib/notify/)
    stepfunctions: SFNClient | None = None  # DescribeExecution of an ended run (chalicelib/notify/)
    notify_retry_backoff: float = 0.5  # seconds, doubled per retry of a Slack delivery
    _fivetran: FivetranClient | None = field(default=None, repr=False)
    _credentials: FivetranCredentials | None = field(default=None, repr=False)

    def fivetran(self) -> FivetranClient:
        """The Fivetran client; rebuilt when the (cached, rotating) credentials change."""
        credentials = self.secrets.fivetran_credentials()
        if self._fivetran is None or credentials != self._credentials:
            factory = self.fivetran_factory or self._default_client
            self._fivetran = factory(credentials)
            self._credentials = credentials
        return self._fivetran

    def _default_client(self, credentials: FivetranCredentials) -> FivetranClient:
        return FivetranClient(
            self.settings.fivetran_api_url,
            credentials.api_key,
            credentials.api_secret,
            timeout=self.settings.http_timeout_seconds,
            max_retries=self.settings.http_max_retries,
            credentials_refresh=self._fresh_credentials,
            credentials_name=self.secrets.fivetran_credentials_name,
        )

    def _fresh_credentials(self) -> tuple[str, str]:
        """The API key pair read again, bypassing the secrets cache (the client calls it on a 401)."""
        fresh = self.secrets.fivetran_credentials(force=True)
        return fresh.api_key, fresh.api_secret

    def resolver(self) -> Resolver:
        return Resolver(self.store, self.callbacks)

    def budget(self) -> Budget:
        return Budget(self.store, self.settings.budget_rule())

    def notify_channels(self, *, slack_secret: str = "", topic_arn: str = "") -> list[Channel]:
        """The channels a run's message goes to: Slack when a webhook URL (local stage) or its secret is
        configured (the event's ``slack_secret`` wins over ``NOTIFY_SLACK_SECRET_ARN``), SNS when a topic is
        (the event's ``topic_arn`` wins over ``NOTIFY_TOPIC_ARN``)."""
        channels: list[Channel] = []
        secret_id = slack_secret or self.settings.notify_slack_secret_arn
        local_url = self.settings.notify_slack_webhook_url
        if secret_id:
            channels.append(
                SlackWebhook(
                    lambda: self.secrets.slack_webhook_url(secret_id), backoff=self.notify_retry_backoff
                )
            )
        elif local_url:
            channels.append(SlackWebhook(lambda: local_url, backoff=self.notify_retry_backoff))
        topic = topic_arn or self.settings.notify_topic_arn
        if topic:
            if self.sns is None:
                raise ConfigurationError(
                    "no SNS client: notifications need one (Dependencies.from_clients(sns=...))"
                )
            channels.append(SnsTopic(self.sns, topic))
        return channels

    def s3_client(self) -> S3Client:
        """The S3 client. ``ConfigurationError`` when none was handed in."""
        if self.s3 is None:
            raise ConfigurationError("no S3 client: run files need one (Dependencies.from_clients(s3=...))")
        return self.s3

    def run_files(self, bucket: str, run_name: str) -> RunFiles:
        return RunFiles(self.s3_client(), bucket, run_name)

    @classmethod
    def from_clients(
        cls,
        settings: Settings,
        *,
        dynamodb: DynamoDBClient,
        stepfunctions: SFNClient,
        secretsmanager: SecretsManagerClient | None = None,
        fivetran_factory: Callable[[FivetranCredentials], FivetranClient] | None = None,
        s3: S3Client | None = None,
        sns: SNSClient | None = None,
    ) -> Dependencies:
        from aws_lambda_powertools.utilities import parameters

        provider = (
            parameters.SecretsProvider(boto3_client=secretsmanager) if secretsmanager is not None else None
        )
        return cls(
            settings=settings,
            secrets=SecretSource(settings, provider),
            store=TokenStore(settings.token_table, dynamodb),
            callbacks=StepFunctionsCallbacks(stepfunctions),
            fivetran_factory=fivetran_factory,
            s3=s3,
            transform_leases=TransformLeases(settings.token_table, dynamodb, stepfunctions),
            sns=sns,
            stepfunctions=stepfunctions,
        )


def _embedded_requested(env: Any = None) -> bool:
    """The local stage asks for it and no AWS endpoint is set; never inside Lambda, whatever the config."""
    env = os.environ if env is None else env
    wanted = env.get(EMBEDDED_AWS_ENV, "").strip().lower() == "true"
    in_lambda = bool(env.get("AWS_LAMBDA_FUNCTION_NAME"))
    return wanted and not in_lambda and not env.get("AWS_ENDPOINT_URL", "").strip()


_embedded_lock = threading.Lock()
_embedded_mock: Any = None


def _token_table_spec() -> dict[str, Any]:
    """The token table's keys, read from ``infra/template.yaml`` (their one definition) by
    ``infra.template``, which a checkout has and the Lambda package does not: only the embedded local
    path calls this."""
    try:
        from infra.template import token_table_spec

        return token_table_spec()
    except Exception as exc:  # ImportError outside a checkout; OSError, KeyError, YAML errors...
        raise ConfigurationError(
            f"embedded token store: cannot read the table's keys from {TEMPLATE}: {exc}"
        ) from exc


def _start_embedded_aws(settings: Settings) -> None:
    """Start moto's in-process AWS once and create the token table in it (local stage only)."""
    global _embedded_mock
    with _embedded_lock:
        if _embedded_mock is not None:
            return
        try:
            from moto import mock_aws
        except ImportError:
            raise ConfigurationError(
                "the local stage's embedded token store needs moto (a dev dependency): run `make install`, "
                "then `.venv/bin/chalice local --stage local`, or `make webhook`"
            ) from None
        mock = mock_aws()
        mock.start()
        client = boto3.client("dynamodb", region_name=os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
        client.create_table(
            TableName=settings.token_table, BillingMode="PAY_PER_REQUEST", **_token_table_spec()
        )
        _embedded_mock = mock
        logger.info(
            "embedded token store: moto's in-memory DynamoDB, nothing persists across restarts",
            extra={"token_table": settings.token_table},
        )


def _check_aws(session: boto3.session.Session) -> None:
    """One clear error when an AWS stage has no region or no credentials (before any client is built)."""
    if not session.region_name:
        raise AwsNotConfigured(
            "no AWS region configured: set AWS_DEFAULT_REGION (or a profile with a region) and credentials "
            f"to use this stage's AWS resources; {LOCAL_HINT}"
        )
    if session.get_credentials() is None:
        raise AwsNotConfigured(
            "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
            f"to use this stage's AWS resources; {LOCAL_HINT}"
        )


def build_dependencies(settings: Settings | None = None) -> Dependencies:
    """Real clients for the current environment (``AWS_ENDPOINT_URL`` is honoured by boto3)."""
    settings = settings or Settings.from_env()
    if _embedded_requested():
        _start_embedded_aws(settings)
    session = boto3.session.Session()
    _check_aws(session)
    return Dependencies.from_clients(
        settings,
        dynamodb=session.client("dynamodb", config=AWS_CONFIG),
        stepfunctions=session.client("stepfunctions", config=AWS_CONFIG),
        s3=session.client("s3", config=S3_CONFIG),
        sns=session.client("sns", config=AWS_CONFIG),
        secretsmanager=session.client("secretsmanager", config=AWS_CONFIG)
        if settings.fivetran_api_secret_arn or settings.webhook_secret_arn or settings.notify_slack_secret_arn
        else None,
    )


_lock = threading.Lock()
_current: Dependencies | None = None


def get_dependencies() -> Dependencies:
    global _current
    with _lock:
        if _current is None:
            _current = build_dependencies()
        return _current


def set_dependencies(deps: Dependencies | None) -> None:
    global _current
    with _lock:
        _current = deps


def reset_dependencies() -> None:
    set_dependencies(None)
