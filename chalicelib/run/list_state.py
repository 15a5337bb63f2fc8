"""``ListConnectors``, the run's first state: check the run input, list the connections, write the
Distributed Map's items to S3, or hand a rate limit's wait to the state machine.

Input (``ListRequest.from_event``): ``{"input": <execution input>, "execution_start", "execution_name",
"artifacts_bucket", "defaults"}`` from the state machine, or a bare execution input (a manual invoke:
nothing is written to S3 and the connections come back in the answer).

Output: ``{"items": {"bucket", "key", "count"}, "skipped": [first 100], "skipped_count", "options",
"retry_at", "input"}``; ``retry_at`` (whole seconds, UTC) when Fivetran rate-limited the listing and
the run waits until then (``chalicelib/run/rate_limit.py``), else null. ``input`` is always null: the
state machine lists again from ``$$.Execution.Input``, ids never ride the state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.platform.errors import FivetranRateLimited
from chalicelib.platform.log import logger
from chalicelib.platform.timeutil import format_asl_timestamp, parse_timestamp, utcnow
from chalicelib.run.fanout import write_items
from chalicelib.run.listing import ConnectionSource, list_connectors
from chalicelib.run.rate_limit import listing_retry_at
from chalicelib.run.retries import note_retry
from chalicelib.run.run_files import RunFiles
from chalicelib.run.run_input import RunOptions, parse_run_input

__all__ = ["ListRequest", "RunFileStore", "list_for_run"]


class RunFileStore(Protocol):
    """Where a run's files live (``chalicelib/run/run_files.py``): one run's, by bucket and run name."""

    def run_files(self, bucket: str, run_name: str) -> RunFiles: ...


@dataclass(frozen=True)
class ListRequest:
    raw: Any  # the execution input
    wrapped: bool  # from the state machine (else a manual invoke)
    defaults: Any = None
    execution_start: Any = None
    bucket: str = ""
    run_name: str = ""

    @classmethod
    def from_event(cls, event: Any) -> ListRequest:
        if not (isinstance(event, Mapping) and "input" in event and "defaults" in event):
            return cls(raw=event, wrapped=False)
        return cls(
            raw=event["input"],
            wrapped=True,
            defaults=event.get("defaults"),
            execution_start=event.get("execution_start"),
            bucket=str(event.get("artifacts_bucket") or ""),
            run_name=str(event.get("execution_name") or ""),
        )


def list_for_run(
    request: ListRequest, fivetran: ConnectionSource, files: RunFileStore, *, max_connections: int
) -> dict[str, Any]:
    """The state's answer (see the module docstring). Raises ``InvalidInput`` (the run input),
    the listing's errors (``PausedConnections``, ``TooManyConnections``, ``FivetranError``), and
    ``FivetranRateLimited`` when the wait would outlast the run's deadline."""
    options = parse_run_input(
        request.raw,
        defaults=request.defaults,
        started_at=request.execution_start,
        max_connections=max_connections,
    )
    try:
        listing = list_connectors(fivetran, options, max_connections=max_connections)
    except FivetranRateLimited as exc:
        return _wait_to_list(exc, options)
    if not request.wrapped:
        return {**listing.to_dict(options), "retry_at": None, "input": None}
    run = files.run_files(request.bucket, request.run_name)
    written = write_items(run, listing.connectors, listing.skipped)
    if options.retry_of:
        note_retry(run, files.run_files(run.bucket, options.retry_of))
    return {**written, "options": options.to_dict(), "retry_at": None, "input": None}


def _wait_to_list(refused: FivetranRateLimited, options: RunOptions) -> dict[str, Any]:
    """The answer that makes the state machine wait (``WaitToList``) and list again; re-raises
    ``refused`` when the wait would outlast the run's deadline."""
    retry_at = listing_retry_at(refused, now=utcnow(), deadline=parse_timestamp(options.deadline or None))
    if retry_at is None:
        raise refused
    logger.warning("listing rate-limited; the run waits", extra={"retry_after_s": refused.retry_after})
    return {
        "items": None,
        "skipped": [],
        "skipped_count": 0,
        "options": options.to_dict(),
        "retry_at": format_asl_timestamp(retry_at, round_up=True),
        "input": None,
    }
