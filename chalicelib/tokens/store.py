"""The task-token store (DynamoDB): the parked tokens of the token table (its items: ``records``;
the other kinds: ``syncs_seen``, ``trigger_spacing``, ``pass_lease``, ``budget_slots``).

While a resolver works on a token it holds a short ``claimed_by``/``claimed_at`` lease, so
two deliveries of one event (or the webhook and the reconcile job) never send two
outcomes for one token::

    park ──► [parked] ──claim──► [claimed] ──callback sent──► delete
                 ▲                    │
                 └──── release ◄──────┘  (callback failed transiently: the token stays)

A lease older than ``lease_seconds`` is treated as abandoned (the claimant crashed) and
can be claimed again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.fivetran.syncs import SyncRecord
from chalicelib.platform.timeutil import format_timestamp
from chalicelib.tokens.budget_slots import BudgetSlots
from chalicelib.tokens.pass_lease import PassLease
from chalicelib.tokens.records import SYNC_PREFIX, TRIGGER_ITEM, TokenRecord, sync_from_item
from chalicelib.tokens.records import token_id as hash_token
from chalicelib.tokens.syncs_seen import SyncsSeen
from chalicelib.tokens.table import TableItems, is_condition_failure, store_error
from chalicelib.tokens.trigger_spacing import TriggerSpacing

if TYPE_CHECKING:  # the pinned stubs (requirements-dev.txt); not in the Lambda package
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["TokenStore"]


class TokenStore(TableItems):
    """The parked tokens of the token table; the table's other kinds of item, over the same table and
    client: ``syncs`` (syncs seen), ``triggers`` (each connection's trigger slot), ``lease`` (the
    safety net's lease and marks), ``budget_slots`` (the API budget's counter).

    Every DynamoDB failure surfaces as ``TokenStoreError`` (transient: the caller retries
    or answers 503); a failed condition is an answer (``False``), never an error.
    """

    def __init__(self, table_name: str, client: DynamoDBClient, *, lease_seconds: int = 60) -> None:
        super().__init__(table_name, client)
        self._lease_seconds = lease_seconds
        self.syncs = SyncsSeen(table_name, client)
        self.triggers = TriggerSpacing(table_name, client)
        self.lease = PassLease(table_name, client)
        self.budget_slots = BudgetSlots(table_name, client)

    @staticmethod
    def new_record(
        connector_id: str,
        task_token: str,
        execution_id: str,
        requested_at: datetime,
        expires_at: int,
        schedule_type: str = "auto",
        resume_after: datetime | None = None,
        exclude_sync_id: str | None = None,
        group_id: str | None = None,
    ) -> TokenRecord:
        return TokenRecord(
            connector_id=connector_id,
            token_id=hash_token(task_token),
            task_token=task_token,
            execution_id=execution_id,
            requested_at=requested_at,
            expires_at=expires_at,
            schedule_type=schedule_type,
            resume_after=resume_after,
            exclude_sync_id=exclude_sync_id,
            group_id=group_id,
        )

    def _update_token(
        self, action: str, record: TokenRecord, update: str, condition: str, values: dict[str, Any]
    ) -> bool:
        """One conditional ``UpdateItem`` on a parked token; False if its condition failed."""
        return self._conditional(
            action,
            self._client.update_item,
            Key=self._key(record.connector_id, record.token_id),
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
        )

    # -- parked tokens ---------------------------------------------------------------------

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
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return record, True
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise store_error("park a token", exc) from exc
            old: Any = exc.response.get("Item")  # the stored item (ReturnValuesOnConditionCheckFailure)
        except BotoCoreError as exc:
            raise store_error("park a token", exc) from exc
        existing = TokenRecord.from_item(old) if old else self.get(record.connector_id, record.token_id)
        return (existing or record), False

    def arm(self, record: TokenRecord, *, accepted_at: datetime, joined: bool) -> TokenRecord | None:
        """Record that Fivetran accepted the token's trigger (its clock) and whether it joined a
        running sync. None if the token is gone (already completed)."""
        done = self._update_token(
            "arm a token",
            record,
            "SET accepted_at = :at, joined = :joined",
            "attribute_exists(token_id)",
            {":at": {"S": format_timestamp(accepted_at)}, ":joined": {"BOOL": joined}},
        )
        return replace(record, accepted_at=accepted_at, joined=joined) if done else None

    def mark_checked(self, record: TokenRecord, now: float, *, seen_end: datetime | None = None) -> None:
        """When the safety net last read the sync history for this token (``now``, epoch seconds: fair
        rotation), and the connection's latest sync end it saw then (``seen_end``, Fivetran's clock)."""
        update, values = "SET checked_at = :now", {":now": {"N": f"{now:.3f}"}}
        if seen_end is not None:
            update += ", seen_end = :seen"
            values[":seen"] = {"S": format_timestamp(seen_end)}
        self._update_token("mark a token checked", record, update, "attribute_exists(token_id)", values)

    def get(self, connector_id: str, token_id: str) -> TokenRecord | None:
        resp = self._call(
            "read a token", self._client.get_item, Key=self._key(connector_id, token_id), ConsistentRead=True
        )
        item = resp.get("Item")
        return TokenRecord.from_item(item) if item else None

    def remove(self, connector_id: str, token_id: str) -> None:
        self._call("delete a token", self._client.delete_item, Key=self._key(connector_id, token_id))

    def connection_state(self, connector_id: str) -> tuple[list[TokenRecord], list[SyncRecord]]:
        """Every token parked for a connection and every sync seen of it (one consistent query)."""
        tokens: list[TokenRecord] = []
        syncs: list[SyncRecord] = []
        for item in self._pages(
            "query tokens",
            self._client.query,
            KeyConditionExpression="connector_id = :c",
            ExpressionAttributeValues={":c": {"S": connector_id}},
            ConsistentRead=True,
        ):
            kind = item["token_id"]["S"]
            if kind.startswith(SYNC_PREFIX):
                if "sync_id" in item:  # moto can show an item being created before its attributes
                    syncs.append(sync_from_item(item))
            elif kind != TRIGGER_ITEM:
                tokens.append(TokenRecord.from_item(item))
        return tokens, syncs

    def parked_for(self, connector_id: str) -> list[TokenRecord]:
        """Every token parked for a connection (consistent read, all pages)."""
        return self.connection_state(connector_id)[0]

    def all_parked(self) -> Iterator[TokenRecord]:
        """Every parked token of the table (the safety net's heartbeat list), page by page."""
        for item in self._pages(
            "scan tokens",
            self._client.scan,
            FilterExpression="attribute_exists(task_token)",
            ConsistentRead=True,
        ):
            yield TokenRecord.from_item(item)

    def count(self) -> int:
        """How many tokens are parked (syncs seen and leases are not counted)."""
        return sum(1 for _ in self.all_parked())

    # -- claims (one resolver per token) -------------------------------------------------

    def claim(self, record: TokenRecord, claim_id: str, now: float) -> bool:
        """Take the lease on a token; False if it is gone or someone else holds a live lease."""
        return self._update_token(
            "claim a token",
            record,
            "SET claimed_by = :me, claimed_at = :now",
            "attribute_exists(token_id) AND (attribute_not_exists(claimed_at) OR claimed_at < :stale)",
            {
                ":me": {"S": claim_id},
                ":now": {"N": f"{now:.3f}"},
                ":stale": {"N": f"{now - self._lease_seconds:.3f}"},
            },
        )

    def release(self, record: TokenRecord, claim_id: str) -> None:
        """Give the lease back so a later delivery (or the reconcile job) can try again."""
        self._update_token(
            "release a token",
            record,
            "REMOVE claimed_by, claimed_at",
            "claimed_by = :me",
            {":me": {"S": claim_id}},
        )
