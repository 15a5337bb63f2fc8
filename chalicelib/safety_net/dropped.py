"""Why a waiting token's sync will never end: the connection was deleted, moved, paused, broke, or its
sync was dropped (a later sync started while it had no end; Fivetran never ends a dropped sync).

The safety net (``chalicelib/safety_net/reconcile.py``) asks this of every token whose sync the complete sync
history shows still running; it fails such a token at once with the ``Drop``'s status and reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.fivetran.client import Connection
from chalicelib.platform.timeutil import format_timestamp
from chalicelib.tokens.identity import Binding
from chalicelib.tokens.records import TokenRecord

__all__ = ["Drop", "dropped_reason"]


@dataclass(frozen=True)
class Drop:
    """Why a token's sync will never end: ``status`` (``DROPPED``, ``PAUSED`` or ``NOT_FOUND``) and a reason a
    person can act on."""

    status: str
    reason: str


def dropped_reason(conn: Connection | None, record: TokenRecord, binding: Binding) -> Drop | None:
    """Why Fivetran will never end this token's sync (None: it may still end).

    ``conn`` is the connection now (None: Fivetran has no such connection); ``record.group_id`` is
    the group the run listed it in; ``binding`` the token's sync as the complete history names it.
    """
    if conn is None:
        return Drop("NOT_FOUND", "the connection no longer exists in Fivetran (deleted while the run waited)")
    moved_to = (
        conn.group_id if record.group_id and conn.group_id and conn.group_id != record.group_id else None
    )
    later = binding.superseded_by
    if binding.dropped and later is not None and binding.sync is not None:
        how = f"moved to group {moved_to}" if moved_to else "paused/resumed or moved"
        when = format_timestamp(later.started_at) if later.started_at else "after it"
        return Drop(
            "DROPPED",
            f"the sync was dropped: the connection was {how} (a later sync {later.sync_id} started at"
            f" {when} while sync {binding.sync.sync_id} had no end; Fivetran never ends a dropped sync):"
            " re-run the connection",
        )
    if moved_to:
        return Drop(
            "DROPPED",
            f"the sync was dropped: the connection was moved to group {moved_to} (the run listed it in"
            f" group {record.group_id}); moving a connection pauses it, which drops its running sync",
        )
    if conn.paused:
        return Drop("PAUSED", "the sync was dropped: the connection was paused while the run waited")
    if not conn.is_connected:
        return Drop(
            "DROPPED",
            f"the sync was dropped: the connection's setup is {conn.setup_state} (it broke while the run"
            " waited): fix the connection in Fivetran",
        )
    return None
