"""Patch ``dynamodb_query_one_partition``: a base-table ``Query`` reads only its one partition.

moto's ``Query`` walked and sorted every item of every partition (slower with every connection
in the token table), and iterated the table while other threads added partitions, answering 500
("dictionary changed size during iteration"), which DynamoDB never does.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["patch_dynamodb_query_one_partition"]


def patch_dynamodb_query_one_partition() -> None:
    """A Query on the base table reads only the partition of its hash key, as DynamoDB does (a
    Query "finds items based on primary key values": one partition; DynamoDB developer guide,
    "Querying tables"). Same items, same order: moto's own filters and sort still run on them."""
    from moto.dynamodb.models.table import Table

    partition = threading.local()
    original_query, original_all_items = Table.query, Table.all_items

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name is not None or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        partition.key = hash_key
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            partition.key = None

    def all_items(self: Any) -> Any:
        key = getattr(partition, "key", None)
        if key is None:
            return original_all_items(self)
        found = self.items.get(key)
        if found is None:
            return []
        items = list(found.values()) if self.range_key_attr else [found]
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    Table.query = query  # type: ignore[method-assign]
    Table.all_items = all_items  # type: ignore[method-assign]
