"""A connection's free waits in words (pure): what ``show``, ``start-run --wait`` and the timeline print.

A sync that Fivetran rescheduled (the source's quota), or whose trigger waited for Fivetran's 429
or for the account's API budget, is not a slow sync: these texts say how often it waited, until
when and why, from ``SyncView.waits`` and ``SyncView.wait_counts`` (``ops.run_model``).
"""

from __future__ import annotations

from ops.run_model import SyncView, WaitView

__all__ = ["KIND_WORDS", "wait_line", "waits_text"]

KIND_WORDS = {
    "rescheduled": "rescheduled by Fivetran",
    "rate_limited": "rate-limited by Fivetran's API",
    "api_budget": "waited for the API budget",
}


def _clock(wait: WaitView) -> str:
    return wait.end.strftime("%H:%M:%S UTC") if wait.end else "an unknown time"


def wait_line(wait: WaitView) -> str:
    """One wait: ``rescheduled by Fivetran until 14:20:48 UTC (3.0 s): <reason>``."""
    text = f"{KIND_WORDS.get(wait.kind, 'waited')} until {_clock(wait)}"
    if wait.start and wait.end:
        text += f" ({max(0.0, (wait.end - wait.start).total_seconds()):.1f} s)"
    return text + (f": {wait.reason}" if wait.reason else "")


def _counted(sync: SyncView) -> str:
    counts = sync.wait_counts
    if counts:
        rescheduled, limited = counts.get("rescheduled", 0), counts.get("rate_limited", 0)
    else:
        rescheduled = sum(1 for w in sync.waits if w.kind == "rescheduled")
        limited = len(sync.waits) - rescheduled
    parts = [
        f"{rescheduled} rescheduled" if rescheduled else "",
        f"{limited} rate-limited" if limited else "",
    ]
    return ", ".join(p for p in parts if p)


def waits_text(sync: SyncView) -> str:
    """``waited 2x free (1 rescheduled, 1 rate-limited); last: <wait_line>``, or "" if it never waited."""
    if not sync.waited:
        return ""
    counted = _counted(sync)
    text = f"waited {sync.waited}x free" + (f" ({counted})" if counted else "")
    if sync.waits:
        text += f"; last: {wait_line(sync.waits[-1])}"
    return text
