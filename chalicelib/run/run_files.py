"""A run's files in the artifacts bucket: what the Distributed Map reads and what it leaves behind.

Everything under ``s3://<artifacts bucket>/runs/<execution name>/``:

=========================  ================================================================
key                        written by / read by
=========================  ================================================================
``connections.json``       ``list_connectors`` / the Map's ``ItemReader`` (a JSON array, one
                           item per connection to sync)
``skipped.json``           ``list_connectors`` / ``collect_outcomes`` (every skipped
                           connection with its reason; the state keeps the first 100)
``outcomes.json``          ``collect_outcomes`` / ``orchestrator show`` and the HTML page
                           (every connection's outcome, full causes, no stack traces)
``exclude_sources.json``   ``collect_outcomes`` / the dbt task (``DBT_EXCLUDE_SOURCES_URI``):
                           the failed connections' source names, a JSON array
=========================  ================================================================

The Map's ``ResultWriter`` writes under ``map-runs/<map run id>/`` (``manifest.json`` and
``SUCCEEDED_n.json`` / ``FAILED_n.json`` / ``PENDING_n.json``; AWS docs, "ResultWriter (Map)").
Errors: ``RunFilesError`` (``Orchestrator.RunFilesError``) names the object and S3's error code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.platform.errors import RunFilesError

if TYPE_CHECKING:  # the pinned stubs (requirements-dev.txt); not in the Lambda package
    from mypy_boto3_s3 import S3Client

__all__ = ["RunFiles", "S3Location"]

RUNS_PREFIX = "runs"


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def to_dict(self) -> dict[str, str]:
        return {"bucket": self.bucket, "key": self.key}

    @classmethod
    def from_dict(cls, raw: Any, what: str) -> S3Location:
        if not isinstance(raw, dict) or not raw.get("bucket") or not raw.get("key"):
            raise RunFilesError(f"{what} must be {{'bucket', 'key'}}, got {raw!r}")
        return cls(str(raw["bucket"]), str(raw["key"]))


class RunFiles:
    """Reads and writes one run's files. ``s3`` is a boto3 S3 client (injected)."""

    def __init__(self, s3: S3Client, bucket: str, run_name: str) -> None:
        if not bucket:
            raise RunFilesError("no artifacts bucket given: the state machine passes ${ArtifactsBucket}")
        if not run_name or "/" in run_name:
            raise RunFilesError(f"not a usable run name: {run_name!r}")
        self._s3 = s3
        self.bucket = bucket
        self.run_name = run_name

    def location(self, name: str) -> S3Location:
        return S3Location(self.bucket, f"{RUNS_PREFIX}/{self.run_name}/{name}")

    def put_json(self, name: str, value: Any) -> S3Location:
        where = self.location(name)
        body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        _call(
            self._s3.put_object,
            where,
            Bucket=where.bucket,
            Key=where.key,
            Body=body,
            ContentType="application/json",
        )
        return where

    def get_json(self, name: str) -> Any:
        return read_json(self._s3, self.location(name))


def read_json(s3: S3Client, where: S3Location) -> Any:
    """The parsed JSON object at ``where``; raises ``RunFilesError``."""
    answer = _call(s3.get_object, where, Bucket=where.bucket, Key=where.key)
    try:
        return json.loads(answer["Body"].read())
    except ValueError as exc:
        raise RunFilesError(f"{where.uri} is not JSON: {exc}") from exc


def _call(method: Any, where: S3Location, **kwargs: Any) -> Any:
    try:
        return method(**kwargs)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "unknown")
        raise RunFilesError(f"S3 refused {method.__name__} on {where.uri}: {code}") from exc
    except BotoCoreError as exc:
        raise RunFilesError(f"S3 unreachable for {where.uri}: {exc}") from exc
