"""Reading a local run back from moto: its history, its outcomes file, an ``s3://`` object.

``LocalRuntime`` (``local/runtime.py``) inherits these; they need only its ``clients``
(moto's Step Functions and S3 clients).
"""

from __future__ import annotations

import json
from typing import Any


class RunReads:
    clients: dict[str, Any]

    def history(self, arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
        while True:
            page = self.clients["stepfunctions"].get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def run_outcomes(self, history: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The run's ``outcomes.json`` (every connection's outcome and the skipped ones), found
        through ``CollectOutcomes``' output; ``None`` until that state has run."""
        for event in history:
            details = event.get("stateExitedEventDetails")
            if not details or details.get("name") != "CollectOutcomes":
                continue
            collected = (json.loads(details["output"]).get("result") or {}).get("collected") or {}
            where = collected.get("outcomes") or {}
            if not where.get("bucket"):  # collect_outcomes failed: no outcomes were written
                return None
            body = self.clients["s3"].get_object(Bucket=where["bucket"], Key=where["key"])["Body"].read()
            return dict(json.loads(body))
        return None

    def outcomes(self, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each connection's recorded outcome (works for runs that failed after the sync stage);
        none before ``CollectOutcomes`` has run."""
        collected = self.run_outcomes(history)
        return list((collected or {}).get("connections") or [])

    def read_s3_uri(self, uri: str) -> bytes | None:
        """The object at ``s3://bucket/key`` in moto's S3, or ``None`` for an empty URI."""
        if not uri:
            return None
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return bytes(self.clients["s3"].get_object(Bucket=bucket, Key=key)["Body"].read())
