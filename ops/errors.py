"""Readable errors for the ``orchestrator`` CLI: expected failures become one line and an exit code.

- ``OpsError`` (exit 1): something an operator must fix, said in one sentence.
- ``UsageProblem`` (exit 2): the options contradict each other or say too little.
- ``InvalidRunInput`` (exit 2): the run input (or the options that build it) is invalid.
- ``RUN_NOT_SUCCEEDED`` (exit 3): ``start-run --wait`` followed a run that did not succeed.

``readable(exc)`` turns the exceptions expected from boto3, the Fivetran client and the state
file into an ``OpsError``; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import click
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    TokenRetrievalError,
)

from chalicelib.platform.errors import FivetranError, OrchestratorError
from contracts.state_file import StateFileError

__all__ = ["RUN_NOT_SUCCEEDED", "InvalidRunInput", "OpsError", "UsageProblem", "readable"]

RUN_NOT_SUCCEEDED = 3
CREDENTIALS_HINT = (
    "set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) for the target account, "
    "or use --local for the local runtime"
)


class OpsError(click.ClickException):
    """An expected failure: click prints ``Error: <message>`` and exits 1, without a traceback."""


class UsageProblem(OpsError):
    """Options that cannot work together (exit 2, like click's own usage errors)."""

    exit_code = 2


class InvalidRunInput(OpsError):
    """The run input would fail the state machine's first state; nothing was started."""

    exit_code = 2


def _client_error(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    code = error.get("Code", "Error")
    message = error.get("Message", "")
    operation = getattr(exc, "operation_name", "the call")
    if code in {
        "ExpiredToken",
        "ExpiredTokenException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
    }:
        return f"AWS refused the credentials ({code}: {message}): {CREDENTIALS_HINT}"
    if code in {"AccessDenied", "AccessDeniedException"}:
        return f"AWS denied {operation}: {message}"
    return f"AWS {operation} failed: {code}: {message}"


def readable(exc: BaseException) -> OpsError | None:
    """The one-line error for an expected failure, or None when ``exc`` is not expected."""
    if isinstance(exc, OpsError):
        return exc
    if isinstance(exc, StateFileError | FivetranError | OrchestratorError):
        return OpsError(str(exc))
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | TokenRetrievalError):
        return OpsError(f"no usable AWS credentials ({exc}): {CREDENTIALS_HINT}")
    if isinstance(exc, NoRegionError):
        return OpsError(
            "no AWS region: pass --region or set AWS_DEFAULT_REGION (or give the profile a region)"
        )
    if isinstance(exc, EndpointConnectionError):
        return OpsError(
            f"could not reach {exc.kwargs.get('endpoint_url', 'AWS')}: is it running and reachable?"
        )
    if isinstance(exc, ClientError):
        return OpsError(_client_error(exc))
    if isinstance(exc, BotoCoreError):
        return OpsError(f"AWS call failed: {exc}")
    return None
