"""The task-token store (DynamoDB): one item per parked sync.

Key: partition ``connector_id`` (S), sort ``token_id`` (S, SHA-256 of the task token).
Attributes: ``task_token``, ``execution_id``, ``requested_at`` (ISO 8601 UTC),
``expires_at`` (epoch seconds, the table's TTL), and while a resolver works on it a
short ``claimed_by``/``claimed_at`` lease, so two deliveries of one event (or the
webhook and the reconcile job) never send two outcomes for one token::

    park ──► [parked] ──claim──► [claimed] ──callback sent──► delete
                 ▲                    │
                 └──── release ◄──────┘  (callback failed transiently: the token stays)

A lease older than ``lease_seconds`` is treated as abandoned (the claimant crashed) and
can be claimed again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import TokenStoreError
from chalicelib.log import token_id as hash_token
from chalicelib.timeutil import format_timestamp, parse_timestamp

__all__ = ["TokenRecord", "TokenStore"]

CONDITION_FAILED = "ConditionalCheckFailedException"


@dataclass(frozen=True)
class TokenRecord:
    connector_id: str
    token_id: str
    task_token: str
    execution_id: str
    requested_at: datetime
    expires_at: int
    schedule_type: str = "auto"

    @property
    def ref(self) -> str:
        return self.token_id[:12]

    def to_item(self) -> dict[str, dict[str, str]]:
        return {
            "connector_id": {"S": self.connector_id},
            "token_id": {"S": self.token_id},
            "task_token": {"S": self.task_token},
            "execution_id": {"S": self.execution_id},
            "requested_at": {"S": format_timestamp(self.requested_at)},
            "expires_at": {"N": str(self.expires_at)},
            "schedule_type": {"S": self.schedule_type},
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> TokenRecord:
        requested = parse_timestamp(item["requested_at"]["S"])
        assert requested is not None
        return cls(
            connector_id=item["connector_id"]["S"],
            token_id=item["token_id"]["S"],
            task_token=item["task_token"]["S"],
            execution_id=item.get("execution_id", {}).get("S", ""),
            requested_at=requested,
            expires_at=int(item.get("expires_at", {}).get("N", "0")),
            schedule_type=item.get("schedule_type", {}).get("S", "auto"),
        )


def _store_error(action: str, exc: Exception) -> TokenStoreError:
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
    return TokenStoreError(f"token store could not {action}: {code}")


class TokenStore:
    """Business verbs over the token table; the DynamoDB client is injected."""

    def __init__(self, table_name: str, client: Any, *, lease_seconds: int = 60) -> None:
        self._table = table_name
        self._client = client
        self._lease_seconds = lease_seconds

    @property
    def table_name(self) -> str:
        return self._table

    @staticmethod
    def new_record(
        connector_id: str,
        task_token: str,
        execution_id: str,
        requested_at: datetime,
        expires_at: int,
        schedule_type: str = "auto",
    ) -> TokenRecord:
        return TokenRecord(
            connector_id=connector_id,
            token_id=hash_token(task_token),
            task_token=task_token,
            execution_id=execution_id,
            requested_at=requested_at,
            expires_at=expires_at,
            schedule_type=schedule_type,
        )

    def park(self, record: TokenRecord) -> tuple[TokenRecord, bool]:
        """Store ``record`` unless that token is already parked.

        Returns the stored record and whether this call created it (a Lambda retry with the
        same token gets the original back, with its original ``requested_at``).
        """
        try:
            self._client.put_item(
                TableName=self._table,
                Item=record.to_item(),
                ConditionExpression="attribute_not_exists(token_id)",
            )
            return record, True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != CONDITION_FAILED:
                raise _store_error("park a token", exc) from exc
        except BotoCoreError as exc:
            raise _store_error("park a token", exc) from exc
        existing = self.get(record.connector_id, record.token_id)
        return (existing or record), False

    def get(self, connector_id: str, token_id: str) -> TokenRecord | None:
        try:
            resp = self._client.get_item(
                TableName=self._table,
                Key=self._key(connector_id, token_id),
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as exc:
            raise _store_error("read a token", exc) from exc
        item = resp.get("Item")
        return TokenRecord.from_item(item) if item else None

    def remove(self, connector_id: str, token_id: str) -> None:
        try:
            self._client.delete_item(TableName=self._table, Key=self._key(connector_id, token_id))
        except (ClientError, BotoCoreError) as exc:
            raise _store_error("delete a token", exc) from exc

    def parked_for(self, connector_id: str) -> list[TokenRecord]:
        """Every token parked for a connection (consistent read, all pages)."""
        records: list[TokenRecord] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "connector_id = :c",
            "ExpressionAttributeValues": {":c": {"S": connector_id}},
            "ConsistentRead": True,
        }
        try:
            while True:
                resp = self._client.query(**kwargs)
                records.extend(TokenRecord.from_item(i) for i in resp.get("Items", []))
                if "LastEvaluatedKey" not in resp:
                    return records
                kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise _store_error("query tokens", exc) from exc

    def parked_before(self, cutoff: datetime, limit: int) -> list[TokenRecord]:
        """Up to ``limit`` tokens requested before ``cutoff`` (the reconcile job's work list)."""
        return list(self._scan(cutoff, limit))

    def _scan(self, cutoff: datetime, limit: int) -> Iterator[TokenRecord]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "requested_at < :cutoff",
            "ExpressionAttributeValues": {":cutoff": {"S": format_timestamp(cutoff)}},
            "ConsistentRead": True,
        }
        found = 0
        try:
            while found < limit:
                resp = self._client.scan(**kwargs)
                for item in resp.get("Items", []):
                    yield TokenRecord.from_item(item)
                    found += 1
                    if found >= limit:
                        return
                if "LastEvaluatedKey" not in resp:
                    return
                kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise _store_error("scan tokens", exc) from exc

    def count(self) -> int:
        try:
            total, kwargs = 0, {"TableName": self._table, "Select": "COUNT"}
            while True:
                resp = self._client.scan(**kwargs)
                total += resp.get("Count", 0)
                if "LastEvaluatedKey" not in resp:
                    return total
                kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as exc:
            raise _store_error("count tokens", exc) from exc

    def claim(self, record: TokenRecord, claim_id: str, now: float) -> bool:
        """Take the lease on a token; False if it is gone or someone else holds a live lease."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(record.connector_id, record.token_id),
                UpdateExpression="SET claimed_by = :me, claimed_at = :now",
                ConditionExpression=(
                    "attribute_exists(token_id) AND (attribute_not_exists(claimed_at) OR claimed_at < :stale)"
                ),
                ExpressionAttributeValues={
                    ":me": {"S": claim_id},
                    ":now": {"N": f"{now:.3f}"},
                    ":stale": {"N": f"{now - self._lease_seconds:.3f}"},
                },
            )
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == CONDITION_FAILED:
                return False
            raise _store_error("claim a token", exc) from exc
        except BotoCoreError as exc:
            raise _store_error("claim a token", exc) from exc

    def release(self, record: TokenRecord, claim_id: str) -> None:
        """Give the lease back so a later delivery (or the reconcile job) can try again."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key(record.connector_id, record.token_id),
                UpdateExpression="REMOVE claimed_by, claimed_at",
                ConditionExpression="claimed_by = :me",
                ExpressionAttributeValues={":me": {"S": claim_id}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != CONDITION_FAILED:
                raise _store_error("release a token", exc) from exc
        except BotoCoreError as exc:
            raise _store_error("release a token", exc) from exc

    @staticmethod
    def _key(connector_id: str, token_id: str) -> dict[str, dict[str, str]]:
        return {"connector_id": {"S": connector_id}, "token_id": {"S": token_id}}
