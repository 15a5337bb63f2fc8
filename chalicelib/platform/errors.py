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
    "WebhookPayloadError",
]


class OrchestratorError(Exception):
    """Base of every error this project raises on purpose."""

    error_name = "Orchestrator.Error"

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        # What Lambda reports as errorType, and so what ASL Retry/Catch match on.
        cls.__name__ = cls.error_name


class ConfigurationError(OrchestratorError):
    """A required setting is missing or malformed (an operator must fix the stage config)."""

    error_name = "Orchestrator.ConfigurationError"


class SecretUnavailable(OrchestratorError):
    """A secret could not be read (Secrets Manager down, missing, or no permission)."""

    error_name = "Orchestrator.SecretUnavailable"


class InvalidInput(OrchestratorError):
    """The execution input is not valid; the message names the field."""

    error_name = "Orchestrator.InvalidInput"


class PausedConnections(OrchestratorError):
    """``paused: fail`` and at least one connection is paused."""

    error_name = "Orchestrator.PausedConnections"


class TooManyConnections(OrchestratorError):
    """More connections than one execution can hold (Step Functions' 256 KiB state and history limits)."""

    error_name = "Orchestrator.TooManyConnections"


class TokenStoreError(OrchestratorError):
    """DynamoDB refused or failed a token-store operation (transient: retry)."""

    error_name = "Orchestrator.TokenStoreError"


class SignatureError(OrchestratorError):
    """The webhook's ``X-Fivetran-Signature-256`` is missing or does not match the body."""

    error_name = "Webhook.InvalidSignature"


class WebhookPayloadError(OrchestratorError):
    """A correctly signed webhook body that is not a usable Fivetran event."""

    error_name = "Webhook.InvalidPayload"


class FivetranError(OrchestratorError):
    """The Fivetran API answered with an error, or could not be reached."""

    error_name = "Fivetran.Error"

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


class FivetranAuthError(FivetranError):
    """401/403: the API key or secret is wrong or lacks permission on the group."""

    error_name = "Fivetran.AuthError"


class FivetranNotFound(FivetranError):
    """404: the group or connection does not exist (or the key cannot see it)."""

    error_name = "Fivetran.NotFound"


class FivetranRateLimited(FivetranError):
    """429 that outlasted the client's own retries; ``retry_after`` is Fivetran's wait in seconds."""

    error_name = "Fivetran.RateLimited"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class FivetranApiError(FivetranError):
    """Any other API failure: 4xx, 5xx after retries, connection errors, unreadable bodies."""

    error_name = "Fivetran.ApiError"
