"""The row counts of each source table the rule judges, measured with one ``dbt show`` query.

Selection by new data (``task/new_data.py``) compares each source table's ``max_loaded_at`` *and* its row
counts with the last build's. Fivetran stamps ``_fivetran_synced`` on every row it writes, but not on
every change it makes ([official] https://fivetran.com/docs/core-concepts/system-columns-and-tables: it
is not updated for bulk operations such as TRUNCATE, for mass deletes during a re-sync, nor for rows
deleted from history-mode tables), and a hard delete writes no row at all. What such a change moves
instead is one of three counts, the table's ``RowCounts``:

- ``rows``: ``count(*)`` (a hard delete, a re-sync that drops rows);
- ``deleted``: rows with ``_fivetran_deleted`` true (a TRUNCATE or a re-sync's mass delete, soft-deleted);
- ``active``: rows with ``_fivetran_active`` true (a delete in history mode);

-1 where the table has no such column. The query goes through the project's own profile and target, so it
reads what dbt reads; per source (its columns looked up with ``adapter.get_columns_in_relation``)::

    select <n> as source_index, count(*) as row_count,
           <sum of _fivetran_deleted, or -1> as deleted_rows, <sum of _fivetran_active, or -1> as active_rows
    from {{ source(...) }}

joined by ``union all``, run as ``dbt show --inline <query> --limit -1 --output json``. dbt writes the
result as its ``ShowNode`` event (``data.preview``, a JSON list of rows) in its JSON log file; this run's
log goes to a folder of its own (``<DBT_LOG_PATH>/row_counts``), emptied first, so no earlier run's result
can be read.

Cost: one more dbt invocation (dbt's start and parse, seconds), one column lookup per judged table (a
metadata query), and one query reading the tables: ``count(*)`` comes from table metadata on Snowflake and
BigQuery, and the flag columns, where a table has them, are read in full (one boolean column; a scan of the
table on Postgres and DuckDB). Anything that goes wrong (the query fails, a table was dropped, the log
cannot be read) leaves every count unknown (None): then no source can be judged and everything downstream
of them builds, never less.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from task.command_line import show_args
from task.events import log_event
from task.process import DbtProcess
from task.settings import Settings

LOG_FOLDER = "row_counts"
SHOW_EVENT = "ShowNode"


RowCounts = tuple[
    int, int, int
]  # (rows, rows flagged _fivetran_deleted, rows _fivetran_active); -1: no column
FLAG_COLUMNS = ("_fivetran_deleted", "_fivetran_active")

# One source's part of the query. Jinja, rendered by dbt show: the column names as the warehouse spells them
# (Snowflake: upper case), quoted by the adapter.
_PART = """{%- set rel = source(SOURCE_NAME, TABLE_NAME) -%}
{%- set cols = {} -%}
{%- for col in adapter.get_columns_in_relation(rel) -%}
{%- do cols.update({col.name | lower: adapter.quote(col.name)}) -%}
{%- endfor %}
select INDEX as source_index, count(*) as row_count,
FLAGS
from {{ rel }}"""
_FLAG = (
    """{{ ('coalesce(sum(case when ' ~ cols[NAME] ~ ' then 1 else 0 end), 0)') if NAME in cols else '-1' }}"""
    " as ALIAS"
)


def count_query(manifest: Mapping[str, Any], source_ids: Iterable[str]) -> tuple[str, list[str]]:
    """The one query that counts every listed source's rows, and the source ids in its ``source_index``
    order; sources the manifest does not know are left out ("" if none)."""
    sources: Mapping[str, Any] = manifest.get("sources") or {}
    counted: list[str] = []
    parts: list[str] = []
    flags = ",\n".join(
        _FLAG.replace("NAME", json.dumps(name)).replace("ALIAS", alias)
        for name, alias in zip(FLAG_COLUMNS, ("deleted_rows", "active_rows"), strict=True)
    )
    for uid in sorted(set(source_ids)):
        source = sources.get(uid) or {}
        source_name, table = source.get("source_name"), source.get("name")
        if not isinstance(source_name, str) or not isinstance(table, str):
            continue
        part = _PART.replace("SOURCE_NAME", json.dumps(source_name)).replace("TABLE_NAME", json.dumps(table))
        parts.append(part.replace("INDEX", str(len(counted))).replace("FLAGS", flags))
        counted.append(uid)
    return "\nunion all\n".join(parts), counted


def read_show_result(log_text: str) -> list[dict[str, Any]] | None:
    """The rows of the last inline ``dbt show`` in a JSON-lines dbt log (keys lower-cased: Snowflake
    answers in upper case); None when there is none."""
    rows: list[dict[str, Any]] | None = None
    for line in log_text.splitlines():
        if SHOW_EVENT not in line:
            continue
        try:
            event = json.loads(line)
            if event["info"]["name"] != SHOW_EVENT or not event["data"].get("is_inline"):
                continue
            preview = json.loads(event["data"]["preview"])
        except (ValueError, KeyError, TypeError):
            continue
        if isinstance(preview, list):
            rows = [{str(k).lower(): v for k, v in row.items()} for row in preview if isinstance(row, dict)]
    return rows


def counts_from_rows(rows: list[dict[str, Any]], counted: list[str]) -> dict[str, RowCounts | None]:
    """``{source id: RowCounts}`` from the query's rows; None for a source whose row is missing or odd."""
    found: dict[str, RowCounts | None] = dict.fromkeys(counted)
    for row in rows:
        index = _integer(row.get("source_index"))
        values = [_integer(row.get(name)) for name in ("row_count", "deleted_rows", "active_rows")]
        if index is None or not 0 <= index < len(counted):
            continue
        total, deleted, active = values
        if total is not None and total >= 0 and deleted is not None and active is not None:
            found[counted[index]] = (total, deleted, active)
    return found


def _integer(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return int(number) if number == number.to_integral_value() else None


def measure_row_counts(
    settings: Settings,
    dbt_env: Mapping[str, str],
    runner: DbtProcess,
    manifest: Mapping[str, Any],
    source_ids: Iterable[str],
) -> tuple[int, dict[str, RowCounts | None]]:
    """(dbt's exit code, ``{source id: RowCounts or None}``) for ``source_ids``; exit 0 and no counts when
    there is nothing to count."""
    query, counted = count_query(manifest, source_ids)
    if not counted:
        return 0, {}
    log_path = settings.log_path / LOG_FOLDER
    log_file = log_path / "dbt.log"
    log_file.unlink(missing_ok=True)
    code = runner.run(show_args(replace(settings, log_path=log_path), query), dbt_env)
    rows = read_show_result(_read(log_file)) if code == 0 else None
    if rows is None:
        log_event("row_counts_unknown", level="warning", dbt_exit=code, sources=len(counted))
        return code, dict.fromkeys(counted)
    counts = counts_from_rows(rows, counted)
    log_event("row_counts", sources=len(counted), unknown=sum(1 for v in counts.values() if v is None))
    return code, counts


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
