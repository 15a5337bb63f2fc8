"""What the safety net's webhook watchdog last found (``chalicelib/safety_net/webhook_watchdog.py``), for
``orchestrator doctor`` and ``orchestrator runs``: read from the target's token table, never from
Fivetran (the watchdog already asked it, at most every 15 minutes).

``doctor`` adds a ``webhook watchdog`` line (✘ when the last check found the webhook missing, inactive or
silent); ``runs`` prints a warning under its table in that case. A stage whose watchdog never checked, or
whose table cannot be read, shows nothing in ``runs`` and a ✔ note in ``doctor``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.safety_net.webhook_watchdog import WatchRecord
from ops.doctor import Check
from ops.errors import OpsError
from ops.target import Target

__all__ = ["last_check", "runs_warning", "watchdog_check"]


def last_check(target: Target) -> WatchRecord | None:
    """The watchdog's last check on ``target`` (None: never checked, or its table cannot be read)."""
    try:
        watch = target.webhook_watch()
        record = watch.read() if watch is not None else None
    except (ClientError, BotoCoreError, OpsError):
        return None
    return record if record is not None and record.verdict is not None else None


def _when(record: WatchRecord) -> str:
    if record.checked_at is None:
        return "never"
    return datetime.fromtimestamp(record.checked_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _with_flag(detail: str, target: Target) -> str:
    """The watchdog's advice, with this target's flag on the command it names."""
    return detail.replace(
        "orchestrator register-webhook --group", f"orchestrator register-webhook {target.flag} --group"
    )


def watchdog_check(target: Target) -> Check:
    """``doctor``'s line for the watchdog's last verdict."""
    record = last_check(target)
    if record is None or record.verdict is None:
        return Check(
            "webhook watchdog", True, "no check yet (the safety net checks at most every 15 minutes)"
        )
    verdict = record.verdict
    return Check(
        "webhook watchdog",
        not verdict.unhealthy,
        f"{verdict.state} at {_when(record)}: {_with_flag(verdict.detail, target)}",
    )


def runs_warning(target: Target) -> str | None:
    """``runs``' warning when the last check found the webhook unhealthy (None: nothing to say)."""
    record = last_check(target)
    if record is None or record.verdict is None or not record.verdict.unhealthy:
        return None
    detail = _with_flag(record.verdict.detail, target)
    return f"webhook {record.verdict.state} (checked {_when(record)}): {detail}"
