"""The safety net's single-runner lease and its marks, in the token table (partition ``__lease__``):
one safety-net pass at a time holds the lease (``holder``, ``until``); a **mark** (``since``) says
since when a condition holds (``fivetran-auth``: every read refused with 401 since then).
"""

from __future__ import annotations

from chalicelib.tokens.records import LEASE_PARTITION
from chalicelib.tokens.table import TableItems

__all__ = ["PassLease"]


class PassLease(TableItems):
    """The lease and mark items of the token table."""

    def acquire(self, name: str, holder: str, now: float, seconds: float) -> bool:
        """Hold the lease ``name`` until ``now + seconds`` unless another live holder has it."""
        return self._conditional(
            "take a lease",
            self._client.put_item,
            Item={
                "connector_id": {"S": LEASE_PARTITION},
                "token_id": {"S": name},
                "holder": {"S": holder},
                "until": {"N": f"{now + seconds:.3f}"},
                "expires_at": {"N": str(int(now + seconds + 86_400))},
            },
            ConditionExpression="attribute_not_exists(token_id) OR #until < :now OR holder = :me",
            ExpressionAttributeNames={"#until": "until"},
            ExpressionAttributeValues={":now": {"N": f"{now:.3f}"}, ":me": {"S": holder}},
        )

    def release(self, name: str, holder: str) -> None:
        self._conditional(
            "release a lease",
            self._client.delete_item,
            Key=self._key(LEASE_PARTITION, name),
            ConditionExpression="holder = :me",
            ExpressionAttributeValues={":me": {"S": holder}},
        )

    def mark_since(self, name: str, now: float) -> float:
        """Mark the condition ``name`` (e.g. Fivetran refusing the API key) as holding; returns when it
        was first marked (epoch seconds), ``now`` if it was not marked. Kept until ``clear_mark``."""
        answer = self._call(
            "mark a condition",
            self._client.update_item,
            Key=self._key(LEASE_PARTITION, name),
            UpdateExpression="SET since = if_not_exists(since, :now), expires_at = :ttl",
            ExpressionAttributeValues={
                ":now": {"N": f"{now:.3f}"},
                ":ttl": {"N": str(int(now) + 7 * 86_400)},
            },
            ReturnValues="ALL_NEW",
        )
        return float(answer["Attributes"]["since"]["N"])

    def clear_mark(self, name: str) -> None:
        """The condition ``name`` no longer holds."""
        self._call("clear a condition", self._client.delete_item, Key=self._key(LEASE_PARTITION, name))
