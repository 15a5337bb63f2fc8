"""Patch ``dynamodb_item_atomicity``: each DynamoDB item request is applied whole, as on AWS.

moto's in-memory DynamoDB runs every request on the caller's thread without a lock. Under the
local runtime's threads (handlers, the Distributed Map's children, the webhook server) two
conditional ``UpdateItem`` calls could read the same item and both write (two API-budget callers
got one slot), and a ``Scan`` could iterate a table while another thread added an item, answering
500 ("dictionary changed size during iteration"). DynamoDB applies each write atomically, with
its condition checked against the item as it is ("Condition expressions", "Atomic counters",
DynamoDB developer guide), and never fails a read because of a concurrent write.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

__all__ = ["ITEM_REQUESTS", "patch_dynamodb_item_atomicity"]

# moto's DynamoDBBackend methods that read or write items (the batch requests call these per item).
ITEM_REQUESTS = (
    "put_item",
    "get_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "transact_write_items",
    "execute_statement",
    "execute_transaction",
    "batch_execute_statement",
)


def patch_dynamodb_item_atomicity() -> None:
    """One lock (re-entrant: ``transact_write_items`` calls ``put_item``) around every DynamoDB
    request, from parsing to the serialised answer (moto's answer to ``UpdateItem`` is built
    from the live item after the backend returns, so another thread's write could show in it),
    and around the backend's item methods for callers that reach the backend directly. A write's
    condition, read, write and answer happen as one step; a scan or query sees the table between
    writes, never during one. Requests are in-memory and short, so throughput is unchanged."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    original_call_action = DynamoHandler.call_action

    @functools.wraps(original_call_action)
    def call_action(self: Any) -> Any:
        with lock:
            return original_call_action(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    for name in ITEM_REQUESTS:
        original = getattr(DynamoDBBackend, name)

        @functools.wraps(original)
        def serialised(self: Any, *args: Any, __original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return __original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, serialised)
