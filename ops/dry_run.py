"""``orchestrator start-run ... --dry-run``: what a run would do, without starting it.

The run input is validated by ``chalicelib.run.run_input.parse_run_input`` and the connections are
listed by ``chalicelib.run.listing.list_connectors``, the code of the run's first state, against the
target's Fivetran account (read-only calls: the group's connections, or one GET per id). Nothing is
triggered and no execution starts. The answer: the connections that would sync, those skipped and why
(``paused``, ``broken``: setup not connected, ``not_found``), and the dbt command and selection.

A run that would fail at its first state (``paused: fail`` with a paused connection, more connections
than a run takes) is said as that failure.
"""

from __future__ import annotations

import logging
import shlex
import sys
from dataclasses import dataclass
from typing import Any, cast

from chalicelib.platform.errors import PausedConnections, TooManyConnections
from chalicelib.platform.log import logger
from chalicelib.run.listing import Listing, list_connectors
from chalicelib.run.run_input import RunOptions, parse_run_input
from ops.errors import OpsError
from ops.target import Target

__all__ = ["SKIP_REASONS", "DryRun", "dry_run"]

SKIP_REASONS = {
    "paused": "paused in Fivetran (the run's paused: skip)",
    "broken": "setup not connected (broken or incomplete): Fivetran would refuse the sync",
    "not_found": "no such connection in the Fivetran account",
}
MODES = {
    "new_data": "only what depends on sources that got new data (dbt.mode new_data)",
    "all": "everything the selection names (dbt.mode all)",
}


@dataclass(frozen=True)
class DryRun:
    """The run's options as its first state reads them, and its listing."""

    options: RunOptions
    listing: Listing

    def dbt_command(self) -> str:
        """The dbt command line the task would run (before selection by new data narrows it)."""
        parts = ["dbt", *self.options.dbt.command.split()]
        if self.options.dbt.select:
            parts += ["--select", self.options.dbt.select]
        if self.options.dbt.exclude:
            parts += ["--exclude", self.options.dbt.exclude]
        return " ".join(shlex.quote(part) if " " in part else part for part in parts)

    def lines(self, target_label: str) -> list[str]:
        options, listing = self.options, self.listing
        what = (
            f"group {options.group_id}" if options.group_id else f"{len(options.connector_ids)} connector_ids"
        )
        lines = [f"dry run on {target_label} ({what}): nothing was started or triggered"]
        lines.append(f"would sync {len(listing.connectors)} connection(s):")
        lines += [
            f"  ✓ {c['connector_id']} ({c.get('service', '')}, schema {c.get('schema', '')})"
            for c in listing.connectors
        ]
        lines.append(f"would skip {len(listing.skipped)} connection(s):")
        lines += [
            f"  - {s['connector_id']}: {SKIP_REASONS.get(s['reason'], s['reason'])}" for s in listing.skipped
        ]
        lines.append(
            f"syncs: each may take {options.sync_timeout_seconds} s; "
            f"on a failed sync: {options.on_sync_failure}"
            + (
                " (dbt does not run)"
                if options.on_sync_failure == "fail"
                else " (dbt runs without its sources)"
            )
        )
        lines.append(f"dbt: {self.dbt_command()}")
        lines.append(f"  selection: {MODES.get(options.dbt.mode, options.dbt.mode)}")
        return lines


def dry_run(target: Target, run_input: dict[str, Any]) -> DryRun:
    """List what the run ``run_input`` would sync on ``target``; ``OpsError`` if it would fail first."""
    options = parse_run_input(run_input)
    # The listing's own log lines are the Lambda's, not the operator's: only its warnings, on stderr.
    handler = cast(logging.StreamHandler, logger.registered_handler)  # Powertools' own: a StreamHandler
    previous_stream = handler.setStream(sys.stderr)
    previous_level = logger.log_level
    logger.setLevel(logging.WARNING)
    try:
        listing = list_connectors(target.fivetran(), options)
    except (PausedConnections, TooManyConnections) as exc:
        raise OpsError(f"the run would fail at its first state: {exc} (nothing was started)") from None
    finally:
        logger.setLevel(previous_level)
        handler.setStream(previous_stream or sys.stdout)
    return DryRun(options, listing)
