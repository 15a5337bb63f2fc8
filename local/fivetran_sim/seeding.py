"""The warehouse before the run: Fivetran has synced these connections before, so each connected
connection's schema starts with a historical load (an hour ago, on Fivetran's clock), and the dbt
project's own sources (the five demo schemas) are loaded when the scenario does not name them."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from pathlib import Path

from local import warehouse
from local.fivetran_sim.records import ConnectionState


def seed_history(duckdb_path: Path, connections: Collection[ConnectionState], loaded_at: datetime) -> None:
    """Load every schema, then record ``loaded_at`` as each loaded connection's last success."""
    named = {state.spec.schema for state in connections}
    missing = [svc for svc, schema in warehouse.DEMO_SCHEMAS.items() if schema not in named]
    loads = [warehouse.Load(warehouse.DEMO_SCHEMAS[svc], svc, rows=20, seed=99) for svc in missing]
    loaded = [state for state in connections if state.spec.setup_state == "connected"]
    loads += [
        warehouse.Load(
            state.spec.schema, state.spec.service, max(state.spec.sync.rows, 20), state.seed, loaded_at
        )
        for state in loaded
    ]
    # One connection and one transaction for them all: opening and checkpointing the file per
    # connection took minutes for a few thousand connections.
    for result in warehouse.write_syncs(duckdb_path, loads):
        if isinstance(result, Exception):
            raise result
    for state in loaded:
        state.succeeded_at = loaded_at
