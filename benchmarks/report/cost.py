"""Lambda's billed memory, read from the Chalice config (section 8 prices GB-seconds at it)."""

from __future__ import annotations

import json

from benchmarks import ROOT

__all__ = ["lambda_memory_mb"]


def lambda_memory_mb() -> int:
    """The functions' memory from ``.chalice/config.json`` (what AWS bills GB-seconds on)."""
    try:
        config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
        return int(config.get("lambda_memory_size", 128))
    except (OSError, ValueError):
        return 128
