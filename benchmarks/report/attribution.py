"""Section 7 of ``results.md``: attribution under chaos (from ``benchmarks.attribution``'s result)."""

from __future__ import annotations

from typing import Any

from benchmarks.attribution import AttributionResult
from benchmarks.tables import fmt, markdown_table

__all__ = ["attribution_section"]


def attribution_section(result: AttributionResult, real_worlds: int) -> str:
    def row(label: str, tally: Any, how: str) -> list[str]:
        return [label, how, fmt(tally.runs), fmt(tally.wrong), fmt(tally.unresolved)]

    real = row(
        "this design (real path)",
        result.ours_real,
        "`start_sync` + `handle_webhook` (signed) + token store on moto DynamoDB",
    )
    real[-1] += f" ({result.ours_real.unresolved_after_safety_net} after one safety-net pass)"
    rows = [
        real,
        row(
            "this design (the rule, webhooks only)",
            result.ours_rule_webhooks,
            "`bind(complete=False)`: BOUND to another sync",
        ),
        row("this design (the rule, full history)", result.ours_rule_history, "`bind(complete=True)`"),
    ]
    for interval, tally in sorted(result.peer.items(), reverse=True):
        rows.append(
            row(
                f"dagster-fivetran's rule, polling every {interval:g} s",
                tally,
                "`last_sync_completed_at > previous` (`poll_sync`)",
            )
        )
    table = markdown_table(
        ["decides", "how", "runs", "given another sync's outcome", "unresolved"], rows, align="llrrr"
    )
    real_note = (
        f"the real path ran {result.ours_real.runs:,} runs ({real_worlds:,} worlds)"
        if real_worlds < result.worlds
        else "every world also ran the real path"
    )
    return "\n\n".join(
        [
            "## 7. Attribution under chaos: is each run given its own sync's outcome?",
            f"{result.worlds:,} seeded random worlds (`benchmarks/attribution/`), "
            f"{result.ours_rule_history.runs:,} runs: per connection 0-3 syncs before the trigger, "
            f"a trigger that joins a running sync (409: {result.joined:,} runs) or starts one, syncs "
            f"after it, a second run on the same connection in {result.second_runs:,} worlds, "
            f"`sync_end`-only webhooks in {result.sync_end_only:,}; every delivery delayed (up to 60 s), "
            "a third delivered twice, so reordered; "
            f"Fivetran's clock offset up to ±{result.max_offset_s:.0f} s. "
            f"The truth is known by construction; {real_note}. Unresolved = no outcome once every "
            f"event was delivered, before any safety-net pass. Took {result.seconds:.0f} s.",
            table,
            "- The peer reads the connection's `succeeded_at`/`failed_at` before triggering and takes "
            "the outcome of the first completion it polls after that. A sync that ends between that read "
            "and the trigger (a scheduled sync finishing), or a later sync that ends before its next poll, "
            "gives it another sync's outcome. It reads no webhooks, so the delivery chaos does not reach "
            "it; the clock offset reaches neither side (both compare Fivetran's times with Fivetran's).",
        ]
    )
