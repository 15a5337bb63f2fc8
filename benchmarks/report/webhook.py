"""Section 2 of ``results.md``: the webhook receiver's throughput (from ``benchmarks.webhook``'s cases)."""

from __future__ import annotations

from benchmarks.tables import fmt, markdown_table
from benchmarks.webhook import CaseResult

__all__ = ["webhook_section"]


def webhook_section(cases: list[CaseResult], requests_per_case: int, time_limit_s: float) -> str:
    rows = [
        [
            c.target,
            "yes" if c.parked else "no",
            c.concurrency,
            c.sent,
            c.ok,
            c.resolved,
            fmt(c.rps, 0),
            fmt(c.p50_ms, 1),
            fmt(c.p99_ms, 1),
        ]
        for c in cases
    ]
    table = markdown_table(
        [
            "target",
            "parked tokens",
            "clients",
            "requests",
            "200",
            "tokens resolved",
            "req/s",
            "p50 (ms)",
            "p99 (ms)",
        ],
        rows,
    )

    def calls(parked: bool) -> str:
        per_event = next(
            (c.aws_calls_per_event for c in cases if c.target == "in-process" and c.parked is parked), {}
        )
        return ", ".join(f"`{k}` {v:g}" for k, v in per_event.items()) or "not measured"

    return "\n".join(
        [
            "## 2. Webhook receiver throughput",
            "",
            f"Signed `sync_end` events, at most {requests_per_case} per case and {time_limit_s:g} s, on "
            "127.0.0.1 against moto. In-process = `chalicelib.webhook.handler.handle_webhook`, one request "
            "at a "
            "time (what one Lambda container does); `chalice local` = the real route over HTTP with "
            "concurrent clients.",
            "",
            table,
            "",
            f"- AWS calls per event with a parked token (in-process, counted): {calls(True)}. Without "
            f"one: {calls(False)} (the sync's end is recorded for a token parked later).",
            "- Parked tokens are written straight into the table, armed and with their sync's start "
            "recorded (as `start_sync` and the `sync_start` webhook leave them), so moto's Step Functions "
            "answers `InvalidToken` and the handler deletes them as already resolved: the same calls as a "
            "live token.",
            "- On AWS, API Gateway and Lambda scale out per request; these figures bound one container "
            "(in-process) and a development server (`chalice local`), not the deployed endpoint.",
        ]
    )
