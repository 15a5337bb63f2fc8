"""The simulated API's error answers: Fivetran's ``{"code", "message"}`` envelope (``error_body``)
and ``ApiError``, raised by an endpoint to answer with a status other than 200."""

from __future__ import annotations

from typing import Any

ERROR_CODES = {
    400: "BadRequest",
    401: "AuthFailed",
    403: "AccessDenied",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


def error_body(status: int, message: str) -> dict[str, Any]:
    """Fivetran's error envelope: ``{"code": "<ErrorCode>", "message": "..."}``."""
    return {"code": ERROR_CODES.get(status, "Error"), "message": message}


class ApiError(Exception):
    """An answer other than 200 for one API call."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("message"))
        self.status, self.body, self.headers = status, body, headers or {}
