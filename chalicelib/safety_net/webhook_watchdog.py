"""The webhook watchdog: the safety net notices when the stage's Fivetran webhook stops delivering.

Fivetran disables a webhook after about 24 hours of failed deliveries (``../shared/reference/fivetran.md``
§8: a changed URL, an expired certificate, a WAF rule); runs then keep ending through the safety net, only
slower, and nothing else would say why. After each ``reconcile_syncs`` pass, at most every
``interval_seconds`` (``WEBHOOK_WATCHDOG_SECONDS``, 900: one ``GET /v1/webhooks`` per 15 minutes whatever
the safety net's cadence), the watchdog judges the stage's webhook:

==============  =================================================================================
state           when
==============  =================================================================================
``missing``     no webhook of the account posts to the stage's URL
``inactive``    the webhooks that post there all have ``active: false``
``silent``      one is active, yet since the previous check the safety net itself found at least
                ``SILENT_AFTER_ENDS`` sync ends (tokens it completed from the sync history: their
                ``sync_end`` never came) while no delivery reached the route
``ok``          otherwise
==============  =================================================================================

Each check emits ``WebhookUnhealthy`` (1 for the first three, 0 for ``ok``; the stack's
``WebhookUnhealthyAlarm`` fires on 1) and logs ``webhook watchdog`` with the state and what to do;
``orchestrator register-webhook`` re-activates an inactive webhook (``PATCH /v1/webhooks/{id}``).

The stage's URL is ``FIVETRAN_WEBHOOK_URL`` when set, else the URL the route was last reached at (a
delivery records it), else any webhook whose URL ends in ``/webhooks/fivetran`` stands for it.

Two items of the token table, under the ``__lease__`` partition, hold its state::

    webhook-watchdog   checked_at (epoch s), state, detail, webhook_id, found_ends (ADDed each pass)
    webhook-delivery   delivered_at (epoch s), url: the route's last noted delivery

The route notes a delivery at most once per ``note_every(WEBHOOK_WATCHDOG_SECONDS)`` per container (a
Lambda container, or ``chalice local``'s process), and at once when it was reached at a new URL: a
fifteenth of the check interval, at most ``NOTE_EVERY_SECONDS`` (60 s of the default 15 minutes). The
note is one DynamoDB write before the webhook's answer, and the check only asks whether any delivery
came since the previous check. The bound: ``delivered_at`` is at most that long older than the
container's latest accepted delivery. A check can therefore miss deliveries only when they all came
within it of a note made just before the check, with none later: a webhook that delivered only then and
missed ``SILENT_AFTER_ENDS`` sync ends since counts as silent, as it has in effect stopped delivering.

Nothing here ever fails a pass or a delivery: a Fivetran or DynamoDB error is logged and the check
waits for its next turn.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.platform.errors import FivetranError
from chalicelib.platform.log import logger
from chalicelib.platform.metrics import record_webhook_check
from chalicelib.tokens.records import LEASE_PARTITION

if TYPE_CHECKING:  # the pinned stubs (requirements-dev.txt); not in the Lambda package
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "DEFAULT_INTERVAL_SECONDS",
    "NOTE_EVERY_SECONDS",
    "ROUTE_PATH",
    "SILENT_AFTER_ENDS",
    "Verdict",
    "WatchRecord",
    "WebhookState",
    "WebhookWatch",
    "judge",
    "note_every",
    "watch_webhook",
]

ROUTE_PATH = "/webhooks/fivetran"
WATCH_ITEM = "webhook-watchdog"
DELIVERY_ITEM = "webhook-delivery"
DEFAULT_INTERVAL_SECONDS = 900
# Sync ends the safety net must find itself, with no delivery, before an active webhook counts as silent
# (one lost delivery is Fivetran's ordinary retry, not a silent webhook).
SILENT_AFTER_ENDS = 3
# A container writes at most one delivery note per this many seconds (per URL), and per a fifteenth of
# the check interval when that is shorter: see the module's text.
NOTE_EVERY_SECONDS = 60.0
NOTES_PER_CHECK = 15


def note_every(check_seconds: float) -> float:
    """Seconds between a container's delivery notes for checks every ``check_seconds`` (0: never)."""
    if check_seconds <= 0:
        return NOTE_EVERY_SECONDS
    return min(NOTE_EVERY_SECONDS, check_seconds / NOTES_PER_CHECK)


TTL_SECONDS = 30 * 86_400
CONDITION_FAILED = "ConditionalCheckFailedException"
REGISTER = "orchestrator register-webhook --group <group_id>"


class WebhookState(StrEnum):
    OK = "ok"
    MISSING = "missing"
    INACTIVE = "inactive"
    SILENT = "silent"


