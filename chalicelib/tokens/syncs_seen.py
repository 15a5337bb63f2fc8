"""Syncs seen: what the webhooks (and the sync history) said of one sync, kept in the token table
(``records``: ``token_id`` = ``sync#<sync_id>`` in the connection's partition) so an event that arrives
before its token is armed, or while no token is parked, is not lost. ``TokenStore.connection_state``
reads them back with the connection's tokens in one consistent query.
"""

from __future__ import annotations

from chalicelib.fivetran.syncs import SyncRecord
from chalicelib.platform.timeutil import format_timestamp
from chalicelib.tokens.records import MAX_REASON_CHARS, SYNC_PREFIX, sync_from_item
from chalicelib.tokens.table import TableItems

__all__ = ["SyncsSeen"]


class SyncsSeen(TableItems):
    """The sync-seen items of the token table."""

    def record(self, connector_id: str, sync: SyncRecord, *, expires_at: int) -> SyncRecord | None:
        """Remember what an event (or the sync history) said of one sync; a field already known
        keeps its first value (a replayed or contradicting delivery changes nothing). Returns what
        was recorded of it before (None: nothing), so a contradicting end can be told."""
        fields: dict[str, dict[str, str]] = {"sync_id": {"S": sync.sync_id}, "source": {"S": sync.source}}
        for name in ("started_at", "ended_at", "rescheduled_for"):
            value = getattr(sync, name)
            if value is not None:
                fields[name] = {"S": format_timestamp(value)}
        if sync.status:
            fields["status"] = {"S": sync.status}
        if sync.reason:
            fields["reason"] = {"S": sync.reason[:MAX_REASON_CHARS]}
        names = {f"#{i}": name for i, name in enumerate(fields)}
        values = {f":{i}": value for i, value in enumerate(fields.values())}
        sets = [f"#{i} = if_not_exists(#{i}, :{i})" for i in range(len(fields))]
        names["#ttl"] = "expires_at"
        values[":ttl"] = {"N": str(expires_at)}
        sets.append("#ttl = :ttl")
        answer = self._call(
            "record a sync",
            self._client.update_item,
            Key=self._key(connector_id, SYNC_PREFIX + sync.sync_id),
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_OLD",
        )
        previous = answer.get("Attributes") if isinstance(answer, dict) else None
        return sync_from_item(previous) if previous and "sync_id" in previous else None
