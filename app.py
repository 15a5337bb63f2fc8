"""The Chalice app: one thin function per entry point. Wiring only; the logic is in chalicelib/.

Each entry point parses its event, calls one function of ``chalicelib/`` with the stage's clients
(``chalicelib/wiring.py``, the composition root) and shapes the answer.

Entry points (names are contracts: the state machine, infra/template.yaml and README.md use them):
- ``list_connectors``  (Lambda, first state): validate the run input, list the connections and
  write them to S3 for the Distributed Map (``chalicelib/run/list_state.py``).
- ``start_sync``       (Lambda, waitForTaskToken, one per child execution): park the token, take
  a place in the API budget, trigger the sync (``chalicelib/run/syncs.py``).
- ``collect_outcomes`` (Lambda, after the Map): read the Map's results, write the run's outcomes,
  return the bounded summary the failure policy and dbt use (``chalicelib/run/fanout.py``).
- ``transform_lease``  (Lambda, before and after ``RunDbt``): take the run's transform lease (one
  dbt at a time per stage and target) or say how long to wait; give it back after dbt.
- ``POST /webhooks/fivetran``: verify the signature, complete parked tokens (``chalicelib/webhook/``).
- ``reconcile_syncs``  (every minute): resolve syncs whose webhook never came; at most every
  15 minutes, check that the stage's webhook exists, is active and delivers (``chalicelib/safety_net/``).
- ``notify_run``       (EventBridge, a run's end): send the run's message to Slack and/or SNS.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from chalice import Chalice, Rate, Response

from chalicelib.notify.notifier import RunEnded, send_run_end
from chalicelib.platform.errors import ConfigurationError, InvalidInput
from chalicelib.platform.log import logger, names_run
from chalicelib.platform.metrics import record_webhook_answer
from chalicelib.platform.timeutil import lambda_remaining_ms, lambda_time_budget, utcnow
from chalicelib.run.fanout import collect_run
from chalicelib.run.list_state import ListRequest, list_for_run
from chalicelib.run.syncs import SyncRequest
from chalicelib.run.syncs import start_sync as park_and_trigger
from chalicelib.run.transform_lease import LeaseRequest, answer_lease
from chalicelib.safety_net.scheduled import safety_net_pass
from chalicelib.webhook.handler import media_type_hint
from chalicelib.webhook.route import Delivery, receive
from chalicelib.wiring import get_dependencies

# configure_logs=False: Chalice would otherwise set the "fivetran-orchestrator" logger (the one the
# Powertools JSON logger uses, named after the service) to ERROR and add a plain-text handler.
app = Chalice(app_name="fivetran-orchestrator", configure_logs=False)


@app.lambda_function(name="list_connectors")
@names_run
def list_connectors(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Input and output: ``chalicelib/run/list_state.py``."""
    request = ListRequest.from_event(event)
    deps = get_dependencies()
    fivetran = deps.fivetran().within(lambda_time_budget(context))
    return list_for_run(request, fivetran, deps, max_connections=deps.settings.max_connections_per_run)