@dataclass(frozen=True)
class Verdict:
    """One check's finding: the ``state``, what a person should do (``detail``), the webhook judged."""

    state: WebhookState
    detail: str
    webhook_id: str | None = None

    @property
    def unhealthy(self) -> bool:
        return self.state is not WebhookState.OK

    def to_dict(self) -> dict[str, Any]:
        return {"state": str(self.state), "detail": self.detail, "webhook_id": self.webhook_id}


@dataclass(frozen=True)
class WatchRecord:
    """The watchdog's item: the last check (``checked_at`` epoch seconds, None: never) and its verdict,
    and the sync ends the safety net found since (``found_ends``)."""

    checked_at: float | None = None
    found_ends: int = 0
    verdict: Verdict | None = None


class WebhookLister(Protocol):
    def list_webhooks(self) -> list[dict[str, Any]]: ...


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def judge(
    hooks: list[dict[str, Any]], *, url: str | None, found_ends: int, delivered_since_check: bool
) -> Verdict:
    """The stage's webhook among ``hooks`` (``GET /v1/webhooks`` items) for ``url`` (None: any URL whose
    path ends in ``ROUTE_PATH``); ``found_ends`` and ``delivered_since_check`` since the previous check."""
    if url:
        mine = [h for h in hooks if _same_url(str(h.get("url", "")), url)]
        where = url
    else:
        mine = [h for h in hooks if urlparse(str(h.get("url", ""))).path.rstrip("/").endswith(ROUTE_PATH)]
        where = f"a URL ending in {ROUTE_PATH}"
    slow = "runs end through the safety net meanwhile, minutes later"
    if not mine:
        return Verdict(WebhookState.MISSING, f"no Fivetran webhook posts to {where}: {slow}; run {REGISTER}")
    active = [h for h in mine if h.get("active", True) is not False]
    if not active:
        hook_id = str(mine[0].get("id"))
        return Verdict(
            WebhookState.INACTIVE,
            f"webhook {hook_id} ({mine[0].get('url')}) is inactive (Fivetran disables a webhook after about"
            f" 24 hours of failed deliveries): {slow}; {REGISTER} re-activates it",
            hook_id,
        )
    hook_id = str(active[0].get("id"))
    if found_ends >= SILENT_AFTER_ENDS and not delivered_since_check:
        return Verdict(
            WebhookState.SILENT,
            f"webhook {hook_id} is active but no delivery reached the route since the last check, while the"
            f" safety net found {found_ends} sync ends itself: {slow}; check the route's answers"
            " (WebhookAnswers), its URL and Fivetran's webhook settings",
            hook_id,
        )
    return Verdict(
        WebhookState.OK, f"webhook {hook_id} is active and posts to {active[0].get('url')}", hook_id
    )


def _key(item: str) -> dict[str, dict[str, str]]:
    return {"connector_id": {"S": LEASE_PARTITION}, "token_id": {"S": item}}


def _number(item: dict[str, Any], name: str) -> float | None:
    value = item.get(name, {}).get("N")
    return None if value is None else float(value)


def _text(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name, {}).get("S")
    return None if value is None else str(value)


