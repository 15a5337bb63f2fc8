"""The entrypoint's own events: one JSON line each on stderr (stdout holds only the run's summary)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any


def log_event(event: str, level: str = "info", **fields: Any) -> None:
    """One JSON line on stderr for the entrypoint's own events (never a secret value)."""
    record = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "level": level, "event": event}
    print(json.dumps({**record, **fields}, default=str), file=sys.stderr, flush=True)
