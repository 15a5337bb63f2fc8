"""The Chalice app: one thin function per entry point. Wiring only; the logic is in chalicelib/.

Entry points (names are contracts: the state machine, infra/template.yaml and README.md use them):
- ``list_connectors``  (Lambda, first state): validate the run input, list the connections and
  write them to S3 for the Distributed Map.
- ``start_sync``       (Lambda, waitForTaskToken, one per child execution): park the token, take
  a place in the API budget, trigger the sync.
- ``collect_outcomes`` (Lambda, after the Map): read the Map's results, write the run's outcomes,
  return the bounded summary the failure policy and dbt use.
- ``transform_lease``  (Lambda, before and after ``RunDbt``): take the run's transform lease (one
  dbt at a time per stage and target) or say how long to wait; give it back after dbt.
- ``POST /webhooks/fivetran``: verify the signature, complete parked tokens.
- ``reconcile_syncs``  (every minute): resolve syncs whose webhook never came; at most every
  15 minutes, check that the stage's webhook exists, is active and delivers (``webhook_watchdog``).
- ``notify_run``       (EventBridge, a run's end): send the run's message to Slack and/or SNS.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from chalice import Chalice, Rate, Response

from chalicelib.notify.notifier import RunEnded, notify_run_end
from chalicelib.platform.dependencies import Dependencies, get_dependencies
from chalicelib.platform.errors import (
    ConfigurationError,
    FivetranApiError,
    FivetranRateLimited,
    InvalidInput,
    NotificationUndelivered,
    SecretUnavailable,
)
from chalicelib.platform.log import logger, names_run
from chalicelib.platform.metrics import record_safety_net_pass, record_webhook_answer
from chalicelib.platform.timeutil import format_asl_timestamp, parse_timestamp, utcnow
from chalicelib.run.fanout import collect_run, write_items
from chalicelib.run.listing import list_connectors as list_connections
from chalicelib.run.reconcile import UnavailableFivetran, reconcile
from chalicelib.run.retries import note_retry
from chalicelib.run.run_input import parse_run_input
from chalicelib.run.syncs import DEFAULT_RATE_LIMIT_WAIT_SECONDS, SyncRequest
from chalicelib.run.syncs import start_sync as park_and_trigger
from chalicelib.run.webhook_watchdog import WebhookWatch, watch_webhook
from chalicelib.tokens.identity import SyncRecord
from chalicelib.webhook.handler import handle_webhook, media_type_hint

# Time kept back from a Lambda's remaining time: no Fivetran wait may eat into it.
LAMBDA_MARGIN_SECONDS = 5.0
# The webhook answers Fivetran within seconds: its one sync-history read is short.
WEBHOOK_HISTORY_TIMEOUT_SECONDS = 3.0


def _remaining_seconds(context: Any) -> float | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    return None if remaining is None else max(0.0, remaining() / 1000 - LAMBDA_MARGIN_SECONDS)


def _history_reader(deps: Dependencies, timeout: float | None = None) -> Any:
    """Reads a connection's sync history; an unreadable secret counts as Fivetran being unavailable.
    ``timeout`` bounds the whole read, retries and backoff included (the webhook's 3 s)."""

    def read(connection_id: str, start: Any, end: Any) -> list[SyncRecord]:
        try:
            client = deps.fivetran()
        except (ConfigurationError, SecretUnavailable) as exc:
            raise FivetranApiError(f"cannot call Fivetran: {exc}") from exc
        if timeout is not None:  # the whole read, retries included, ends within ``timeout``
            client.set_deadline(timeout)
        return client.sync_history(connection_id, start, end, timeout=timeout)

    return read


# configure_logs=False: Chalice would otherwise set the "fivetran-orchestrator" logger (the one the
# Powertools JSON logger uses, named after the service) to ERROR and add a plain-text handler.
app = Chalice(app_name="fivetran-orchestrator", configure_logs=False)


def _run_files(deps: Dependencies, event: dict[str, Any]) -> Any:
    """The run's files, from the bucket and execution name the state machine passes."""
    return deps.run_files(str(event.get("artifacts_bucket") or ""), str(event.get("execution_name") or ""))


@app.lambda_function(name="list_connectors")
@names_run
def list_connectors(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Input: ``{"input": <execution input>, "execution_start", "execution_name", "artifacts_bucket",
    "defaults"}`` from the state machine (a bare execution input also works, for manual invokes:
    then nothing is written to S3 and the connections come back in the answer).

    Output: ``{"items": {"bucket", "key", "count"}, "skipped": [first 100], "skipped_count",
    "options", "retry_at", "input"}``."""
    wrapped = isinstance(event, dict) and "input" in event and "defaults" in event
    raw = event["input"] if wrapped else event
    deps = get_dependencies()
    options = parse_run_input(
        raw,
        defaults=event.get("defaults") if wrapped else None,
        started_at=event.get("execution_start") if wrapped else None,
        max_connections=deps.settings.max_connections_per_run,
    )
    fivetran = deps.fivetran()
    fivetran.set_deadline(_remaining_seconds(context))
    try:
        listing = list_connections(fivetran, options, max_connections=deps.settings.max_connections_per_run)
    except FivetranRateLimited as exc:
        # The wait moves to the state machine (a Wait until Fivetran's time, then list again),
        # unless it would outlast the run's deadline.
        retry_at = utcnow() + timedelta(seconds=exc.retry_after or DEFAULT_RATE_LIMIT_WAIT_SECONDS)
        deadline = parse_timestamp(options.to_dict().get("deadline"))
        if deadline is not None and retry_at > deadline:
            raise
        logger.warning("listing rate-limited; the run waits", extra={"retry_after_s": exc.retry_after})
        return {
            "items": None,
            "skipped": [],
            "skipped_count": 0,
            "options": options.to_dict(),
            "retry_at": format_asl_timestamp(retry_at, round_up=True),
            "input": None,  # the state machine lists again from $$.Execution.Input: ids never ride the state
        }
    if not wrapped:
        return {**listing.to_dict(options), "retry_at": None, "input": None}
    files = _run_files(deps, event)
    written = write_items(files, listing.connectors, listing.skipped)
    if options.retry_of:
        note_retry(files, deps.run_files(files.bucket, options.retry_of))
    return {**written, "options": options.to_dict(), "retry_at": None, "input": None}


@app.lambda_function(name="start_sync")
@names_run
def start_sync(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = SyncRequest(event)
    deps = get_dependencies()
    remaining = _remaining_seconds(context)

    def fivetran() -> Any:
        client = deps.fivetran()
        client.set_deadline(remaining)
        return client

    return park_and_trigger(
        request,
        deps.store,
        fivetran,
        deps.resolver(),
        now=utcnow(),
        ttl_margin_seconds=deps.settings.token_ttl_margin_seconds,
        history_reader=_history_reader(deps),
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
    return collect_run(
        _run_files(deps, event),
        deps.s3_client(),
        event["map_run"],
        execution_arn=str(event.get("execution_arn") or ""),
        paused="fail" if event.get("paused") == "fail" else "skip",
    )


@app.lambda_function(name="transform_lease")
@names_run
def transform_lease(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Input: ``{"action": "take" | "release", "target", "execution_id"}``, and for ``take``
    ``"deadline"`` (the run's, ASL timestamp), ``"dbt_timeout_seconds"`` and ``"previous"`` (the
    last answer, ``$.transform_lease``). Output: ``take``: ``LeaseAnswer.to_dict()``; ``release``:
    ``{"released": bool}``. Errors: ``Orchestrator.InvalidInput``, ``Orchestrator.TransformLeaseError``
    (retried), ``Orchestrator.TransformLeaseTimedOut`` (names the holder)."""
    if not isinstance(event, dict) or event.get("action") not in ("take", "release"):
        raise InvalidInput("transform_lease expects {'action': 'take' | 'release', 'target', 'execution_id'}")
    target, execution_id = str(event.get("target") or ""), str(event.get("execution_id") or "")
    if not target or not execution_id:
        raise InvalidInput("transform_lease needs a 'target' and an 'execution_id'")
    leases = get_dependencies().transform_leases
    if leases is None:
        raise ConfigurationError("no transform lease store: build Dependencies with from_clients")
    if event["action"] == "release":
        return {"released": leases.release(target=target, execution_id=execution_id)}
    previous = event.get("previous")
    return leases.take(
        target=target,
        execution_id=execution_id,
        now=utcnow(),
        deadline=parse_timestamp(event.get("deadline")),
        dbt_timeout_seconds=int(event.get("dbt_timeout_seconds") or 0),
        previous=previous if isinstance(previous, dict) else None,
    ).to_dict()


@app.middleware("http")
def _media_type_hint(event: Any, get_response: Callable[[Any], Response]) -> Response:
    response = get_response(event)
    response.body = media_type_hint(response.status_code, response.body)
    return response


@app.route("/webhooks/fivetran", methods=["POST"], content_types=["application/json"])
def fivetran_webhook() -> Response:
    started = time.monotonic()
    response = _answer_webhook()
    record_webhook_answer(response.status_code, (time.monotonic() - started) * 1000)
    return response


def _answer_webhook() -> Response:
    request: Any = app.current_request  # chalice: Request | None (set for a route); raw_body: bytes here
    try:
        deps = get_dependencies()
        result = handle_webhook(
            request.raw_body or b"",
            request.headers or {},
            secret=deps.secrets.webhook_secrets,
            resolver=deps.resolver,
            history_reader=_history_reader(deps, WEBHOOK_HISTORY_TIMEOUT_SECONDS),
        )
    except ConfigurationError as exc:
        # The one catch of the webhook path for a stage not configured (no AWS, a missing setting or
        # secret name): what is missing and what provides it (never a secret); Fivetran retries.
        logger.error("webhook cannot run: stage not configured", extra={"error": str(exc)})
        return Response({"error": f"webhook unavailable: {exc}"}, status_code=503)
    except Exception:  # never a stack trace to the caller
        logger.exception("webhook failed unexpectedly")
        return Response({"error": "internal error"}, status_code=500)
    if result.status < 300:  # a delivery reached us: the webhook watchdog's proof of life
        WebhookWatch(deps.store.table_name, deps.store.client).note_delivery(
            time.time(), _reached_at(request)
        )
    return Response(result.body, status_code=result.status)


def _reached_at(request: Any) -> str | None:
    """The URL API Gateway was called at (``https://<domainName><path>``); None outside API Gateway."""
    context = getattr(request, "context", None) or {}
    domain, path = context.get("domainName"), context.get("path")
    return f"https://{domain}{path}" if domain and path else None


@app.schedule(Rate(1, unit=Rate.MINUTES), name="reconcile_syncs")
def reconcile_syncs(event: Any) -> dict[str, Any]:
    deps = get_dependencies()
    context = getattr(event, "context", None)
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    fivetran: Any
    try:
        fivetran = deps.fivetran()
        fivetran.set_deadline(_remaining_seconds(context))
    except (ConfigurationError, SecretUnavailable) as exc:
        logger.error("safety net cannot read Fivetran; heartbeats only", extra={"error": str(exc)})
        fivetran = UnavailableFivetran(str(exc))
    report = reconcile(
        deps.store,
        fivetran,
        deps.resolver(),
        now=utcnow(),
        older_than_seconds=deps.settings.reconcile_after_seconds,
        max_connections=deps.settings.reconcile_max_tokens,
        remaining_ms=remaining or (lambda: 10**9),
        auth_failure_seconds=deps.settings.fivetran_auth_failure_seconds,
    )
    summary = report.to_dict()
    record_safety_net_pass(summary)
    watch_webhook(
        WebhookWatch(deps.store.table_name, deps.store.client),
        None if isinstance(fivetran, UnavailableFivetran) else fivetran,
        now=time.time(),
        found_ends=report.resolution.completed,
        url=deps.settings.webhook_url,
        interval_seconds=deps.settings.webhook_watchdog_seconds,
    )
    return summary


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
    answer = notify_run_end(ended, stepfunctions=deps.stepfunctions, s3=deps.s3, channels=channels)
    if answer["deliveries"] and not answer["sent"]:
        raise NotificationUndelivered(
            f"run {answer['run']}: no channel took its message: "
            + "; ".join(f"{d['channel']}: {d['detail']}" for d in answer["deliveries"])
        )
    return answer