class WebhookWatch:
    """The watchdog's items in the token table (``table_name``, a DynamoDB ``client``).

    One instance per container (``chalicelib.wiring.Dependencies.webhook_watch``): it remembers its
    last delivery note so that ``note_delivery`` writes at most one per ``note_every_seconds``."""

    def __init__(
        self, table_name: str, client: DynamoDBClient, *, note_every_seconds: float = NOTE_EVERY_SECONDS
    ) -> None:
        self._table = table_name
        self._client = client
        self._note_every = note_every_seconds
        self._noted: tuple[float, str | None] | None = None  # this instance's last written note
        self._noting = threading.Lock()

    def note_delivery(self, now: float, url: str | None) -> None:
        """The route accepted a delivery at ``now`` (epoch seconds; reached at ``url``, when known).
        Written unless this instance wrote one less than ``note_every_seconds`` before ``now`` with the
        same URL (``url`` None: any); a note that could not be written is retried by the next delivery.
        Never raises."""
        with self._noting:
            last = self._noted
            if last is not None and 0 <= now - last[0] < self._note_every and url in (None, last[1]):
                return
            self._noted = (now, url or (last[1] if last else None))
        if not self._write_delivery(now, url):
            with self._noting:
                if self._noted is not None and self._noted[0] == now:
                    self._noted = last

    def _write_delivery(self, now: float, url: str | None) -> bool:
        names = "delivered_at = :now, expires_at = :ttl" + (", #url = :url" if url else "")
        values: dict[str, Any] = {":now": {"N": f"{now:.3f}"}, ":ttl": {"N": str(int(now) + TTL_SECONDS)}}
        request: dict[str, Any] = {
            "TableName": self._table,
            "Key": _key(DELIVERY_ITEM),
            "UpdateExpression": "SET " + names,
            "ExpressionAttributeValues": values,
        }
        if url:
            values[":url"] = {"S": url}
            request["ExpressionAttributeNames"] = {"#url": "url"}
        try:
            self._client.update_item(**request)
        except (ClientError, BotoCoreError) as exc:
            logger.warning("could not note a webhook delivery", extra={"error": str(exc)})
            return False
        return True

    def last_delivery(self) -> tuple[float | None, str | None]:
        """When the route last accepted a delivery (epoch seconds) and the URL it was reached at."""
        item = self._get(DELIVERY_ITEM)
        return _number(item, "delivered_at"), _text(item, "url")

    def note_found_ends(self, count: int, now: float) -> None:
        """The safety net found ``count`` sync ends itself in this pass."""
        self._client.update_item(
            TableName=self._table,
            Key=_key(WATCH_ITEM),
            UpdateExpression="ADD found_ends :n SET expires_at = :ttl",
            ExpressionAttributeValues={":n": {"N": str(count)}, ":ttl": {"N": str(int(now) + TTL_SECONDS)}},
        )

    def read(self) -> WatchRecord:
        item = self._get(WATCH_ITEM)
        state = _text(item, "state")
        verdict = None
        if state in set(WebhookState):
            verdict = Verdict(WebhookState(state), _text(item, "detail") or "", _text(item, "webhook_id"))
        return WatchRecord(_number(item, "checked_at"), int(_number(item, "found_ends") or 0), verdict)

    def claim(self, now: float, seen: float | None) -> bool:
        """Take this check: ``checked_at`` becomes ``now`` only if it is still ``seen`` (two passes never
        both check)."""
        condition = "attribute_not_exists(checked_at)"
        values: dict[str, Any] = {":now": {"N": f"{now:.3f}"}}
        if seen is not None:
            condition = "checked_at = :seen"
            values[":seen"] = {"N": f"{seen:.3f}"}
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(WATCH_ITEM),
                UpdateExpression="SET checked_at = :now",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == CONDITION_FAILED:
                return False
            raise
        return True

    def save(self, verdict: Verdict, consumed_ends: int) -> None:
        """Keep the verdict; the ``consumed_ends`` it judged leave the count."""
        self._client.update_item(
            TableName=self._table,
            Key=_key(WATCH_ITEM),
            UpdateExpression=(
                "SET #state = :state, detail = :detail, webhook_id = :hook ADD found_ends :minus"
            ),
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={
                ":state": {"S": str(verdict.state)},
                ":detail": {"S": verdict.detail},
                ":hook": {"S": verdict.webhook_id or ""},
                ":minus": {"N": str(-consumed_ends)},
            },
        )

    def _get(self, item: str) -> dict[str, Any]:
        answer = self._client.get_item(TableName=self._table, Key=_key(item), ConsistentRead=True)
        return dict(answer.get("Item") or {})


def watch_webhook(
    watch: WebhookWatch,
    fivetran: WebhookLister | None,
    *,
    now: float,
    found_ends: int,
    url: str | None,
    interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
) -> Verdict | None:
    """After a safety-net pass that found ``found_ends`` sync ends itself: count them, and when the last
    check is ``interval_seconds`` old (0: never check), judge the stage's webhook (``url``: its URL, None:
    the URL the route was last reached at), emit ``WebhookUnhealthy`` and log the verdict. Returns the
    verdict, or None when no check ran (not due, another pass took it, ``fivetran`` None: the client
    could not be built, or a Fivetran or DynamoDB error, logged). Never raises those errors."""
    try:
        if found_ends > 0:
            watch.note_found_ends(found_ends, now)
        if interval_seconds <= 0 or fivetran is None:
            return None
        record = watch.read()
        if record.checked_at is not None and now - record.checked_at < interval_seconds:
            return None
        if not watch.claim(now, record.checked_at):
            return None
        delivered_at, delivered_url = watch.last_delivery()
        delivered = delivered_at is not None and (
            record.checked_at is None or delivered_at >= record.checked_at
        )
        verdict = judge(
            fivetran.list_webhooks(),
            url=url or delivered_url,
            found_ends=record.found_ends,
            delivered_since_check=delivered,
        )
        watch.save(verdict, record.found_ends)
    except FivetranError as exc:
        logger.warning("webhook watchdog could not read Fivetran's webhooks", extra={"error": str(exc)[:300]})
        return None
    except (ClientError, BotoCoreError) as exc:
        logger.warning("webhook watchdog could not use the token table", extra={"error": str(exc)})
        return None
    record_webhook_check(verdict.unhealthy)
    (logger.warning if verdict.unhealthy else logger.info)("webhook watchdog", extra=verdict.to_dict())
    return verdict
