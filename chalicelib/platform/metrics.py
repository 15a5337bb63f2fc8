"""Operator metrics, in CloudWatch's embedded metric format (EMF): one JSON line per event on the
function's log stream, which CloudWatch turns into metrics. No API call, nothing to wait for.

This module owns every metric name and dimension; ``infra/template.yaml``'s dashboard reads them
(``tests/infra`` checks both agree). Powertools' ``EphemeralMetrics`` builds, validates and flushes
each EMF document.

=========================  ===========  ============================  =====================================
metric                     unit         dimensions (besides service)  emitted by
=========================  ===========  ============================  =====================================
``SyncOutcomes``           Count        ``outcome``                   a parked sync handed its outcome
``SyncDuration``           Seconds      ``outcome``                   same; from the trigger to the outcome
``WebhookAnswers``         Count        ``status`` (HTTP)             the webhook route, every answer
``WebhookLatency``         Milliseconds ``status``                    same
``TokensParked``           Count        -                             ``start_sync``, once the token is parked
``SafetyNetActions``       Count        ``action``                    each ``reconcile_syncs`` pass
``ConflictingSyncEnds``    Count        -                             the webhook, a contradicting end
``WebhookUnhealthy``       Count        -                             the safety net's webhook watchdog,
                                                                      each check (at most every 15 min):
                                                                      1 the stage's webhook is missing,
                                                                      inactive or silent, 0 it is healthy
=========================  ===========  ============================  =====================================

``WebhookUnhealthy`` carries no dimension but ``service``, so the stack's ``WebhookUnhealthyAlarm`` can name
it exactly; the watchdog's log line (``webhook watchdog``) says which state and why.
"""

from __future__ import annotations

import json
import math
import os
import threading
from typing import IO, Any

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

__all__ = [
    "CONFLICTING_SYNC_ENDS",
    "NAMESPACE",
    "SAFETY_NET_ACTIONS",
    "SAFETY_NET_ACTION_KEYS",
    "SERVICE",
    "SYNC_DURATION",
    "SYNC_OUTCOMES",
    "TOKENS_PARKED",
    "WEBHOOK_ANSWERS",
    "WEBHOOK_LATENCY",
    "WEBHOOK_UNHEALTHY",
    "record_conflicting_sync_end",
    "record_safety_net_pass",
    "record_sync_outcome",
    "record_token_parked",
    "record_webhook_answer",
    "record_webhook_check",
    "set_stream",
]

NAMESPACE = "FivetranOrchestrator"
# The ``service`` dimension: <app>-<stage>, so one account's stages graph apart (.chalice/config.json sets
# ORCHESTRATOR_METRICS_SERVICE per stage; the dashboard in infra/template.yaml filters on it).
SERVICE_ENV = "ORCHESTRATOR_METRICS_SERVICE"
SERVICE = "fivetran-orchestrator"

SYNC_OUTCOMES = "SyncOutcomes"
SYNC_DURATION = "SyncDuration"
WEBHOOK_ANSWERS = "WebhookAnswers"
WEBHOOK_LATENCY = "WebhookLatency"
TOKENS_PARKED = "TokensParked"
SAFETY_NET_ACTIONS = "SafetyNetActions"
CONFLICTING_SYNC_ENDS = "ConflictingSyncEnds"
WEBHOOK_UNHEALTHY = "WebhookUnhealthy"

# A reconcile report's keys -> the ``action`` dimension of SafetyNetActions.
SAFETY_NET_ACTION_KEYS = {
    "examined": "examined",
    "heartbeats": "heartbeat",
    "completed": "completed",
    "already_resolved": "already_resolved",
    "api_errors": "api_error",
    "errors": "error",
    "dropped": "dropped",
}

_stream: IO[str] | None = None
_lock = threading.Lock()


def set_stream(stream: IO[str] | None) -> None:
    """Where EMF lines go: stdout (the Lambda's log stream, Powertools' ``flush_metrics``) by default;
    the local runtime and tests point it elsewhere."""
    global _stream
    _stream = stream


def _emit(metrics: list[tuple[str, MetricUnit, float]], dimensions: dict[str, str] | None = None) -> None:
    """One EMF document: ``metrics`` sharing ``dimensions`` (and ``service``), built, validated and
    flushed by Powertools' ``EphemeralMetrics`` (its own metric set: nothing shared between threads;
    ``POWERTOOLS_METRICS_DISABLED`` honoured). Never raises: a metric must not fail the request it
    measures; a value that is not finite (JSON has no NaN: CloudWatch would drop the line) is dropped."""
    if any(not math.isfinite(value) for _, _, value in metrics):
        return
    try:
        emf = EphemeralMetrics(namespace=NAMESPACE, service=os.environ.get(SERVICE_ENV) or SERVICE)
        for name, unit, value in metrics:
            emf.add_metric(name=name, unit=unit, value=value)
        for key, dimension in (dimensions or {}).items():
            emf.add_dimension(name=key, value=dimension)
        if _stream is None:  # Lambda: Powertools prints the document on stdout, the function's log stream
            emf.flush_metrics()
            return
        if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").strip().lower() in ("1", "true", "yes", "on"):
            return
        line = json.dumps(emf.serialize_metric_set(), separators=(",", ":"))
    except Exception:  # a bad value or a schema error: drop the metric, keep the request
        return
    with _lock:
        _stream.write(line + "\n")
        _stream.flush()


def record_webhook_answer(status: int, latency_ms: float) -> None:
    """The webhook route answered ``status`` after ``latency_ms``."""
    _emit(
        [(WEBHOOK_ANSWERS, MetricUnit.Count, 1), (WEBHOOK_LATENCY, MetricUnit.Milliseconds, latency_ms)],
        {"status": str(status)},
    )


def record_sync_outcome(outcome: str, duration_seconds: float | None) -> None:
    """A parked sync was handed its outcome (``succeeded``, ``failed``, ``rescheduled``, ...);
    ``duration_seconds`` from the token's ``requested_at`` to now, when known."""
    metrics: list[tuple[str, MetricUnit, float]] = [(SYNC_OUTCOMES, MetricUnit.Count, 1)]
    if duration_seconds is not None and duration_seconds >= 0:
        metrics.append((SYNC_DURATION, MetricUnit.Seconds, duration_seconds))
    _emit(metrics, {"outcome": outcome})


def record_token_parked() -> None:
    """``start_sync`` parked a task token (a sync is now awaited)."""
    _emit([(TOKENS_PARKED, MetricUnit.Count, 1)])


def record_conflicting_sync_end() -> None:
    """A ``sync_end`` said another status than the end already recorded for the same ``sync_id``."""
    _emit([(CONFLICTING_SYNC_ENDS, MetricUnit.Count, 1)])


def record_webhook_check(unhealthy: bool) -> None:
    """The webhook watchdog checked the stage's webhook: 1 when it is missing, inactive or silent, else 0
    (a datapoint per check, so the alarm returns to OK once the webhook is healthy again)."""
    _emit([(WEBHOOK_UNHEALTHY, MetricUnit.Count, 1 if unhealthy else 0)])


def record_safety_net_pass(report: dict[str, Any]) -> None:
    """One ``reconcile_syncs`` pass: a count per action (zeros included, so the graph shows each pass)."""
    for key, action in SAFETY_NET_ACTION_KEYS.items():
        value = report.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            _emit([(SAFETY_NET_ACTIONS, MetricUnit.Count, value)], {"action": action})
