"""The composition root: the one place where AWS clients and the Fivetran client are built.

It sits on top of ``chalicelib/`` (next to ``app.py``): it may import every floor, and no module of
``chalicelib/`` imports it (``tests/unit/test_house_rules.py``).

``get_dependencies()`` builds them lazily on first use (never at import) and caches them
for the life of the Lambda container. Tests and the local runtime hand in their own with
``set_dependencies(...)`` (moto-backed clients, a Fivetran client pointed at the
simulator) and call ``reset_dependencies()`` between cases.

Where AWS comes from:

- AWS stages (``dev``, ``prod``): the session's region and credentials. Without them (plain
  ``chalice local`` on a laptop) building fails with ``AwsNotConfigured``, a one-line message
  naming what is missing and the command that serves the webhook locally; the route answers 503.
- ``AWS_ENDPOINT_URL`` set (``make webhook``, ``make demo``): boto3 talks to that moto server.
- The ``local`` stage: its config names a wiring outside the Lambda package
  (``ORCHESTRATOR_LOCAL_WIRING=local.embedded_aws``), run before the clients are built. With
  ``EMBEDDED_AWS=true`` and no ``AWS_ENDPOINT_URL`` it starts an embedded, in-memory token store
  (moto's in-process DynamoDB runs the real ``TokenStore`` code), so plain ``chalice local --stage
  local`` answers with nothing else running. Neither it nor moto ships to Lambda.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from chalicelib.fivetran.client import FivetranClient, TriggerResult
from chalicelib.fivetran.syncs import SyncRecord
from chalicelib.notify.delivery import SlackWebhook, SnsTopic
from chalicelib.notify.notifier import Channel
from chalicelib.platform.config import Settings
from chalicelib.platform.errors import (
    AwsNotConfigured,
    ConfigurationError,
    FivetranApiError,
    SecretUnavailable,
)
from chalicelib.platform.log import logger
from chalicelib.platform.secrets import FivetranCredentials, SecretSource
from chalicelib.run.run_files import RunFiles
from chalicelib.run.transform_lease import TransformLeases
from chalicelib.safety_net.scheduled import SafetyNetFivetran, UnavailableFivetran
from chalicelib.safety_net.webhook_watchdog import WebhookWatch, note_every
from chalicelib.tokens.api_budget import Budget, BudgetRule
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
    "LOCAL_WIRING_ENV",
    "AwsNotConfigured",
    "Dependencies",
    "StageFivetran",
    "get_dependencies",
    "reset_dependencies",
    "set_dependencies",
]

# Set only in the `local` stage's config: the module (outside chalicelib/) that prepares local AWS.
LOCAL_WIRING_ENV = "ORCHESTRATOR_LOCAL_WIRING"
LOCAL_HINT = "to try the webhook on this machine run `chalice local --stage local` or `make webhook`"


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
    _webhook_watch: WebhookWatch | None = field(default=None, repr=False)

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

    def stage_fivetran(
        self, budget_seconds: float | None, request_timeout: float | None = None
    ) -> StageFivetran:
        """The Fivetran client for one handler call, built on its first call, within ``budget_seconds``."""
        return StageFivetran(self, budget_seconds, request_timeout)

    def safety_net_fivetran(self, budget_seconds: float | None) -> SafetyNetFivetran | UnavailableFivetran:
        """The safety net's client within ``budget_seconds``; ``UnavailableFivetran`` when it cannot be
        built (a missing setting, an unreadable secret): the pass then sends its heartbeats only."""
        try:
            return self.fivetran().within(budget_seconds)
        except (ConfigurationError, SecretUnavailable) as exc:
            logger.error("safety net cannot read Fivetran; heartbeats only", extra={"error": str(exc)})
            return UnavailableFivetran(str(exc))

    def webhook_secrets(self) -> Iterator[str]:
        """The secrets a webhook delivery may be signed with (``SecretSource.webhook_secrets``)."""
        return self.secrets.webhook_secrets()

    def webhook_watch(self) -> WebhookWatch:
        """The webhook watchdog's items in the token table: one instance for the container's life, so
        the route's delivery notes are throttled per container (``note_every`` of the check interval)."""
        if self._webhook_watch is None:
            self._webhook_watch = WebhookWatch(
                self.store.table_name,
                self.store.client,
                note_every_seconds=note_every(self.settings.webhook_watchdog_seconds),
            )
        return self._webhook_watch

    def leases(self) -> TransformLeases:
        if self.transform_leases is None:
            raise ConfigurationError("no transform lease store: build Dependencies with from_clients")
        return self.transform_leases

    def budget(self) -> Budget:
        return Budget(self.store.budget_slots, BudgetRule.of(self.settings))

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


@dataclass(frozen=True)
class StageFivetran:
    """The stage's Fivetran client for one handler call: built on the first call (a path that calls
    nothing never reads the API secret), every call, retry and backoff within ``budget_seconds``
    (None: no bound) and each request within ``request_timeout`` (None: the client's).

    ``trigger_sync`` lets a missing setting or an unreadable secret fail the call as it is
    (``Orchestrator.ConfigurationError``, ``Orchestrator.SecretUnavailable``); ``sync_history`` (the
    resolver's ``HistoryReader``) reads them as Fivetran being unavailable (``FivetranApiError``).
    """

    deps: Dependencies
    budget_seconds: float | None = None
    request_timeout: float | None = None

    def trigger_sync(self, connection_id: str) -> TriggerResult:
        return self.deps.fivetran().within(self.budget_seconds).trigger_sync(connection_id)

    def sync_history(self, connection_id: str, start: datetime, end: datetime) -> list[SyncRecord]:
        try:
            client = self.deps.fivetran().within(self.budget_seconds)
        except (ConfigurationError, SecretUnavailable) as exc:
            raise FivetranApiError(f"cannot call Fivetran: {exc}") from exc
        return client.sync_history(connection_id, start, end, timeout=self.request_timeout)


def _local_wiring(settings: Settings, env: Any = None) -> None:
    """Run the wiring the ``local`` stage's environment names (``ORCHESTRATOR_LOCAL_WIRING``, a module
    outside this package with ``prepare(settings)``: ``local.embedded_aws`` starts the embedded token
    store); nothing when it is unset, and never inside Lambda, whatever the config."""
    env = os.environ if env is None else env
    name = env.get(LOCAL_WIRING_ENV, "").strip()
    if not name or env.get("AWS_LAMBDA_FUNCTION_NAME"):
        return
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise ConfigurationError(
            f"{LOCAL_WIRING_ENV}={name!r} cannot be imported ({exc}): the local stage's wiring lives in "
            "the repository, not in the Lambda package; run `chalice local --stage local` from the "
            "repository root"
        ) from exc
    module.prepare(settings)


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
    _local_wiring(settings)
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
