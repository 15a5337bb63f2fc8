"""The webhook route's logic: verify, parse, resolve, and always answer fast and plainly.

=====================================  ======  ======================================
request                                status  what happens
=====================================  ======  ======================================
body over 1 MiB                        413     nothing
signature missing or wrong             401     nothing (checked before any parsing; during a
                                              secret rotation the previous secret is accepted
                                              until the rotation window closes)
not JSON / not an object / malformed   400     nothing; parked tokens wait for reconcile
test delivery (``test_event``, ``_`` ids)  200  nothing
other event                            200     ignored, logged
``sync_start``/``sync_end`` without    400     nothing (the reason says which field)
``sync_id``/``created``/``data.status``
``sync_start``                         200     recorded; tokens whose sync already ended completed
``sync_end``                           200     recorded; the tokens waiting for that sync completed
``pause_connector``/``delete_connector``  200     the connection's waiting tokens end at once: ``PAUSED``,
/``connection_failure``                       ``NOT_FOUND``, ``CONNECTION_FAILURE`` with Fivetran's
                                              reason (400 without ``connector_id``/``created``)
token store / Step Functions failing   503     tokens intact; Fivetran retries later
secret unavailable                     503     logged; Fivetran retries later
stage not configured                   503     raised (``ConfigurationError``): app.py answers it,
                                              naming what is missing
=====================================  ======  ======================================

A well-signed, well-formed event never gets a 5xx for anything it contains: Fivetran
disables a webhook that keeps failing. Callers never see a stack trace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.platform.errors import (
    SecretUnavailable,
    SignatureError,
    TokenStoreError,
    WebhookPayloadError,
)
from chalicelib.platform.log import logger
from chalicelib.tokens.resolver import HistoryReader, Resolver
from chalicelib.webhook.events import ConnectionEnd, parse_event
from chalicelib.webhook.signature import SIGNATURE_HEADER, verify_any

__all__ = ["MAX_BODY_BYTES", "MEDIA_TYPE_HINT", "WebhookResponse", "handle_webhook", "media_type_hint"]

MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class WebhookResponse:
    status: int
    body: dict[str, Any]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, candidate in headers.items():
            if key.lower() == lowered:
                return candidate
    return value


def handle_webhook(
    raw_body: bytes,
    headers: Mapping[str, str],
    *,
    secret: Callable[[], str | Iterable[str]],
    resolver: Callable[[], Resolver],
    history_reader: HistoryReader | None = None,
) -> WebhookResponse:
    """Answer one delivery.

    ``secret`` returns the secret, or the secrets a delivery may be signed with (current
    first). ``history_reader`` confirms a sync the webhooks alone cannot prove is a token's
    (one sync-history read; None: leave it to the safety net).
    """
    if len(raw_body) > MAX_BODY_BYTES:
        logger.warning("webhook body too large", extra={"bytes": len(raw_body)})
        return WebhookResponse(413, {"error": "payload too large", "max_bytes": MAX_BODY_BYTES})
    try:
        secrets = secret()
        matched = verify_any(
            raw_body, _header(headers, SIGNATURE_HEADER), [secrets] if isinstance(secrets, str) else secrets
        )
    except SignatureError as exc:
        logger.warning("webhook rejected", extra={"reason": str(exc), "bytes": len(raw_body)})
        return WebhookResponse(401, {"error": "invalid signature", "detail": str(exc)})
    except SecretUnavailable as exc:
        logger.error(
            "webhook secret unavailable; answering 503 so Fivetran retries", extra={"error": str(exc)}
        )
        return WebhookResponse(503, {"error": "webhook secret unavailable; retry later"})
    if matched:
        logger.info("webhook signed with the previous secret, accepted within the rotation window")
    try:
        event = parse_event(raw_body)
    except WebhookPayloadError as exc:
        logger.warning("webhook payload refused", extra={"reason": str(exc)})
        return WebhookResponse(400, {"error": "invalid payload", "detail": str(exc)})
    if event.kind == "test":
        logger.info("webhook test delivery acknowledged", extra={"event": event.event[:100]})
        return WebhookResponse(200, {"status": "ok", "test": True})
    if event.kind == "connection" and event.connection_end is not None and event.connector_id is not None:
        return _end_connection(event.connector_id, event.connection_end, resolver, history_reader)
    if event.kind == "other" or event.sync is None or event.connector_id is None:
        logger.info(
            "webhook event ignored", extra={"event": event.event[:100], "connector_id": event.connector_id}
        )
        return WebhookResponse(200, {"status": "ignored", "event": event.event[:100]})
    sync = event.sync
    ctx = {
        "connector_id": event.connector_id,
        "sync_id": sync.sync_id,
        "event": event.kind,
        "status": sync.status,
    }
    try:
        active = resolver()
        active.record(event.connector_id, sync)
        resolution = active.settle(event.connector_id, history_reader=history_reader)
    except TokenStoreError as exc:
        logger.error(
            "webhook could not reach the token store; answering 503", extra={**ctx, "error": str(exc)}
        )
        return WebhookResponse(503, {"error": "temporarily unable to process; retry later"})
    logger.info(f"webhook {event.kind} processed", extra={**ctx, **resolution.to_dict()})
    if resolution.incomplete:
        return WebhookResponse(
            503, {"error": "some tokens could not be completed; retry later", **resolution.to_dict()}
        )
    return WebhookResponse(200, {"status": "ok", **resolution.to_dict()})


def _end_connection(
    connector_id: str,
    end: ConnectionEnd,
    resolver: Callable[[], Resolver],
    history_reader: HistoryReader | None,
) -> WebhookResponse:
    """A connection event: its waiting tokens end at once (the answers are the sync events')."""
    ctx = {"connector_id": connector_id, "event": end.event, "status": end.status}
    try:
        resolution = resolver().end_connection(
            connector_id, status=end.status, at=end.at, reason=end.cause(), history_reader=history_reader
        )
    except TokenStoreError as exc:
        logger.error(
            "webhook could not reach the token store; answering 503", extra={**ctx, "error": str(exc)}
        )
        return WebhookResponse(503, {"error": "temporarily unable to process; retry later"})
    logger.info("webhook connection event processed", extra={**ctx, **resolution.to_dict()})
    if resolution.incomplete:
        return WebhookResponse(
            503, {"error": "some tokens could not be completed; retry later", **resolution.to_dict()}
        )
    return WebhookResponse(200, {"status": "ok", **resolution.to_dict()})


MEDIA_TYPE_HINT = "send Content-Type: application/json"


def media_type_hint(status: int, body: Any) -> Any:
    """Chalice's own 415 body (``{"Code": "UnsupportedMediaType", "Message": "Unsupported media type:
    <type>"}``, given before the route runs) with what to do added to its ``Message``; any other answer
    unchanged. The status stays 415."""
    if status != 415 or not isinstance(body, dict) or body.get("Code") != "UnsupportedMediaType":
        return body
    return {**body, "Message": f"{body.get('Message') or 'Unsupported media type'}; {MEDIA_TYPE_HINT}"}
