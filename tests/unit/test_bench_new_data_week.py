"""The new-data week's pure parts: the seeded row pattern, the models' lineage from dbt's manifest, the
false-skip check against the warehouse, the week's totals and its section of results.md."""

from __future__ import annotations

from benchmarks.new_data_pattern import (
    DEMO_CONNECTIONS,
    Connection,
    HourResult,
    ModeResult,
    Sync,
    TruthCheck,
    lineage,
    loading_share,
    median,
    totals,
    week_pattern,
)
from benchmarks.new_data_week import WeekResult
from benchmarks.report.new_data_week import new_data_week_section

MANIFEST = {
    "sources": {
        "source.p.stripe.charges": {"schema": "stripe", "name": "charges"},
        "source.p.app_db.orders": {"schema": "app_db", "name": "orders"},
    },
    "nodes": {
        "model.p.stg_charges": {"resource_type": "model", "name": "stg_charges"},
        "model.p.stg_orders": {"resource_type": "model", "name": "stg_orders"},
        "model.p.revenue": {"resource_type": "model", "name": "revenue"},
        "test.p.not_null": {"resource_type": "test", "name": "not_null"},
    },
    "parent_map": {
        "model.p.stg_charges": ["source.p.stripe.charges"],
        "model.p.stg_orders": ["source.p.app_db.orders"],
        "model.p.revenue": ["model.p.stg_charges", "model.p.stg_orders"],
        "test.p.not_null": ["model.p.revenue"],
    },
}


def test_the_same_seed_gives_the_same_week_and_another_seed_another():
    assert week_pattern(DEMO_CONNECTIONS, 48, seed=3) == week_pattern(DEMO_CONNECTIONS, 48, seed=3)
    assert week_pattern(DEMO_CONNECTIONS, 48, seed=3) != week_pattern(DEMO_CONNECTIONS, 48, seed=4)


def test_most_syncs_load_nothing_and_a_busy_connection_loads_more_often_than_a_quiet_one():
    busy, quiet = (
        Connection("a", "postgres", "app_db", "busy"),
        Connection("b", "hubspot", "hubspot", "quiet"),
    )
    week = week_pattern((busy, quiet), 1000, seed=1, failure_probability=0.0)
    loaded = {c: sum(1 for hour in week if hour[c].rows > 0) for c in ("a", "b")}

    assert loaded["a"] > 3 * loaded["b"]
    assert loading_share(week_pattern(DEMO_CONNECTIONS, 168)) < 0.5
    assert len(week) == 1000 and all(set(hour) == {"a", "b"} for hour in week)


def test_a_failed_sync_is_marked_and_may_have_committed_rows():
    week = week_pattern(DEMO_CONNECTIONS, 200, seed=5, failure_probability=0.5)
    failed = [sync for hour in week for sync in hour.values() if sync.failed]

    assert failed
    assert any(s.rows > 0 for s in failed) and any(s.rows == 0 for s in failed)


def test_a_models_lineage_is_every_source_table_above_it_through_other_models():
    assert lineage(MANIFEST) == {
        "stg_charges": frozenset({"stripe.charges"}),
        "stg_orders": frozenset({"app_db.orders"}),
        "revenue": frozenset({"stripe.charges", "app_db.orders"}),
    }


def checked() -> TruthCheck:
    check = TruthCheck(lineage(MANIFEST))
    check.after_run({"stg_charges", "stg_orders", "revenue"}, {"stripe.charges": "t1", "app_db.orders": "t1"})
    return check


def test_a_model_not_built_while_none_of_its_tables_changed_is_rightly_skipped():
    result = checked().after_run(set(), {"stripe.charges": "t1", "app_db.orders": "t1"})

    assert result.false_skips == [] and result.held_back == []
    assert result.unchanged == ["revenue", "stg_charges", "stg_orders"]


def test_a_model_not_built_after_one_of_its_tables_got_rows_is_a_false_skip():
    result = checked().after_run({"stg_charges"}, {"stripe.charges": "t2", "app_db.orders": "t1"})

    assert result.false_skips == ["revenue"]
    assert result.unchanged == ["stg_orders"]


def test_a_change_stays_owed_until_the_model_builds():
    check = checked()
    check.after_run({"stg_orders", "revenue"}, {"stripe.charges": "t2", "app_db.orders": "t2"})
    later = check.after_run(set(), {"stripe.charges": "t2", "app_db.orders": "t2"})

    assert later.false_skips == ["stg_charges"]  # its table changed at t2 and it has not built since


def test_a_model_held_back_by_its_failed_connection_is_not_a_false_skip_then_but_is_owed_a_build():
    check = checked()
    held = check.after_run({"stg_charges"}, {"stripe.charges": "t1", "app_db.orders": "t2"}, ["app_db"])
    owed = check.after_run({"stg_charges"}, {"stripe.charges": "t1", "app_db.orders": "t2"})

    assert held.held_back == ["revenue", "stg_orders"] and held.false_skips == []
    assert owed.false_skips == ["revenue", "stg_orders"]


