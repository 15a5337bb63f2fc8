"""The token table's items, one kind per class, each over the same table (its keys: ``records``).

``TableItems`` is what every kind shares: the table's name and DynamoDB client, one call with its
errors mapped (every DynamoDB failure is a ``TokenStoreError``: transient, the caller retries or
answers 503; a failed condition is an answer, ``False``, never an error) and paging.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.platform.errors import TokenStoreError

if TYPE_CHECKING:  # the pinned stubs (requirements-dev.txt); not in the Lambda package
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = ["CONDITION_FAILED", "TableItems", "is_condition_failure", "store_error"]

CONDITION_FAILED = "ConditionalCheckFailedException"

T = TypeVar("T")


def store_error(action: str, exc: Exception) -> TokenStoreError:
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
    return TokenStoreError(f"token store could not {action}: {code}")


def is_condition_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == CONDITION_FAILED


class TableItems:
    """One kind of item of the token table (``table_name``), through an injected DynamoDB ``client``."""

    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self._table = table_name
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        """The DynamoDB client (for the other items of the table:
        ``chalicelib/safety_net/webhook_watchdog.py``)."""
        return self._client

    @property
    def table_name(self) -> str:
        return self._table

    def _call(self, action: str, fn: Callable[..., T], **kwargs: Any) -> T:
        try:
            return fn(TableName=self._table, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise store_error(action, exc) from exc

    def _conditional(self, action: str, fn: Callable[..., Any], **kwargs: Any) -> bool:
        """True if the write happened, False if its condition failed."""
        try:
            fn(TableName=self._table, **kwargs)
            return True
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise store_error(action, exc) from exc
        except BotoCoreError as exc:
            raise store_error(action, exc) from exc

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

    @staticmethod
    def _key(connector_id: str, token_id: str) -> dict[str, dict[str, str]]:
        return {"connector_id": {"S": connector_id}, "token_id": {"S": token_id}}
