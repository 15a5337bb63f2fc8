"""Which log lines are a run's (``contracts.run_logs``): those that name it, and those that name only one
of its connections while it ran."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from contracts.run_logs import LogLine, RunWindow, parse_json_line, select

ARN = "arn:aws:states:us-east-1:123456789012:execution:app-dev:run-1"
STARTED = datetime(2026, 12, 6, 14, 0, tzinfo=UTC)
RUN = RunWindow(ARN, "run-1", STARTED, STARTED + timedelta(minutes=1), frozenset({"stripe_prod"}))


def line(second: float, **record: str) -> LogLine:
    return LogLine(STARTED + timedelta(seconds=second), "lambda", json.dumps(record), record)


def test_a_line_that_names_the_run_by_arn_or_name_is_the_run_s_in_time_order() -> None:
    lines = [line(3, run_id="run-1"), line(1, execution_id=ARN), line(2, execution_name="run-1")]

    assert [entry.time.second for entry in select(lines, RUN)] == [1, 2, 3]


def test_a_line_that_names_another_run_is_not_even_for_the_same_connection() -> None:
    other = line(1, execution_id=ARN.replace("run-1", "run-2"), connector_id="stripe_prod")

    assert select([other], RUN) == []


def test_a_line_naming_only_a_connection_of_the_run_is_its_while_the_run_ran() -> None:
    during, after = line(30, connector_id="stripe_prod"), line(90, connector_id="stripe_prod")
    elsewhere, nothing = line(30, connector_id="hubspot_crm"), line(30, message="reconcile finished")

    assert select([during, after, elsewhere, nothing], RUN) == [during]


def test_one_connection_keeps_its_lines_and_those_that_mention_it() -> None:
    mine, theirs = (
        line(1, execution_id=ARN, connector_id="stripe_prod"),
        line(2, execution_id=ARN, connector_id="x"),
    )
    mention = line(3, run_id="run-1", warning="connection stripe_prod has no dbt source")
    silent = line(4, run_id="run-1", event="dbt_finished")

    assert select([mine, theirs, mention, silent], RUN, "stripe_prod") == [mine, mention]


def test_metric_lines_and_text_are_not_log_records() -> None:
    assert parse_json_line('{"_aws": {"Timestamp": 1}, "SyncOutcomes": [1.0]}') is None
    assert parse_json_line("START RequestId: 1") is None
    assert parse_json_line('{"message": "x"}') == {"message": "x"}
