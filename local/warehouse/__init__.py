"""The local warehouse: Fivetran-shaped sample rows written into a DuckDB file, what one sync of a demo
connection lands. The local Fivetran simulator and the dbt tests write through it; dbt reads the file.

Only ``duckdb`` and the standard library: it runs in the app's venv and in the dbt venv alike. Modules:

- ``tables``: the shape of the demo connections' tables (``TABLES``, which the dbt project's sources in
  ``dbt_container/project/models/staging`` mirror), ``DEMO_SCHEMAS``, how ids look
- ``rows``: the sample rows, believable and deterministic for a seed (``person_email``)
- ``writer``: ``Load`` (one sync) and one open connection landing loads in the file
- ``syncs``: ``write_sync``, ``write_syncs`` and ``session``, serialized per process
- ``cli``: ``seed_demo`` and ``python -m local.warehouse``

Callers use this package's names (``from local import warehouse``; ``warehouse.write_sync(...)``), so a
test that patches ``warehouse.write_sync`` replaces the writes of the callers that look it up there.
"""

from local.warehouse.cli import main, seed_demo
from local.warehouse.rows import person_email
from local.warehouse.syncs import session, write_sync, write_syncs
from local.warehouse.tables import DEMO_SCHEMAS, GENERIC_TABLES, SYNCED, TABLES, Columns, tables_for
from local.warehouse.writer import Load

__all__ = [
    "DEMO_SCHEMAS",
    "GENERIC_TABLES",
    "SYNCED",
    "TABLES",
    "Columns",
    "Load",
    "main",
    "person_email",
    "seed_demo",
    "session",
    "tables_for",
    "write_sync",
    "write_syncs",
]
