"""The execution input: defaults, validation naming the field, deadline, heartbeat, deployment defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.platform.errors import InvalidInput
from chalicelib.run.run_input import DEFAULTS, MAX_TIMEOUT_SECONDS, parse_run_input

START = "2026-01-15T10:00:00.000Z"


def test_a_group_id_alone_gets_every_default():
    options = parse_run_input({"group_id": "projected_sickle"}, started_at=START)

    assert options.to_dict() == {
        "group_id": "projected_sickle",
        "group_ids": ["projected_sickle"],
        "connector_ids_count": 0,
        "paused": "skip",
        "on_sync_failure": "fail",
        "sync_timeout_seconds": 21_600,
        "heartbeat_seconds": 900,
        "max_concurrency": 0,
        "dbt_timeout_seconds": 7_200,
        "deadline": "2026-01-15T16:00:00Z",
        "dbt": {
            "command": "build",
            "select": "",
            "exclude": "",
            "mode": "new_data",
            "vars": "",
            "full_refresh": "false",
            "steps": "",
        },
        "retry_of": "",
    }


def test_every_field_given_is_normalised():
    options = parse_run_input(
        {
            "connector_ids": [" a ", "b"],
            "paused": "fail",
            "on_sync_failure": "continue",
            "sync_timeout_seconds": 3600,
            "dbt": {"command": " source freshness ", "select": " tag:daily ", "exclude": "stg_x"},
        },
        started_at=START,
    )

    assert options.group_id is None
    assert options.connector_ids == ("a", "b")
    assert options.paused == "fail"
    assert options.on_sync_failure == "continue"
    assert options.sync_timeout_seconds == 3600
    assert options.dbt.command == "source freshness"
    assert options.dbt.select == "tag:daily"
    assert options.dbt.exclude == "stg_x"
    assert options.deadline == "2026-01-15T11:00:00Z"


@pytest.mark.parametrize("command", ["build", "run", "test", "seed", "snapshot", "source freshness"])
def test_each_dbt_command_is_accepted(command):
    assert parse_run_input({"group_id": "g", "dbt": {"command": command}}).dbt.command == command


@pytest.mark.parametrize("mode", ["new_data", "all"])
def test_each_dbt_mode_is_accepted(mode):
    assert parse_run_input({"group_id": "g", "dbt": {"mode": mode}}).dbt.mode == mode


@pytest.mark.parametrize("mode", ["changed", "", None, 1, "ALL"])
def test_an_unknown_dbt_mode_is_refused_naming_the_field(mode):
    with pytest.raises(InvalidInput) as caught:
        parse_run_input({"group_id": "g", "dbt": {"mode": mode}})
    assert "'dbt.mode' must be one of new_data, all" in str(caught.value)


def test_dbt_null_means_the_defaults():
    dbt = parse_run_input({"group_id": "g", "dbt": None}).dbt
    assert (dbt.command, dbt.select, dbt.exclude) == ("build", "", "")


def test_duplicate_connector_ids_are_dropped_keeping_the_first_order():
    options = parse_run_input({"connector_ids": ["b", "a", "b", " a", "c"]})
    assert options.connector_ids == ("b", "a", "c")


# -- validation: every refusal is InvalidInput and names the field -----------------------------


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"group_id": "g", "colour": "red"}, "colour"),
        ({"group_id": "g", "Paused": "skip"}, "Paused"),
        ({"group_id": "g", "dbt": {"command": "run", "threads": 4}}, "dbt.threads"),
        ({"group_id": "g", "paused": "sometimes"}, "paused"),
        ({"group_id": "g", "paused": True}, "paused"),
        ({"group_id": "g", "on_sync_failure": "ignore"}, "on_sync_failure"),
        ({"group_id": "g", "on_sync_failure": None}, "on_sync_failure"),
        ({"group_id": "g", "sync_timeout_seconds": True}, "sync_timeout_seconds"),
        ({"group_id": "g", "sync_timeout_seconds": False}, "sync_timeout_seconds"),
        ({"group_id": "g", "sync_timeout_seconds": 0}, "sync_timeout_seconds"),
        ({"group_id": "g", "sync_timeout_seconds": -60}, "sync_timeout_seconds"),
        ({"group_id": "g", "sync_timeout_seconds": 3600.5}, "sync_timeout_seconds"),
        ({"group_id": "g", "sync_timeout_seconds": [3600]}, "sync_timeout_seconds"),
        ({"group_id": "g", "sync_timeout_seconds": MAX_TIMEOUT_SECONDS + 1}, "sync_timeout_seconds"),
        ({"group_id": 42}, "group_id"),
        ({"group_id": ""}, "group_id"),
        ({"group_id": "   "}, "group_id"),
        ({"connector_ids": "abc"}, "connector_ids"),
        ({"connector_ids": ["a", 1]}, "connector_ids"),
        ({"connector_ids": ["a", ""]}, "connector_ids"),
        ({"connector_ids": []}, "connector_ids"),
        ({"group_id": "g", "dbt": "build"}, "dbt"),
        ({"group_id": "g", "dbt": {"command": "compile"}}, "dbt.command"),
        ({"group_id": "g", "dbt": {"command": 1}}, "dbt.command"),
        ({"group_id": "g", "dbt": {"select": ["a", "b"]}}, "dbt.select"),
        ({"group_id": "g", "dbt": {"exclude": 5}}, "dbt.exclude"),
    ],
)
def test_a_bad_field_raises_invalid_input_naming_it(raw, named):
    with pytest.raises(InvalidInput) as caught:
        parse_run_input(raw)
    assert named in str(caught.value)


def test_a_numeric_string_is_the_wrong_type_for_sync_timeout_seconds():
    # The contract (docs/configuration.md, the run's input): wrong types fail the run; timeouts are integers.
    with pytest.raises(InvalidInput, match="sync_timeout_seconds"):
        parse_run_input({"group_id": "g", "sync_timeout_seconds": "3600"})


def test_an_unknown_key_message_lists_every_unknown_key_and_the_allowed_ones():
    with pytest.raises(InvalidInput) as caught:
        parse_run_input({"group_id": "g", "zeta": 1, "alpha": 2})
    message = str(caught.value)
    assert "alpha" in message and "zeta" in message
    assert "group_id" in message and "connector_ids" in message  # what is allowed


def test_group_id_and_connector_ids_together_are_refused_naming_both():
    with pytest.raises(InvalidInput) as caught:
        parse_run_input({"group_id": "g", "connector_ids": ["a"]})
    assert "group_id" in str(caught.value) and "connector_ids" in str(caught.value)


def test_neither_group_id_nor_connector_ids_is_refused_naming_both():
    with pytest.raises(InvalidInput) as caught:
        parse_run_input({"paused": "skip"})
    assert "group_id" in str(caught.value) and "connector_ids" in str(caught.value)


@pytest.mark.parametrize("raw", [[], "group", None, 3, ["group_id"]])
def test_an_input_that_is_not_an_object_is_refused(raw):
    with pytest.raises(InvalidInput, match="JSON object"):
        parse_run_input(raw)


def test_invalid_input_carries_its_asl_name():
    assert InvalidInput.__name__ == "Orchestrator.InvalidInput"
    with pytest.raises(InvalidInput) as caught:
        parse_run_input({"group_id": "g", "nope": 1})
    assert type(caught.value).__name__ == "Orchestrator.InvalidInput"


# -- deadline and heartbeat -----------------------------------------------------------------------


def test_the_deadline_is_start_plus_timeout_in_whole_seconds_with_z():
    options = parse_run_input(
        {"group_id": "g", "sync_timeout_seconds": 90}, started_at="2026-01-15T10:00:00.750Z"
    )
    assert options.deadline == "2026-01-15T10:01:30Z"


def test_the_deadline_accepts_a_datetime_start_and_an_offset_timestamp():
    as_datetime = parse_run_input(
        {"group_id": "g", "sync_timeout_seconds": 60},
        started_at=datetime(2026, 1, 15, 23, 59, 30, tzinfo=UTC),
    )
    with_offset = parse_run_input(
        {"group_id": "g", "sync_timeout_seconds": 60}, started_at="2026-01-16T01:59:30+02:00"
    )
    assert as_datetime.deadline == with_offset.deadline == "2026-01-16T00:00:30Z"


def test_without_a_start_the_deadline_counts_from_now():
    before = datetime.now(UTC).replace(microsecond=0)
    options = parse_run_input({"group_id": "g", "sync_timeout_seconds": 600})
    after = datetime.now(UTC)

    deadline = datetime.strptime(options.deadline, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before + timedelta(seconds=600) <= deadline <= after + timedelta(seconds=600)


def test_a_sync_timeout_below_two_seconds_is_refused():
    with pytest.raises(InvalidInput, match="at least 2"):
        parse_run_input({"group_id": "g", "sync_timeout_seconds": 1})


@pytest.mark.parametrize("timeout", [2, 3, 60, 899, 900, 901, 21_600, MAX_TIMEOUT_SECONDS])
def test_the_heartbeat_is_always_below_the_sync_timeout(timeout):
    # AWS requires HeartbeatSeconds < TimeoutSeconds (the state machine passes both by path).
    options = parse_run_input({"group_id": "g", "sync_timeout_seconds": timeout})
    assert 1 <= options.heartbeat_seconds < options.sync_timeout_seconds


def test_the_heartbeat_keeps_the_deployment_default_when_the_timeout_is_longer():
    assert parse_run_input({"group_id": "g", "sync_timeout_seconds": 3600}).heartbeat_seconds == 900


def test_the_heartbeat_is_clamped_just_below_a_short_timeout():
    assert parse_run_input({"group_id": "g", "sync_timeout_seconds": 300}).heartbeat_seconds == 299


# -- deployment defaults (strings from DefinitionSubstitutions) ------------------------------------


def test_deployment_defaults_are_parsed_from_strings():
    options = parse_run_input(
        {"group_id": "g"},
        defaults={
            "sync_timeout_seconds": "600",
            "heartbeat_seconds": "120",
            "max_concurrency": "3",
            "dbt_timeout_seconds": "900",
        },
        started_at=START,
    )

    assert options.sync_timeout_seconds == 600
    assert options.heartbeat_seconds == 120
    assert options.max_concurrency == 3
    assert options.dbt_timeout_seconds == 900
    assert options.deadline == "2026-01-15T10:10:00Z"


def test_the_inputs_timeout_overrides_the_deployment_default():
    options = parse_run_input(
        {"group_id": "g", "sync_timeout_seconds": 60}, defaults={"sync_timeout_seconds": "600"}
    )
    assert options.sync_timeout_seconds == 60
    assert options.heartbeat_seconds == 59


@pytest.mark.parametrize("value", ["", None])
def test_an_empty_deployment_default_keeps_the_built_in_one(value):
    options = parse_run_input(
        {"group_id": "g"}, defaults={"max_concurrency": value, "heartbeat_seconds": value}
    )
    assert options.max_concurrency == DEFAULTS["max_concurrency"]
    assert options.heartbeat_seconds == DEFAULTS["heartbeat_seconds"]


def test_unknown_deployment_defaults_are_ignored():
    options = parse_run_input({"group_id": "g"}, defaults={"something_else": "x"})
    assert options.sync_timeout_seconds == DEFAULTS["sync_timeout_seconds"]


def test_a_deployment_default_that_is_not_an_integer_names_the_setting():
    with pytest.raises(InvalidInput, match="max_concurrency"):
        parse_run_input({"group_id": "g"}, defaults={"max_concurrency": "ten"})


@pytest.mark.parametrize("value", ["0", "1"])
def test_a_deployment_default_timeout_below_two_seconds_is_refused_naming_it(value):
    # The same invariant as for the input's own timeout: HeartbeatSeconds < TimeoutSeconds, both >= 1.
    with pytest.raises(InvalidInput, match="sync_timeout_seconds"):
        parse_run_input({"group_id": "g"}, defaults={"sync_timeout_seconds": value})


# -- connector_ids: capped at the run's maximum, never carried in the options ------------------


def test_as_many_connector_ids_as_a_run_takes_are_accepted_and_only_their_count_travels():
    ids = [f"c{i:05d}" for i in range(10_000)]

    options = parse_run_input({"connector_ids": ids})

    assert options.connector_ids == tuple(ids)
    assert options.to_dict()["connector_ids_count"] == 10_000
    assert "c00000" not in str(options.to_dict())


def test_one_connector_id_more_than_a_run_takes_is_refused_naming_the_field():
    with pytest.raises(InvalidInput) as refused:
        parse_run_input({"connector_ids": [f"c{i:05d}" for i in range(10_001)]})
    assert "'connector_ids' names 10,001 connections, more than one run takes (10,000" in str(refused.value)


def test_the_cap_is_the_deployments_max_connections_and_counts_distinct_ids():
    assert parse_run_input({"connector_ids": ["a", "b", "a"]}, max_connections=2).connector_ids == ("a", "b")
    with pytest.raises(InvalidInput, match="names 3 connections, more than one run takes"):
        parse_run_input({"connector_ids": ["a", "b", "c"]}, max_connections=2)


def test_a_retry_names_the_run_it_retries_and_may_sync_nothing():
    options = parse_run_input({"connector_ids": [], "retry_of": "run-1_a"}, started_at=START)

    assert options.retry_of == "run-1_a"
    assert options.connector_ids == ()
    assert options.to_dict()["retry_of"] == "run-1_a"


@pytest.mark.parametrize("retry_of", ["", "a/b", "x" * 81, 7])
def test_a_retry_of_that_is_no_run_name_is_refused(retry_of):
    with pytest.raises(InvalidInput, match="'retry_of' must be the name of the run retried"):
        parse_run_input({"group_id": "g", "retry_of": retry_of})


def test_an_empty_connector_ids_outside_a_retry_is_still_refused():
    with pytest.raises(InvalidInput, match="'connector_ids' is empty"):
        parse_run_input({"connector_ids": []})
