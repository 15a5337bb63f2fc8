"""``python -m benchmarks.webhook_path [--connections N]``: print section 12 (where a webhook's time
goes); ``python -m benchmarks --webhookpath`` puts it in ``results.md``."""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from benchmarks.report.webhook_path import path_section
from benchmarks.webhook_path import Stages, run_path


def measure(connections: int, save: Path | None = None) -> str:
    """Run and render section 12; ``save``: also write the raw stages there (JSON)."""
    with tempfile.TemporaryDirectory(prefix="bench-webhook-path-") as tmp:
        measured, latencies, facts = run_path(connections, Path(tmp))
    one, five, fifteen = os.getloadavg()
    now = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    load = f"{now} UTC, load averages {one:.1f} {five:.1f} {fifteen:.1f}"
    if save is not None:
        raw = {"stages": [asdict(s) for s in measured], "latencies_s": latencies, "facts": dict(facts)}
        save.write_text(json.dumps({**raw, "load": load}, indent=1), encoding="utf-8")
    if not measured:
        return f"## 12. Where a webhook's time goes\n\nNo delivery measured ({facts})."
    return path_section(measured, latencies, facts, load=load)


def render(saved: Path) -> str:
    """Section 12 from the raw stages ``measure`` saved."""
    raw = json.loads(saved.read_text(encoding="utf-8"))
    stages = [Stages(**s) for s in raw["stages"]]
    return path_section(stages, raw["latencies_s"], raw["facts"], load=raw.get("load", "(time not kept)"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.webhook_path", description=__doc__)
    parser.add_argument("--connections", type=int, default=8, help="connections (default 8, as section 1)")
    parser.add_argument("--save", type=Path, help="also write the raw stages here (JSON)")
    args = parser.parse_args(argv)
    print(measure(args.connections, args.save))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
