"""``python -m local.warehouse DB [--rows N] [--seed N] [--service S ...]``: one sync of each demo connection
(``seed_demo``) into a DuckDB file, then one JSON line saying how many rows were written."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from local.warehouse.syncs import write_syncs
from local.warehouse.tables import DEMO_SCHEMAS
from local.warehouse.writer import Load


def seed_demo(
    db_path: str | Path, *, rows: int = 50, seed: int = 0, services: list[str] | None = None
) -> int:
    """Land one sync of each demo connection (or of ``services``) into ``db_path``; return rows written."""
    chosen = services or list(DEMO_SCHEMAS)
    results = write_syncs(db_path, [Load(DEMO_SCHEMAS.get(s, s), s, rows, seed) for s in chosen])
    for result in results:
        if isinstance(result, Exception):
            raise result
    return sum(r for r in results if isinstance(r, int))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.warehouse", description="Write sample Fivetran-shaped rows into a DuckDB file."
    )
    parser.add_argument("db_path", help="the DuckDB file (created if missing)")
    parser.add_argument("--rows", type=int, default=50, help="rows per table (default 50)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--service", action="append", choices=sorted(DEMO_SCHEMAS), help="repeatable")
    args = parser.parse_args(argv)
    written = seed_demo(args.db_path, rows=args.rows, seed=args.seed, services=args.service)
    print(json.dumps({"event": "warehouse_seeded", "db_path": args.db_path, "rows": written}))
    return 0
