"""Section 3 of ``results.md``: scale, measured and extrapolated runs and the largest group one
execution can hold (from ``benchmarks.scale``'s runs and ``ScaleLimits``)."""

from __future__ import annotations

from typing import Any

from benchmarks.history import STEP_FUNCTIONS_MAX_EVENTS, STEP_FUNCTIONS_MAX_PAYLOAD_BYTES
from benchmarks.scale import ScaleLimits
from benchmarks.tables import fmt, markdown_table

__all__ = ["scale_section"]


def _predicted_status(limits: ScaleLimits | None, n: int) -> str:
    if limits is None:
        return "not run" if n > 10_000 else "not run (within the 10,000-connection ceiling)"
    if limits.payload_at(n) > STEP_FUNCTIONS_MAX_PAYLOAD_BYTES:
        return "would fail: payload over 256 KiB"
    if limits.events_at(n) > STEP_FUNCTIONS_MAX_EVENTS:
        return "would fail: over 25,000 events"
    return "would succeed"


def scale_section(scale: dict[str, Any], limits: ScaleLimits | None, max_concurrency: int) -> str:
    rows = []
    measured = [r for r in scale["runs"] if r.get("measured")]
    per_connection_s = (measured[-1]["wall_s"] / measured[-1]["connections"]) if measured else None
    for run in scale["runs"]:
        n = run["connections"]
        if run.get("measured"):
            status = run["status"] + (f" ({run['error']})" if run.get("error") else "")
            rows.append(
                [
                    fmt(n),
                    "measured",
                    status,
                    fmt(run["wall_s"], 1),
                    fmt(run["rss_peak_mb"], 0),
                    fmt(run["history_events"]),
                    fmt(run["iteration_events_median"], 0),
                    fmt(run["transitions"]),
                    fmt(run["largest_payload_bytes"] / 1024, 1),
                ]
            )
        else:
            rows.append(
                [
                    fmt(n),
                    "extrapolated",
                    _predicted_status(limits, n),
                    f"~{per_connection_s * n:.0f}" if per_connection_s else "—",
                    "—",
                    f"~{limits.events_at(n):,}" if limits else "—",
                    fmt(limits.events_per_connection, 0) if limits else "—",
                    "—",
                    f"~{limits.payload_at(n) / 1024:.1f}" if limits else "—",
                ]
            )
    table = markdown_table(
        [
            "connections",
            "how",
            "execution",
            "wall time (s)",
            "peak RSS (MiB)",
            "history events",
            "events / connection",
            "state transitions",
            "largest state payload (KiB)",
        ],
        rows,
    )
    lines = [
        "## 3. Scale",
        "",
        f"Syncs of 0.5-1.5 s, `MaxConcurrency` {max_concurrency or 'unset (every sync at once)'}, "
        "dbt replaced by a task that exits 0, the "
        "simulator's DuckDB writes off"
        + (" (kept: --real-warehouse)" if any(r.get("real_warehouse") for r in measured) else "")
        + ". Wall time is the execution's; peak RSS is the runtime's process (moto, in-process Lambdas, "
        "simulator), not `chalice local`.",
        "",
        table,
        "",
    ]
    if limits:
        paths = scale.get("paths") or {}
        by_outcome = paths.get("events_by_outcome", {})
        resched = limits.events_per_rescheduled
        limit_rows = [
            [
                "history events",
                f"{STEP_FUNCTIONS_MAX_EVENTS:,}",
                f"{limits.events_per_connection:g} per connection"
                + (f" ({resched:g} if rescheduled once)" if resched else ""),
                f"{limits.fixed_events:g}",
                f"{limits.by_events():,}"
                + (f" ({limits.by_events(resched):,} if every sync is rescheduled once)" if resched else ""),
            ],
            [
                "state input/output",
                "256 KiB",
                f"{limits.payload_per_connection:.0f} bytes per connection",
                f"{limits.payload_fixed:.0f} bytes",
                f"{limits.by_payload():,}",
            ],
        ]
        lines += [
            "Largest group one execution can hold:",
            "",
            markdown_table(["limit", "quota", "grows by", "fixed part", "largest group"], limit_rows),
            "",
            "- Per path, events per iteration (paths run): "
            + ", ".join(f"{k} {v:g}" for k, v in by_outcome.items())
            + ".",
            "- The payload is the `SyncConnectors` Map state's output: every connection's outcome, written "
            "over the input list (`ResultPath: $.connectors`). It grows with connection id and schema "
            "lengths; these runs use Fivetran-length ids (`bench_conn_0001`, `bench_schema_0001`).",
        ]
    if limits is None and measured:
        lines += [
            "- The run's own history and state do not grow with connections: each sync runs in a child "
            "execution of the Distributed Map (its own history, about 12 events), and the state keeps "
            "a bounded summary (outcomes go to S3). One run's ceiling is `MAX_CONNECTIONS_PER_RUN` "
            "(10,000, Step Functions' most child executions at once), not a payload or history limit.",
        ]
    for run in measured:
        if run["status"] == "SUCCEEDED":
            continue
        line = f"- {run['connections']:,} connections: {run['error']}: {run['cause'][:200]}"
        if run["error"] == "States.DataLimitExceeded":
            line += (
                f" Every one of its {run['iterations']:,} syncs ran; then the Map's output passed 256 KiB "
                "and the execution failed before dbt. `States.ALL` in the Map's `Catch` does not catch this "
                "error (nor does it on AWS). Its largest recorded payload is smaller: the oversized output "
                "never reaches the history."
            )
        lines.append(line)
    lines += [f"- {note}." for note in scale.get("notes", [])]
    return "\n".join(lines)
