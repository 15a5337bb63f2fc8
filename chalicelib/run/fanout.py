"""The fan-out's two ends: the listing hands the Map its items in S3, and ``collect_outcomes``
turns the Map's results into the run's bounded state.

Before the Map (``list_connectors``): ``connections.json`` (the Map's ``ItemReader`` reads it)
and ``skipped.json``; the state keeps ``{"items": {"bucket", "key", "count"}, "skipped": [first
100], "skipped_count"}``, so the listing's state does not grow with the group.

After the Map (``collect_outcomes``): the ResultWriter's manifest names its result files
(``{"ResultFiles": {"SUCCEEDED": [{"Key", "Size"}], "FAILED": [...], "PENDING": [...]}}``;
AWS docs, "ResultWriter (Map)"); every record is read, ``chalicelib.run.collect`` builds the
outcomes, ``outcomes.json`` and ``exclude_sources.json`` are written, and the state gets
the bounded summary (``Collected.state``) plus where the full files are.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalicelib.platform.errors import RunFilesError
from chalicelib.platform.log import logger
from chalicelib.run.collect import STATE_OUTCOMES, collect
from chalicelib.run.run_files import RunFiles, S3Location, read_json

if TYPE_CHECKING:  # the pinned stubs (requirements-dev.txt); not in the Lambda package
    from mypy_boto3_s3 import S3Client

__all__ = ["collect_run", "write_items"]

RESULT_STATUSES = ("SUCCEEDED", "FAILED", "PENDING")


def write_items(
    files: RunFiles, connectors: list[dict[str, Any]], skipped: list[dict[str, Any]]
) -> dict[str, Any]:
    """Write the Map's items and the skipped list; returns what the state keeps."""
    items = files.put_json("connections.json", connectors)
    files.put_json("skipped.json", skipped)
    return {
        "items": {**items.to_dict(), "count": len(connectors)},
        "skipped": skipped[:STATE_OUTCOMES],
        "skipped_count": len(skipped),
    }


def _records(s3: S3Client, map_run: Mapping[str, Any]) -> list[dict[str, Any]]:
    details = map_run.get("ResultWriterDetails") if isinstance(map_run, Mapping) else None
    manifest_at = S3Location.from_dict(
        {"bucket": (details or {}).get("Bucket"), "key": (details or {}).get("Key")},
        "the Map's ResultWriterDetails",
    )
    manifest = read_json(s3, manifest_at)
    files = (manifest or {}).get("ResultFiles") or {}
    bucket = manifest.get("DestinationBucket") or manifest_at.bucket
    records: list[dict[str, Any]] = []
    for status in RESULT_STATUSES:
        for entry in files.get(status) or []:
            chunk = read_json(s3, S3Location(bucket, str(entry.get("Key"))))
            if not isinstance(chunk, list):
                raise RunFilesError(f"s3://{bucket}/{entry.get('Key')} is not a JSON array of child records")
            records.extend(r for r in chunk if isinstance(r, dict))
    return records


def collect_run(
    files: RunFiles, s3: S3Client, map_run: Mapping[str, Any], *, execution_arn: str, paused: str = "skip"
) -> dict[str, Any]:
    """Read the Map's results, write ``outcomes.json`` and ``exclude_sources.json``.

    ``paused``: the run's ``paused`` policy (``collect``). Returns ``Collected.state(...)`` plus
    ``outcomes`` (``{"bucket", "key"}``) and
    ``exclude_sources_uri``. Raises ``RunFilesError`` when a file cannot be read or written.
    """
    records = _records(s3, map_run)
    items = files.get_json("connections.json")
    skipped = files.get_json("skipped.json")
    collected = collect(
        items if isinstance(items, list) else [],
        records,
        skipped if isinstance(skipped, list) else [],
        paused=paused,
    )
    outcomes = files.put_json(
        "outcomes.json", collected.file(execution_arn=execution_arn, map_run_arn=map_run.get("MapRunArn"))
    )
    exclusions = files.put_json("exclude_sources.json", collected.excluded_sources)
    state = collected.state(outcomes_uri=outcomes.uri)
    logger.info(
        "outcomes collected",
        extra={"counts": state["counts"], "records": len(records), "outcomes": outcomes.uri},
    )
    return {**state, "outcomes": outcomes.to_dict(), "exclude_sources_uri": exclusions.uri}
