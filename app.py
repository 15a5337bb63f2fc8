"""The Chalice app: one thin function per entry point. Wiring only; the logic is in chalicelib/.

Entry points (names are contracts, see DESIGN.md):
- ``list_connectors``  (Lambda, first state): validate the run input, list the connections.
- ``start_sync``       (Lambda, waitForTaskToken): park the token, trigger the sync.
- ``POST /webhooks/fivetran``: verify the signature, complete parked tokens.
- ``reconcile_syncs``  (every 5 minutes): resolve syncs whose webhook never came.
"""

from __future__ import annotations

import time
from typing import Any

from chalice import Chalice, Rate, Response

from chalicelib.dependencies import get_dependencies
from chalicelib.errors import ConfigurationError, SecretUnavailable
from chalicelib.listing import list_connectors as list_connections
from chalicelib.log import logger
from chalicelib.metrics import record_safety_net_pass, record_webhook_answer
from chalicelib.reconcile import reconcile
from chalicelib.run_input import parse_run_input
from chalicelib.syncs import SyncRequest
from chalicelib.syncs import start_sync as park_and_trigger
from chalicelib.timeutil import utcnow
from chalicelib.webhook import handle_webhook

# configure_logs=False: Chalice would otherwise set the "fivetran-orchestrator" logger (the one the
# Powertools JSON logger uses, named after the service) to ERROR and add a plain-text handler.
app = Chalice(app_name="fivetran-orchestrator", configure_logs=False)


@app.lambda_function(name="list_connectors")
def list_connectors(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Input: ``{"input": <execution input>, "execution_start", "defaults"}`` from the state machine
    (a bare execution input also works, for manual invokes)."""
    wrapped = isinstance(event, dict) and "input" in event and "defaults" in event
    raw = event["input"] if wrapped else event
    options = parse_run_input(
        raw,
        defaults=event.get("defaults") if wrapped else None,
        started_at=event.get("execution_start") if wrapped else None,
    )
    deps = get_dependencies()
    listing = list_connections(
        deps.fivetran(), options, max_connections=deps.settings.max_connections_per_run
    )
    return listing.to_dict(options)


@app.lambda_function(name="start_sync")
def start_sync(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = SyncRequest(event)
    deps = get_dependencies()
    return park_and_trigger(
        request,
        deps.store,
        deps.fivetran(),
        now=utcnow(),
        ttl_margin_seconds=deps.settings.token_ttl_margin_seconds,
    )


@app.route("/webhooks/fivetran", methods=["POST"], content_types=["application/json"])
def fivetran_webhook() -> Response:
    started = time.monotonic()
    response = _answer_webhook()
    record_webhook_answer(response.status_code, (time.monotonic() - started) * 1000)
    return response


def _answer_webhook() -> Response:
    request = app.current_request
    try:
        deps = get_dependencies()
        result = handle_webhook(
            request.raw_body or b"",
            request.headers or {},
            secret=deps.secrets.webhook_secrets,
            resolver=deps.resolver,
        )
    except (ConfigurationError, SecretUnavailable) as exc:
        logger.error("webhook cannot run: configuration or secrets unavailable", extra={"error": str(exc)})
        return Response({"error": "temporarily unable to process; retry later"}, status_code=503)
    except Exception:  # never a stack trace to the caller
        logger.exception("webhook failed unexpectedly")
        return Response({"error": "internal error"}, status_code=500)
    return Response(result.body, status_code=result.status)


@app.schedule(Rate(5, unit=Rate.MINUTES), name="reconcile_syncs")
def reconcile_syncs(event: Any) -> dict[str, Any]:
    deps = get_dependencies()
    context = getattr(event, "context", None)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    report = reconcile(
        deps.store,
        deps.fivetran(),
        deps.resolver(),
        now=utcnow(),
        older_than_seconds=deps.settings.reconcile_after_seconds,
        max_tokens=deps.settings.reconcile_max_tokens,
        remaining_ms=remaining or (lambda: 10**9),
    )
    summary = report.to_dict()
    record_safety_net_pass(summary)
    return summary
