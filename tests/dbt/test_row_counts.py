"""The row counts of selection by new data: the one query, reading dbt's answer from its JSON log, and
every way it can go wrong leaving the counts unknown (so what depends on them builds)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.dbt.support import REPO

sys.path.insert(0, str(REPO / "dbt_container"))
from task import row_counts  # the dbt image's package, beside its entrypoint
from task.settings import load_settings

MANIFEST = {
    "sources": {
        "source.p.stripe.charges": {"source_name": "stripe", "name": "charges"},
        "source.p.hubspot.contacts": {"source_name": "hubspot", "name": "contacts"},
    }
}


def _show_event(rows: list[dict[str, Any]], *, inline: bool = True) -> str:
    data = {"is_inline": inline, "preview": json.dumps(rows), "node_name": "inline_query"}
    return json.dumps({"data": data, "info": {"name": "ShowNode", "level": "info"}})


def test_one_query_counts_every_source_in_a_fixed_order_with_its_flag_columns_where_it_has_them():
    query, counted = row_counts.count_query(MANIFEST, [*MANIFEST["sources"], "source.p.unknown.t"])

    assert counted == ["source.p.hubspot.contacts", "source.p.stripe.charges"]
    parts = query.split("\nunion all\n")
    assert [part.splitlines()[0] for part in parts] == [
        '{%- set rel = source("hubspot", "contacts") -%}',
        '{%- set rel = source("stripe", "charges") -%}',
    ]
    assert "select 1 as source_index, count(*) as row_count," in parts[1]
    assert 'if "_fivetran_deleted" in cols' in parts[1] and 'if "_fivetran_active" in cols' in parts[1]


def test_the_last_inline_show_in_the_log_is_read_whatever_the_case_of_its_columns():
    log = "\n".join(
        [
            "not json",
            _show_event([{"source_index": 0, "row_count": 1}]),
            _show_event([{"source_index": 0, "row_count": 2}], inline=False),  # a model's show: not ours
            _show_event([{"SOURCE_INDEX": 1, "ROW_COUNT": "20"}]),  # Snowflake's upper case, a NUMBER
        ]
    )

    assert row_counts.read_show_result(log) == [{"source_index": 1, "row_count": "20"}]
    assert row_counts.read_show_result("") is None


def test_a_source_whose_row_is_missing_or_odd_has_no_counts():
    rows = [
        {"source_index": 0, "row_count": "12.0", "deleted_rows": 2, "active_rows": -1},
        {"source_index": 1, "row_count": "many", "deleted_rows": 0, "active_rows": -1},
        {"source_index": 2, "row_count": 3, "deleted_rows": None, "active_rows": -1},
    ]

    assert row_counts.counts_from_rows(rows, ["a", "b", "c", "d"]) == {
        "a": (12, 2, -1),
        "b": None,
        "c": None,
        "d": None,
    }


class FakeDbt:
    """Stands in for DbtProcess: writes what dbt would log, returns its exit code."""

    def __init__(self, code: int, log: str) -> None:
        self.code, self.log = code, log
        self.calls: list[list[str]] = []

    def run(self, argv: list[str], env: Mapping[str, str]) -> int:
        self.calls.append(argv)
        log_path = Path(argv[argv.index("--log-path") + 1])
        log_path.mkdir(parents=True, exist_ok=True)
        (log_path / "dbt.log").write_text(self.log)
        return self.code


def _measure(tmp_path: Path, dbt: FakeDbt, sources: list[str]) -> tuple[int, dict[str, int | None]]:
    settings = load_settings(
        {"DBT_TARGET": "duckdb", "DUCKDB_PATH": "/tmp/w.duckdb", "DBT_LOG_PATH": str(tmp_path / "logs")}
    )
    return row_counts.measure_row_counts(settings, {}, dbt, MANIFEST, sources)  # type: ignore[arg-type]


def test_the_counts_come_from_one_dbt_show_whose_log_is_its_own(tmp_path: Path):
    dbt = FakeDbt(0, _show_event([{"source_index": 0, "row_count": 7, "deleted_rows": 1, "active_rows": -1}]))

    code, counts = _measure(tmp_path, dbt, ["source.p.stripe.charges"])

    assert (code, counts) == (0, {"source.p.stripe.charges": (7, 1, -1)})
    [argv] = dbt.calls
    assert argv[argv.index("--log-path") + 1] == str(tmp_path / "logs" / "row_counts")
    assert argv[0:2] == ["show", "--inline"]


def test_a_failed_count_leaves_every_count_unknown_and_an_earlier_answer_is_never_read(tmp_path: Path):
    earlier = tmp_path / "logs" / "row_counts" / "dbt.log"
    earlier.parent.mkdir(parents=True)
    earlier.write_text(
        _show_event([{"source_index": 0, "row_count": 7, "deleted_rows": 0, "active_rows": 0}])
    )

    code, counts = _measure(tmp_path, FakeDbt(1, ""), ["source.p.stripe.charges"])

    assert (code, counts) == (1, {"source.p.stripe.charges": None})


def test_nothing_to_count_starts_no_dbt(tmp_path: Path):
    dbt = FakeDbt(0, "")

    assert _measure(tmp_path, dbt, ["source.p.unknown.t"]) == (0, {})
    assert dbt.calls == []
