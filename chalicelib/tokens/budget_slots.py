"""The API budget's counter in the token table (partition ``__api_budget__``, item ``triggers``):
``tat``, the token bucket's theoretical arrival time (epoch microseconds), shared by the sync triggers
of every run. The rule that reads it: ``chalicelib/tokens/api_budget.py`` (this is its ``SlotCounter``).
"""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.tokens.records import BUDGET_ITEM, BUDGET_PARTITION
from chalicelib.tokens.table import TableItems, is_condition_failure, store_error

__all__ = ["BudgetSlots"]


class BudgetSlots(TableItems):
    """The API budget's counter item of the token table."""

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
                if not is_condition_failure(exc):
                    raise store_error("take a place in the API budget", exc) from exc
            except BotoCoreError as exc:
                raise store_error("take a place in the API budget", exc) from exc
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
