"""The row count of each source table the rule judges, measured with one ``dbt show`` query.

Selection by new data (``task/new_data.py``) compares each source table's ``max_loaded_at`` *and* its row
count with the last build's: a hard delete (or a re-sync that drops rows) moves only the count. The count
is one query through the project's own profile and target, so it reads what dbt reads::

    select 0 as source_index, count(*) as row_count from <relation of source 0>
    union all select 1, count(*) from <relation of source 1> ...

run as ``dbt show --inline <query> --limit -1 --output json``. dbt writes the result as its ``ShowNode``
event (``data.preview``, a JSON list of rows) in its JSON log file; this run's log goes to a folder of its
own (``<DBT_LOG_PATH>/row_counts``), emptied first, so no earlier run's result can be read.

Cost: one more dbt invocation (dbt's start and parse, seconds) and one ``count(*)`` per judged table: from
table metadata on Snowflake, BigQuery and Redshift; a scan on Postgres and DuckDB. Anything that goes wrong
(the query fails, a table was dropped, the log cannot be read) leaves every count unknown (None): then no
source can be judged and everything downstream of them builds, never less.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from task.command_line import dbt_invocation, show_args
from task.events import log_event
from task.process import DbtProcess
from task.settings import Settings

LOG_FOLDER = "row_counts"
SHOW_EVENT = "ShowNode"


def count_query(manifest: Mapping[str, Any], source_ids: Iterable[str]) -> tuple[str, list[str]]:
    """The one query that counts every listed source's rows, and the source ids in its ``source_index``
    order; sources the manifest does not know or that have no ``relation_name`` are left out ("" if none)."""
    sources: Mapping[str, Any] = manifest.get("sources") or {}
    counted: list[str] = []
    parts: list[str] = []
    for uid in sorted(set(source_ids)):
        relation = (sources.get(uid) or {}).get("relation_name")
        if not isinstance(relation, str) or not relation.strip():
            continue
        # relation_name is dbt's own rendering of the source's relation, quoted by the adapter
        parts.append(f"select {len(counted)} as source_index, count(*) as row_count from {relation}")  # noqa: S608
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


def counts_from_rows(rows: list[dict[str, Any]], counted: list[str]) -> dict[str, int | None]:
    """``{source id: row count}`` from the query's rows; None for a source whose row is missing or odd."""
    found: dict[str, int | None] = dict.fromkeys(counted)
    for row in rows:
        index, count = _integer(row.get("source_index")), _integer(row.get("row_count"))
        if index is not None and 0 <= index < len(counted) and count is not None and count >= 0:
            found[counted[index]] = count
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
) -> tuple[int, dict[str, int | None]]:
    """(dbt's exit code, ``{source id: row count or None}``) for ``source_ids``; exit 0 and no counts when
    there is nothing to count."""
    query, counted = count_query(manifest, source_ids)
    if not counted:
        return 0, {}
    log_path = settings.log_path / LOG_FOLDER
    log_file = log_path / "dbt.log"
    log_file.unlink(missing_ok=True)
    code = runner.run(dbt_invocation() + show_args(replace(settings, log_path=log_path), query), dbt_env)
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