@app.lambda_function(name="start_sync")
@names_run
def start_sync(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Input: ``chalicelib.run.syncs.SyncRequest``; output: ``chalicelib.run.syncs.start_sync``'s."""
    request = SyncRequest(event)
    deps = get_dependencies()
    fivetran = deps.stage_fivetran(lambda_time_budget(context))
    return park_and_trigger(
        request,
        deps.store,
        fivetran,
        deps.resolver(),
        now=utcnow(),
        ttl_margin_seconds=deps.settings.token_ttl_margin_seconds,
        history_reader=fivetran.sync_history,
        budget=deps.budget(),
    )


@app.lambda_function(name="collect_outcomes")
@names_run
def collect_outcomes(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Input: ``{"map_run": {"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}, "execution_arn",
    "execution_name", "artifacts_bucket", "paused"}`` (``paused``: the run's policy, default skip).
    Output: ``chalicelib.run.fanout.collect_run``'s summary
    (counts, at most 100 outcomes, ``outcomes`` and ``exclude_sources_uri``)."""
    if not isinstance(event, dict) or not isinstance(event.get("map_run"), dict):
        raise InvalidInput(
            "collect_outcomes expects {'map_run': {...}, 'execution_name', 'artifacts_bucket'}"
        )
    deps = get_dependencies()
    files = deps.run_files(str(event.get("artifacts_bucket") or ""), str(event.get("execution_name") or ""))
    paused = "fail" if event.get("paused") == "fail" else "skip"
    execution_arn = str(event.get("execution_arn") or "")
    return collect_run(files, deps.s3_client(), event["map_run"], execution_arn=execution_arn, paused=paused)


@app.lambda_function(name="transform_lease")
@names_run
def transform_lease(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Input and output: ``chalicelib.run.transform_lease.LeaseRequest`` and ``answer_lease``. Errors:
    ``Orchestrator.InvalidInput``, ``Orchestrator.TransformLeaseError`` (retried),
    ``Orchestrator.TransformLeaseTimedOut`` (names the holder)."""
    request = LeaseRequest.from_event(event)
    return answer_lease(get_dependencies().leases(), request, now=utcnow())


@app.middleware("http")
def _media_type_hint(event: Any, get_response: Callable[[Any], Response]) -> Response:
    response = get_response(event)
    response.body = media_type_hint(response.status_code, response.body)
    return response


@app.route("/webhooks/fivetran", methods=["POST"], content_types=["application/json"])
def fivetran_webhook() -> Response:
    started = time.monotonic()
    response = _answer_webhook(app.current_request)
    record_webhook_answer(response.status_code, (time.monotonic() - started) * 1000)
    return response


def _answer_webhook(request: Any) -> Response:
    """``request``: chalice's Request (``raw_body``: bytes). Never a stack trace to the caller."""
    try:
        result = receive(
            Delivery(request.raw_body or b"", request.headers or {}, _reached_at(request)), get_dependencies()
        )
    except ConfigurationError as exc:
        # The one catch of the webhook path for a stage not configured (no AWS, a missing setting or
        # secret name): what is missing and what provides it (never a secret); Fivetran retries.
        logger.error("webhook cannot run: stage not configured", extra={"error": str(exc)})
        return Response({"error": f"webhook unavailable: {exc}"}, status_code=503)
    except Exception:
        logger.exception("webhook failed unexpectedly")
        return Response({"error": "internal error"}, status_code=500)
    return Response(result.body, status_code=result.status)


def _reached_at(request: Any) -> str | None:
    """The URL API Gateway was called at (``https://<domainName><path>``); None outside API Gateway."""
    context = getattr(request, "context", None) or {}
    domain, path = context.get("domainName"), context.get("path")
    return f"https://{domain}{path}" if domain and path else None


@app.schedule(Rate(1, unit=Rate.MINUTES), name="reconcile_syncs")
def reconcile_syncs(event: Any) -> dict[str, Any]:
    """Output: ``chalicelib.safety_net.reconcile.ReconcileReport.to_dict()``."""
    context = getattr(event, "context", None)
    deps = get_dependencies()
    return safety_net_pass(
        deps.store,
        deps.safety_net_fivetran(lambda_time_budget(context)),
        deps.resolver(),
        deps.webhook_watch(),
        deps.settings,
        remaining_ms=lambda_remaining_ms(context),
    )


@app.lambda_function(name="notify_run")
def notify_run(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Input: a Step Functions "Execution Status Change" event from the stack's rule, wrapped as
    ``{"detail", "artifacts_bucket", "topic_arn", "slack_secret"}`` (chalicelib/notify/notifier.py).
    Output: ``{"run", "status", "sent", "reason"?, "deliveries"}``. Errors: ``Orchestrator.InvalidInput``
    (not such an event), ``Orchestrator.NotificationUndelivered`` (no channel took the message: Lambda
    retries the asynchronous invocation). The run is over: nothing here changes it."""
    ended = RunEnded.from_event(event)
    deps = get_dependencies()
    channels = deps.notify_channels(slack_secret=ended.slack_secret, topic_arn=ended.topic_arn)
    return send_run_end(ended, stepfunctions=deps.stepfunctions, s3=deps.s3, channels=channels)
