"""Our triggers of one connection are accepted by Fivetran in different seconds.

Why: a token is anchored on the second in which Fivetran accepted its trigger (the answer's
``Date`` header has whole seconds: ``chalicelib/tokens/identity.py``), and a trigger answered 200
takes the first sync that starts in that second. If two of our triggers of one connection were
both answered 200 within one second (the first one's sync then started and ended inside that
second), two syncs would start in one window and neither token could tell which is its own; with
the first sync's webhooks lost, the first token was seen taking the second run's sync (2026-12-06,
``tests/e2e/test_two_runs.py``). So a trigger of a connection holds the connection's **trigger
slot** while it is in flight and for ``SPACING_SECONDS`` after its answer arrived, and a later
trigger of the same connection waits for the slot.

Why that is enough, on one clock (AWS's; Fivetran's is never compared): the first trigger was
accepted before its answer arrived (at ``r``); the next is sent at or after ``r + SPACING_SECONDS``,
so it is accepted more than one second after the first was: in a later ``Date`` second. The
0.25 s above the second covers the clock difference between two Lambda hosts (Amazon Time Sync
keeps them within a millisecond). What is left to the identity rule's documented limit: a sync
started by someone else (Fivetran's schedule, the dashboard) that starts *and ends* within our
trigger's acceptance second, before our trigger, whether or not its webhooks arrive.

Item: partition = the connection id, ``token_id`` = ``trigger#spacing``; ``holder`` (the token
id of the trigger holding it), ``until`` (epoch seconds, AWS clock), ``expires_at`` (TTL).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from chalicelib.tokens.records import TRIGGER_ITEM
from chalicelib.tokens.table import TableItems

__all__ = ["IN_FLIGHT_SECONDS", "MAX_WAIT_SECONDS", "SPACING_SECONDS", "TriggerSpacing"]

SPACING_SECONDS = 1.25  # > the Date header's 1 s precision, plus the clock difference between hosts
IN_FLIGHT_SECONDS = 30.0  # held while a trigger is in flight; a Lambda that died frees it after this
MAX_WAIT_SECONDS = 3.0  # a trigger waits at most this long for the slot, then triggers all the same


class TriggerSpacing(TableItems):
    """The trigger slot of each connection, in the connection's partition of the token table."""

    def hold(self, connector_id: str, holder: str, now: float) -> float | None:
        """Take the connection's trigger slot for a trigger about to be sent (until ``now`` +
        ``IN_FLIGHT_SECONDS``). Returns None when taken; otherwise when the slot frees (epoch seconds,
        AWS clock). Raises ``TokenStoreError`` when DynamoDB cannot be reached."""
        taken = self._conditional(
            "take the trigger slot",
            self._client.put_item,
            Item={
                **self._key(connector_id, TRIGGER_ITEM),
                "holder": {"S": holder},
                "until": {"N": f"{now + IN_FLIGHT_SECONDS:.3f}"},
                "expires_at": {"N": str(int(now + IN_FLIGHT_SECONDS) + 86_400)},
            },
            ConditionExpression="attribute_not_exists(token_id) OR #until <= :now OR holder = :me",
            ExpressionAttributeNames={"#until": "until"},
            ExpressionAttributeValues={":now": {"N": f"{now:.3f}"}, ":me": {"S": holder}},
        )
        if taken:
            return None
        item = self._call(
            "read the trigger slot",
            self._client.get_item,
            Key=self._key(connector_id, TRIGGER_ITEM),
            ConsistentRead=True,
        ).get("Item")
        return float(item["until"]["N"]) if item and "until" in item else now  # freed meanwhile: try again

    def release_after(self, connector_id: str, holder: str, answered: float) -> None:
        """The holder's trigger was answered (or failed) at ``answered``: the slot frees
        ``SPACING_SECONDS`` later. A slot already taken by another trigger is left alone."""
        self._conditional(
            "space the trigger slot",
            self._client.update_item,
            Key=self._key(connector_id, TRIGGER_ITEM),
            UpdateExpression="SET #until = :until",
            ConditionExpression="holder = :me",
            ExpressionAttributeNames={"#until": "until"},
            ExpressionAttributeValues={
                ":until": {"N": f"{answered + SPACING_SECONDS:.3f}"},
                ":me": {"S": holder},
            },
        )

    def wait_for_slot(
        self,
        connector_id: str,
        holder: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = MAX_WAIT_SECONDS,
    ) -> bool:
        """Wait (at most ``max_wait`` seconds) until the connection's trigger slot is ours.

        Returns True once held; False when another trigger still holds it after ``max_wait`` (a
        trigger in flight longer than that, or one whose Lambda died): the caller triggers all the
        same, and the identity rule's limit applies to that one trigger."""
        deadline = clock() + max_wait
        while True:
            now = clock()
            frees_at = self.hold(connector_id, holder, now)
            if frees_at is None:
                return True
            if now >= deadline:
                return False
            sleep(max(0.01, min(frees_at, deadline) - now))
