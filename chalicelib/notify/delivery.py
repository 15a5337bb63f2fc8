"""Delivering a run's message: a Slack incoming webhook (HTTP POST) and an SNS topic (email subscribers).

A delivery never raises: each channel answers a ``Delivery`` (sent or not, and why), and the notifier logs
it. Retries are the libraries' own: urllib3's ``Retry`` on the requests adapter for Slack (connection
errors, 429 with ``Retry-After``, 5xx; POST included: at worst a message is posted twice, rather than
lost), botocore's standard retry mode for SNS.

Facts: Slack answers ``200 ok``, or 4xx with a reason (``invalid_payload``, ``no_service``...: not
retried; Slack API docs, "Handling errors" for incoming webhooks), and ``429`` with ``Retry-After`` when
rate limited. SNS ``Publish`` takes a ``Subject`` of at most 100 ASCII characters without line breaks
and a message of at most 256 KB (SNS API reference, "Publish").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests
from botocore.exceptions import BotoCoreError, ClientError
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from chalicelib.notify.message import RunMessage

if TYPE_CHECKING:  # the pinned stubs (requirements-dev.txt); not in the Lambda package
    from mypy_boto3_sns import SNSClient

__all__ = ["Delivery", "SlackWebhook", "SnsTopic"]

RETRY_STATUSES = (429, 500, 502, 503, 504)
USER_AGENT = "fivetran-orchestrator/0.1 (run notifications)"
SNS_MESSAGE_CHARS = 200_000  # below SNS's 256 KB with room for multi-byte characters


@dataclass(frozen=True)
class Delivery:
    """One channel's answer: ``channel`` (``slack`` | ``sns``), ``sent``, and ``detail`` (why not, or the
    receipt: Slack's answer, SNS's message id). Never holds the webhook URL (it is a credential)."""

    channel: str
    sent: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "sent": self.sent, "detail": self.detail}


class SlackWebhook:
    """Posts to a Slack incoming webhook. ``url``: called at delivery (the secret is read then, so a
    missing secret is a failed delivery, not a failed import). ``retries`` and ``backoff`` (seconds,
    doubled per retry) bound the attempts; ``timeout`` bounds each one (seconds)."""

    channel = "slack"

    def __init__(
        self,
        url: Callable[[], str],
        *,
        retries: int = 3,
        backoff: float = 0.5,
        timeout: float = 5.0,
        session: requests.Session | None = None,
    ) -> None:
        self._url = url
        self._timeout = timeout
        self._session = session or requests.Session()
        retry = Retry(
            total=retries,
            backoff_factor=backoff,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"POST"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("https://", adapter)
        self._session.mount("http://", adapter)
        self._session.headers["User-Agent"] = USER_AGENT

    def send(self, message: RunMessage) -> Delivery:
        try:
            url = self._url()
        except (
            Exception
        ) as exc:  # a missing or unreadable secret: the message names the secret, not its value
            return Delivery(self.channel, False, f"no webhook URL: {exc}")
        if not url.startswith(("https://", "http://")):
            return Delivery(self.channel, False, "the webhook URL is not an http(s) URL")
        try:
            answer = self._session.post(url, json=message.slack_payload(), timeout=self._timeout)
        except requests.RequestException as exc:
            # requests' message may quote the URL (its path is the credential): name the error's type only.
            return Delivery(self.channel, False, f"unreachable after retries ({type(exc).__name__})")
        if answer.status_code != 200:
            return Delivery(self.channel, False, f"Slack answered {answer.status_code}: {answer.text[:200]}")
        return Delivery(self.channel, True, answer.text[:200] or "ok")


class SnsTopic:
    """Publishes to an SNS topic (its email subscribers get the subject and the text). ``sns``: a boto3
    SNS client (injected; its config carries the retries)."""

    channel = "sns"

    def __init__(self, sns: SNSClient, topic_arn: str) -> None:
        self._sns = sns
        self._topic_arn = topic_arn

    def send(self, message: RunMessage) -> Delivery:
        subject = " ".join(message.subject.encode("ascii", "replace").decode("ascii").split())[:100]
        try:
            answer = self._sns.publish(
                TopicArn=self._topic_arn, Subject=subject, Message=message.text[:SNS_MESSAGE_CHARS]
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "unknown")
            return Delivery(self.channel, False, f"SNS refused Publish to {self._topic_arn}: {code}")
        except BotoCoreError as exc:
            return Delivery(self.channel, False, f"SNS unreachable for {self._topic_arn}: {exc}")
        return Delivery(self.channel, True, str(answer.get("MessageId") or ""))
