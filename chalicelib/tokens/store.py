"""The task-token store (DynamoDB): the verbs over the token table (its items: ``records``).

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

from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.platform.errors import TokenStoreError
from chalicelib.platform.timeutil import format_timestamp
from chalicelib.tokens.identity import SyncRecord
from chalicelib.tokens.records import (
    BUDGET_ITEM,
    BUDGET_PARTITION,
    LEASE_PARTITION,
    MAX_REASON_CHARS,
    SYNC_PREFIX,
    TokenRecord,
    sync_from_item,
)
from chalicelib.tokens.records import (
    token_id as hash_token,
)

if TYPE_CHECKING:  # the pinned stubs (requirements-dev.txt); not in the Lambda package
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["TokenStore"]

CONDITION_FAILED = "ConditionalCheckFailedException"

T = TypeVar("T")


def _store_error(action: str, exc: Exception) -> TokenStoreError:
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
    return TokenStoreError(f"token store could not {action}: {code}")


def _is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == CONDITION_FAILED


class TokenStore:
    """Business verbs over the token table; the DynamoDB client is injected.

    Every DynamoDB failure surfaces as ``TokenStoreError`` (transient: the caller retries
    or answers 503); a failed condition is an answer (``False``), never an error.
    """

    def __init__(self, table_name: str, client: DynamoDBClient, *, lease_seconds: int = 60) -> None:
        self._table = table_name
        self._client = client
        self._lease_seconds = lease_seconds

    @property
    def client(self) -> DynamoDBClient:
        """The DynamoDB client (for the other items of the table: ``chalicelib/run/webhook_watchdog.py``)."""
        return self._client

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

    # -- one call, errors mapped ---------------------------------------------------------

    def _call(self, action: str, fn: Callable[..., T], **kwargs: Any) -> T:
        try:
            return fn(TableName=self._table, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise _store_error(action, exc) from exc

    def _conditional(self, action: str, fn: Callable[..., Any], **kwargs: Any) -> bool:
        """True if the write happened, False if its condition failed."""
        try:
            fn(TableName=self._table, **kwargs)
            return True
        except ClientError as exc:
            if _is_condition_failure(exc):
                return False
            raise _store_error(action, exc) from exc
        except BotoCoreError as exc:
            raise _store_error(action, exc) from exc

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

    def _pages(
        self, action: str, fn: Callable[..., Mapping[str, Any]], **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
        """Every item of a Query or Scan, page after page."""
        while True:
            resp = self._call(action, fn, **kwargs)
            yield from resp.get("Items", [])
            if "LastEvaluatedKey" not in resp:
                return
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

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
            if not _is_condition_failure(exc):
                raise _store_error("park a token", exc) from exc
            old: Any = exc.response.get("Item")  # the stored item (ReturnValuesOnConditionCheckFailure)
        except BotoCoreError as exc:
            raise _store_error("park a token", exc) from exc
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
            if item["token_id"]["S"].startswith(SYNC_PREFIX):
                if "sync_id" in item:  # moto can show an item being created before its attributes
                    syncs.append(sync_from_item(item))
            else:
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

    # -- syncs seen --------------------------------------------------------------------------

    def record_sync(self, connector_id: str, sync: SyncRecord, *, expires_at: int) -> SyncRecord | None:
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

    # -- the safety net's single-runner lease -------------------------------------------

    def acquire_lease(self, name: str, holder: str, now: float, seconds: float) -> bool:
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

    def release_lease(self, name: str, holder: str) -> None:
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

    def advance_budget_slot(self, now_us: int, interval_us: int) -> int:
        """Advance the API budget's counter: ``tat = max(tat, now_us) + interval_us``, atomically;
        returns the new ``tat`` (epoch microseconds), unique to this caller.

        One conditional ``ADD`` while the counter is at or ahead of ``now_us`` (no read, so
        concurrent callers each get their own value); a conditional ``SET`` when it fell behind
        (an idle bucket). The counter only moves forward; a lost race just tries again."""
        key = self._key(BUDGET_PARTITION, BUDGET_ITEM)
        now = {":now": {"N": str(now_us)}}
        while True:
            try:
                answer = self._client.update_item(
                    TableName=self._table,
                    Key=key,
                    UpdateExpression="ADD tat :interval",
                    ConditionExpression="tat >= :now",
                    ExpressionAttributeValues={**now, ":interval": {"N": str(interval_us)}},
                    ReturnValues="UPDATED_NEW",
                )
                return int(answer["Attributes"]["tat"]["N"])
            except ClientError as exc:
                if not _is_condition_failure(exc):
                    raise _store_error("take a place in the API budget", exc) from exc
            except BotoCoreError as exc:
                raise _store_error("take a place in the API budget", exc) from exc
            start = now_us + interval_us
            if self._conditional(
                "take a place in the API budget",
                self._client.update_item,
                Key=key,
                UpdateExpression="SET tat = :start",
                ConditionExpression="attribute_not_exists(tat) OR tat < :now",
                ExpressionAttributeValues={**now, ":start": {"N": str(start)}},
            ):
                return start

    @staticmethod
    def _key(connector_id: str, token_id: str) -> dict[str, dict[str, str]]:
        return {"connector_id": {"S": connector_id}, "token_id": {"S": token_id}}
