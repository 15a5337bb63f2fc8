"""Typed errors of the orchestrator.

Errors raised out of a Lambda handler reach Step Functions with ``errorType`` set to the
exception class's ``__name__``. Each error that the state machine matches therefore
carries its ASL name (``Fivetran.RateLimited``, ``Orchestrator.InvalidInput``) as its
class ``__name__``; the Python name stays importable as usual.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "FivetranApiError",
    "FivetranAuthError",
    "FivetranError",
    "FivetranNotFound",
    "FivetranRateLimited",
    "InvalidInput",
    "OrchestratorError",
    "PausedConnections",
    "SecretUnavailable",
    "SignatureError",
    "TokenStoreError",
    "TooManyConnections",
    "TransformLeaseError",
    "TransformLeaseTimedOut",
    "WebhookPayloadError",
]


class OrchestratorError(Exception):
    """Base of every error this project raises on purpose.

    A subclass names its ASL error in the class statement:
    ``class InvalidInput(OrchestratorError, error_name="Orchestrator.InvalidInput")``.
    """

    error_name = "Orchestrator.Error"

    def __init_subclass__(cls, *, error_name: str, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.error_name = error_name
        # What Lambda reports as errorType, and so what ASL Retry/Catch match on.
        cls.__name__ = error_name


class ConfigurationError(OrchestratorError, error_name="Orchestrator.ConfigurationError"):
    """A required setting is missing or malformed (an operator must fix the stage config)."""


class SecretUnavailable(OrchestratorError, error_name="Orchestrator.SecretUnavailable"):
    """A secret could not be read (Secrets Manager down, missing, or no permission)."""


class InvalidInput(OrchestratorError, error_name="Orchestrator.InvalidInput"):
    """The execution input is not valid; the message names the field."""


class PausedConnections(OrchestratorError, error_name="Orchestrator.PausedConnections"):
    """``paused: fail`` and at least one connection is paused."""


class TooManyConnections(OrchestratorError, error_name="Orchestrator.TooManyConnections"):
    """More connections than one run takes (``MAX_CONNECTIONS_PER_RUN``, the Distributed Map's ceiling)."""


class TokenStoreError(OrchestratorError, error_name="Orchestrator.TokenStoreError"):
    """DynamoDB refused or failed a token-store operation (transient: retry)."""


class SignatureError(OrchestratorError, error_name="Webhook.InvalidSignature"):
    """The webhook's ``X-Fivetran-Signature-256`` is missing or does not match the body."""


class WebhookPayloadError(OrchestratorError, error_name="Webhook.InvalidPayload"):
    """A correctly signed webhook body that is not a usable Fivetran event."""


class FivetranError(OrchestratorError, error_name="Fivetran.Error"):
    """The Fivetran API answered with an error, or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.method = method
        self.path = path


class FivetranAuthError(FivetranError, error_name="Fivetran.AuthError"):
    """401/403: the API key or secret is wrong or lacks permission on the group."""


class FivetranNotFound(FivetranError, error_name="Fivetran.NotFound"):
    """404: the group or connection does not exist (or the key cannot see it)."""


class FivetranRateLimited(FivetranError, error_name="Fivetran.RateLimited"):
    """429 that outlasted the client's own retries; ``retry_after`` is Fivetran's wait in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class FivetranApiError(FivetranError, error_name="Fivetran.ApiError"):
    """Any other API failure: 4xx, 5xx after retries, connection errors, unreadable bodies."""


class TransformLeaseError(OrchestratorError, error_name="Orchestrator.TransformLeaseError"):
    """The transform lease could not be read, written or checked (DynamoDB or Step Functions
    failed, transiently or for a missing permission): the message says which call."""


class TransformLeaseTimedOut(OrchestratorError, error_name="Orchestrator.TransformLeaseTimedOut"):
    """Another run's dbt held the transform lease past this run's bound: the message names it."""


class AwsNotConfigured(ConfigurationError, error_name="Orchestrator.AwsNotConfigured"):
    """An AWS stage started without a region or credentials (e.g. plain ``chalice local``)."""


class CallbackError(OrchestratorError, error_name="Orchestrator.CallbackError"):
    """Step Functions did not take the callback (transient): keep the token, try again later."""


class RunFilesError(OrchestratorError, error_name="Orchestrator.RunFilesError"):
    """A run file could not be read or written (missing bucket, permissions, malformed JSON)."""


class NotificationUndelivered(OrchestratorError, error_name="Orchestrator.NotificationUndelivered"):
    """A run's message reached none of the stage's channels (each delivery's reason is logged): raised so
    that Lambda retries the asynchronous invocation. The run itself is over and unchanged."""
