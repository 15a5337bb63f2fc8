"""Settings: every environment variable the Lambda functions read, resolved in one place.

Names are contracts (docs/configuration.md, "Configuration (environment variables)").
``Settings.from_env`` is called at first use inside a handler, never at import, so tests and
``chalice local`` can set the environment first.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.platform.errors import ConfigurationError

__all__ = [
    "DEFAULT_FIVETRAN_API_URL",
    "DEFAULT_HOURLY_QUOTA",
    "DEFAULT_MAX_CONNECTIONS_PER_RUN",
    "DEFAULT_QUOTA_SHARE_PERCENT",
    "Settings",
]

DEFAULT_FIVETRAN_API_URL = "https://api.fivetran.com"
# The most connections one run syncs (``MAX_CONNECTIONS_PER_RUN`` overrides it): the Distributed Map runs
# at most 10,000 child executions at once (AWS docs, "Distributed Map state", quotas). The one place
# the default lives: the listing, the run input's ``connector_ids`` check and docs/configuration.md state it.
DEFAULT_MAX_CONNECTIONS_PER_RUN = 10_000
# Fivetran's quota for all API calls of a paid account, per rolling hour (trial accounts: 500);
# Fivetran docs, "REST API rate limiting". The budget's rule: chalicelib/tokens/api_budget.py.
DEFAULT_HOURLY_QUOTA = 20_000
# The triggers' share of it: the rest stays with listing, the safety net and other tools.
DEFAULT_QUOTA_SHARE_PERCENT = 50


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigurationError(f"{name} must be >= {minimum}, got {value}")
    return value


def _optional_int(env: Mapping[str, str], name: str, minimum: int = 0) -> int | None:
    return _int(env, name, -1, minimum) if env.get(name, "").strip() else None


def _percent(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value > 100:
        raise ConfigurationError(f"{name} is a percentage (0-100), got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    """What the handlers need to know about their stage."""

    token_table: str
    fivetran_api_url: str = DEFAULT_FIVETRAN_API_URL
    # Local stage: the values themselves. AWS stages: the Secrets Manager secret ids.
    fivetran_api_key: str | None = None
    fivetran_api_secret: str | None = None
    fivetran_api_secret_arn: str | None = None
    webhook_secret: str | None = None
    webhook_secret_arn: str | None = None
    # Local stage only: a second secret the route also accepts (AWS stages read AWSPREVIOUS instead).
    webhook_secret_previous: str | None = None
    # Safety net: tokens parked longer than this are checked against the Fivetran API.
    reconcile_after_seconds: int = 60
    # The Distributed Map's ItemReader takes up to 100,000,000 items; past this many connections a
    # run is refused before any sync starts (a typo'd group, not a real one, is the likely cause).
    max_connections_per_run: int = DEFAULT_MAX_CONNECTIONS_PER_RUN
    # Bound on the tokens one reconcile invocation handles.
    reconcile_max_tokens: int = 200
    # The safety net ends the waiting tokens once Fivetran has refused every read (401) this long.
    fivetran_auth_failure_seconds: int = 900
    # The webhook watchdog (chalicelib/safety_net/webhook_watchdog.py): how often the safety net checks the
    # stage's webhook (0: never), and the URL it should post to (None: the URL the route was reached at).
    webhook_watchdog_seconds: int = 900
    webhook_url: str | None = None
    # Added to the sync timeout for the DynamoDB TTL of a parked token.
    token_ttl_margin_seconds: int = 86_400
    secrets_max_age_seconds: int = 300
    http_timeout_seconds: int = 30
    http_max_retries: int = 4
    # The Fivetran API budget of the sync triggers, shared by every run (tokens/api_budget.py,
    # ``BudgetRule.of``): a
    # share of the account's hourly quota, up to `trigger_burst` at once (None: a fifth of it).
    fivetran_hourly_quota: int = DEFAULT_HOURLY_QUOTA
    trigger_quota_share_percent: int = DEFAULT_QUOTA_SHARE_PERCENT
    trigger_burst: int | None = None
    # The older per-minute setting, kept as an alias: a burst of N refilled N a minute (0: no budget).
    triggers_per_minute: int | None = None
    # Run notifications (chalicelib/notify/): defaults for what the stack's rule passes in its event.
    # The Slack webhook URL itself only in the local stage; AWS stages keep it in a secret.
    notify_slack_webhook_url: str | None = None
    notify_slack_secret_arn: str | None = None
    notify_topic_arn: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        table = env.get("TOKEN_TABLE", "").strip()
        if not table:
            raise ConfigurationError(
                "TOKEN_TABLE is not set: give the token table's name in the stage config"
            )

        def opt(name: str) -> str | None:
            value = env.get(name, "")
            return value if value.strip() else None

        settings = cls(
            token_table=table,
            fivetran_api_url=(opt("FIVETRAN_API_URL") or DEFAULT_FIVETRAN_API_URL).rstrip("/"),
            fivetran_api_key=opt("FIVETRAN_API_KEY"),
            fivetran_api_secret=opt("FIVETRAN_API_SECRET"),
            fivetran_api_secret_arn=opt("FIVETRAN_API_SECRET_ARN"),
            webhook_secret=opt("FIVETRAN_WEBHOOK_SECRET"),
            webhook_secret_arn=opt("FIVETRAN_WEBHOOK_SECRET_ARN"),
            webhook_secret_previous=opt("FIVETRAN_WEBHOOK_SECRET_PREVIOUS"),
            reconcile_after_seconds=_int(env, "RECONCILE_AFTER_SECONDS", 60),
            reconcile_max_tokens=_int(env, "RECONCILE_MAX_TOKENS", 200, minimum=1),
            max_connections_per_run=_int(
                env, "MAX_CONNECTIONS_PER_RUN", DEFAULT_MAX_CONNECTIONS_PER_RUN, minimum=1
            ),
            token_ttl_margin_seconds=_int(env, "TOKEN_TTL_MARGIN_SECONDS", 86_400),
            fivetran_auth_failure_seconds=_int(env, "FIVETRAN_AUTH_FAILURE_SECONDS", 900),
            webhook_watchdog_seconds=_int(env, "WEBHOOK_WATCHDOG_SECONDS", 900),
            webhook_url=opt("FIVETRAN_WEBHOOK_URL"),
            secrets_max_age_seconds=_int(env, "SECRETS_MAX_AGE_SECONDS", 300),
            http_timeout_seconds=_int(env, "FIVETRAN_HTTP_TIMEOUT_SECONDS", 30, minimum=1),
            http_max_retries=_int(env, "FIVETRAN_HTTP_MAX_RETRIES", 4),
            fivetran_hourly_quota=_int(env, "FIVETRAN_HOURLY_QUOTA", DEFAULT_HOURLY_QUOTA),
            trigger_quota_share_percent=_percent(
                env, "FIVETRAN_TRIGGER_QUOTA_SHARE", DEFAULT_QUOTA_SHARE_PERCENT
            ),
            trigger_burst=_optional_int(env, "FIVETRAN_TRIGGER_BURST", minimum=1),
            triggers_per_minute=_optional_int(env, "FIVETRAN_TRIGGERS_PER_MINUTE"),
            notify_slack_webhook_url=opt("NOTIFY_SLACK_WEBHOOK_URL"),
            notify_slack_secret_arn=opt("NOTIFY_SLACK_SECRET_ARN"),
            notify_topic_arn=opt("NOTIFY_TOPIC_ARN"),
        )
        return settings
