"""Section 12 of ``results.md``: where a webhook's time goes (``benchmarks.webhook_path``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from benchmarks.stats import percentile, summarize
from benchmarks.tables import markdown_table
from benchmarks.webhook_path import Stages

__all__ = ["path_section"]


def path_section(
    measured: Sequence[Stages], latencies_s: Sequence[float], facts: Mapping[str, Any], *, load: str
) -> str:
    """Per stage: the calls it holds (median), median, p95, max (ms) and its share of the summed
    medians' total."""
    names: list[str] = []
    for s in measured:
        names.extend(k for k in s.parts if k not in names)
    rows: list[list[object]] = []
    medians = {k: summarize([s.parts.get(k, 0.0) for s in measured]).median for k in names}
    whole = sum(medians.values()) or 1.0
    for name in names:
        values = [s.parts.get(name, 0.0) for s in measured]
        summary = summarize(values)
        share = medians[name] / whole
        per = round(percentile([s.calls.get(name, 0) for s in measured], 50))
        cells = [f"{summary.median:.1f}", f"{summary.p95:.1f}", f"{summary.max:.1f}", f"{share:.0%}"]
        rows.append([name, str(per) if per else "", *cells])
    totals = summarize([s.total for s in measured])
    rows.append(
        [
            "**sync end to answer (sum)**",
            "",
            f"**{totals.median:.1f}**",
            f"{totals.p95:.1f}",
            f"{totals.max:.1f}",
            "100%",
        ]
    )
    waiting = sum(v for k, v in medians.items() if k.endswith("waiting for the runtime"))
    moto_work = sum(v for k, v in medians.items() if k.endswith("moto's work"))
    aws_calls = sum(
        round(percentile([s.calls.get(k, 0) for s in measured], 50))
        for k in names
        if k.startswith("AWS") and not k.endswith("moto's work")
    )
    aws_total = sum(v for k, v in medians.items() if k.startswith("AWS"))
    latency = summarize([v * 1000 for v in latencies_s]) if latencies_s else None
    callbacks = [s.to_callback for s in measured if s.to_callback is not None]
    callback = summarize(callbacks) if callbacks else None
    table = markdown_table(
        ["stage", "calls", "median (ms)", "p95 (ms)", "max (ms)", "share of the medians"], rows
    )
    return "\n\n".join(
        [
            "## 12. Where a webhook's time goes",
            f"Section 1's scenario, run once more for ours ({len(measured)} `sync_end` deliveries served; "
            f"execution {facts.get('status')}), with timing hooks that change no answer "
            "(`python -m benchmarks.webhook_path`; `benchmarks/webhook_path/`): the simulator's side in "
            "the runtime's process, and inside `chalice local` the request handler, every AWS call "
            "(botocore) and HTTP call it made. Measured "
            f"{load}.",
            table,
            "- This run's latency as section 1 measures it (sync end to the simulator's delivery log): "
            + (
                f"median {latency.median:.1f} ms, p95 {latency.p95:.1f} ms, max {latency.max:.1f} ms."
                if latency
                else "—"
            )
            + " Until the SendTaskSuccess/Failure call returned (Step Functions knew: what section 1 "
            "measured until 2026-11-27, the `TaskSucceeded` event, when it reported 11-15 ms): "
            + (f"median {callback.median:.1f} ms, p95 {callback.p95:.1f} ms." if callback else "—"),
            f"- Of the summed medians ({whole:.1f} ms), {aws_calls} AWS calls in sequence took "
            f"{aws_total:.1f} ms ({aws_total / whole:.0%}); where moto's handling was found, "
            f"{moto_work:.1f} ms of it was moto's own work and {waiting:.1f} ms HTTP and waiting for the "
            f"runtime's process. The rest (the simulator, HTTP to `chalice local`, the handler's Python): "
            f"{whole - aws_total:.1f} ms.",
            "- Every AWS call of `chalice local` is an HTTP request to moto's server, which runs in the "
            "runtime's own process beside the Step Functions interpreter, the in-process Lambdas and the "
            "simulator: one interpreter lock for all of them. On AWS each is a DynamoDB or Step Functions "
            "request of a few milliseconds from a warm Lambda.",
        ]
    )