def test_a_model_never_built_is_a_false_skip_until_it_builds():
    check = TruthCheck(lineage(MANIFEST))

    assert check.after_run({"stg_charges"}, {"stripe.charges": "t1", "app_db.orders": None}).false_skips == [
        "revenue",
        "stg_orders",
    ]


def hour(number: int, built: list[str], *, started: bool = True, false: int = 0) -> HourResult:
    return HourResult(number, 0, built, started, 10.0, 11.0, ["m"] * false, [])


def test_a_modes_totals_add_up_its_runs():
    result = totals(ModeResult("new_data", [hour(0, []), hour(1, ["a", "b"]), hour(2, ["a"], started=False)]))

    assert (result.runs, result.task_starts, result.builds_started) == (3, 3, 2)
    assert (result.models_built, result.models_built_median) == (3, 1.0)
    assert (result.dbt_s, result.task_s, result.false_skips) == (30.0, 33.0, 0)


def test_the_median_of_an_even_count_is_the_mean_of_the_middle_two():
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert median([5.0]) == 5.0 and median([]) == 0.0


def test_the_section_sets_both_modes_side_by_side_and_counts_the_false_skips():
    week = WeekResult(
        2,
        21,
        DEMO_CONNECTIONS,
        [{c.connector_id: Sync(0) for c in DEMO_CONNECTIONS}] * 2,
        [
            ModeResult("new_data", [hour(0, []), hour(1, ["a"], false=1)]),
            ModeResult("all", [hour(0, ["a", "b"]), hour(1, ["a", "b"])]),
        ],
        11,
        60.0,
        "2026-12-06 17:00 UTC",
        (1.0, 2.0),
    )
    text = new_data_week_section(week)

    assert text.startswith("## 13. A week of hourly runs")
    assert "| models built, total | 1 | 4 |" in text
    assert "| ECS task starts | 2 | 2 |" in text
    assert "| false skips (against the warehouse) | 1 | 0 |" in text
    assert "built 25% of the models" in text


def _week_with_dbt_seconds(new_data: tuple[float, float], every: tuple[float, float]) -> WeekResult:
    """Two hours: new_data finds nothing the first hour and builds the second; all builds both."""
    return WeekResult(
        2,
        21,
        DEMO_CONNECTIONS,
        [{c.connector_id: Sync(0) for c in DEMO_CONNECTIONS}] * 2,
        [
            ModeResult(
                "new_data",
                [
                    HourResult(0, 0, [], False, new_data[0], 1.0, [], []),
                    HourResult(1, 0, ["a"], True, new_data[1], 1.0, [], []),
                ],
            ),
            ModeResult("all", [HourResult(h, 0, ["a", "b"], True, every[h], 1.0, [], []) for h in (0, 1)]),
        ],
        11,
        60.0,
        "2026-12-06 17:00 UTC",
        (1.0, 2.0),
    )


def test_the_section_says_whether_judging_the_new_data_cost_more_seconds_than_the_skipped_models_saved():
    dearer = new_data_week_section(_week_with_dbt_seconds((8.0, 14.0), (10.0, 10.0)))
    cheaper = new_data_week_section(_week_with_dbt_seconds((4.0, 9.0), (10.0, 10.0)))

    assert (
        "in 110% of its dbt seconds" in dearer and "costs more seconds than the skipped models save" in dearer
    )
    assert "Median dbt seconds per run: 8 s when `new_data` found nothing to build" in dearer
    assert (
        "in 65% of its dbt seconds" in cheaper
        and "costs fewer seconds than the skipped models save" in cheaper
    )


def test_a_stopped_weeks_log_is_read_back_as_the_hours_both_modes_measured(tmp_path):
    import json

    from benchmarks.new_data_week import week_from_log

    def line(mode: str, number: int) -> str:
        run = {"mode": mode, "models": 11, "hour": number, "exit_code": 0, "models_built": ["a"]}
        run |= {"build_started": True, "dbt_s": 1.0, "task_s": 2.0, "false_skips": [], "held_back": []}
        return json.dumps(run)

    log = tmp_path / "week.jsonl"
    head = json.dumps(
        {"week": {"hours": 168, "seed": 5, "started": "2026-12-06T17:00:00+00:00"}, "load": 1.5}
    )
    runs = [line("all", 0), line("new_data", 0), line("all", 1), line("all", 2), line("new_data", 1)]
    log.write_text("\n".join([head, *runs]) + "\n")
    week = week_from_log(log)

    assert (week.hours, week.seed, week.models) == (2, 5, 11)
    assert [len(m.hours) for m in week.modes] == [2, 2]
    assert [m.mode for m in week.modes] == ["new_data", "all"]
    assert len(week.pattern) == 2 and week.manifest is None
