"""The measured cost (``benchmarks.measured_cost``), its sections and ``merge_sections``: counts in,
dollars and Markdown out. No timing is asserted: the runs themselves are ``python -m benchmarks``'s."""

from __future__ import annotations

import pytest

from benchmarks import cost
from benchmarks.measured_cost import (
    BilledRun,
    expected_deferrals,
    fit,
    paced_trigger_seconds,
    price_run,
)
from benchmarks.measured_runs import measured_sections, merge_sections
from benchmarks.report.measured import Budget, LargestRow, largest_section, measured_cost_section


def _report(transitions: int, start_sync: int, deferrals: int, dynamodb: int, s3: int = 14) -> dict:
    return {
        "state_transitions": {"parent": 16, "children": transitions - 16, "total": transitions},
        "lambda_invocations": {
            "api_handler": 2 * (start_sync - deferrals),
            "start_sync": start_sync,
            "list_connectors": 1,
            "reconcile_syncs": 40,
        },
        "deferrals": deferrals,
        "aws_requests": {"dynamodb": dynamodb, "s3": s3},
    }


def _run(n: int, deferrals: int = 0) -> BilledRun:
    """A run of ``n`` connections billed 16 + 4 per connection + 6 per deferral transitions."""
    report = _report(16 + 4 * n + 6 * deferrals, n + deferrals, deferrals, 20 + 12 * n + 3 * deferrals)
    return BilledRun.from_report(n, report)


def test_a_run_is_read_from_the_report_fields_that_count_what_aws_bills():
    run = _run(10)

    assert (run.transitions, run.deferrals, run.dynamodb_requests, run.s3_requests) == (56, 0, 140, 14)
    assert run.billed_invocations == {"api_handler": 20, "start_sync": 10, "list_connectors": 1}


def test_a_report_without_the_billed_fields_is_refused():
    with pytest.raises(KeyError):
        BilledRun.from_report(10, {"execution": {}})


def test_a_run_is_priced_at_the_rates_with_every_request_as_a_write_and_the_schedule_left_out():
    lines = price_run(_run(100), memory_mb=256, dbt_s=300)

    assert lines["Step Functions transitions"] == pytest.approx(416 * 0.025 / 1000)
    assert lines["Lambda requests"] == pytest.approx((200 + 100 + 1) * 0.20 / 1e6)
    assert lines["API Gateway requests"] == pytest.approx(200 * 3.50 / 1e6)
    assert lines["DynamoDB writes"] == pytest.approx(1220 * cost.WRITE_UNITS_PER_WRITE * 0.625 / 1e6)
    assert lines["S3 requests"] == pytest.approx(14 * 0.005 / 1000)
    assert "DynamoDB reads" not in lines


def test_the_fit_finds_the_per_connection_and_per_deferral_counts_the_runs_were_billed():
    fitted = fit([_run(10), _run(100), _run(1000), _run(5000, deferrals=1700)])

    assert fitted.per_connection["transitions"] == pytest.approx(4.0)
    assert fitted.fixed["transitions"] == pytest.approx(16.0)
    assert fitted.per_deferral["transitions"] == pytest.approx(6.0)
    assert fitted.per_deferral["lambda:start_sync"] == pytest.approx(1.0)
    assert fitted.deferral_basis == "measured in a run of 5,000 connections with 1,700 deferrals"
    predicted = fitted.predict(10_000, 7_956)
    assert predicted.transitions == 16 + 4 * 10_000 + 6 * 7_956
    assert predicted.billed_invocations["start_sync"] == 10_000 + 7_956


def test_a_deferring_run_and_its_twin_give_the_cost_of_a_deferral_whatever_the_line_says():
    noisy = BilledRun.from_report(1000, _report(4016, 1000, 0, 60_000))  # a slow machine's retries
    probe, twin = _run(20, deferrals=19), _run(20)

    fitted = fit([_run(10), _run(100), noisy], (probe, twin))

    assert fitted.per_deferral["transitions"] == pytest.approx(6.0)
    assert fitted.per_deferral["dynamodb"] == pytest.approx(3.0)
    assert fitted.per_deferral["lambda:start_sync"] == pytest.approx(1.0)
    assert fitted.deferral_basis.startswith("measured: a run of 20 connections with 19 deferrals")
    with pytest.raises(ValueError, match="twin of the same size"):
        fit([_run(10), _run(100)], (_run(20, deferrals=19), _run(30)))


def test_without_a_deferring_run_the_fit_takes_the_definitions_cost_of_a_deferral():
    fitted = fit([_run(10), _run(100)])

    assert fitted.per_deferral["transitions"] == 6.0
    assert fitted.deferral_basis.startswith("the definition")


def test_the_fit_needs_two_sizes_without_a_deferral():
    with pytest.raises(ValueError, match="two sizes"):
        fit([_run(100), _run(100)])


def test_the_fit_of_no_run_without_a_deferral_is_refused_rather_than_predicting_nothing():
    with pytest.raises(ValueError, match="two sizes"):
        fit([])
    with pytest.raises(ValueError, match="two sizes"):
        fit([_run(10, 3), _run(100, 30)])


def test_the_largest_run_alone_still_gives_section_11_when_no_wall_time_run_gives_a_fit():
    """``python -m benchmarks --largest`` (``--quick``: 10,000 estimated, not run) has no section-5 runs
    to fit: section 8 says why it is not computed and section 11 shows the estimate (it once crashed)."""
    sections = measured_sections([], [], extrapolate=[10_000], memory_mb=256, dbt_s=300, window_s=1800)

    assert sections[0].startswith("## 8. Cost per run, from measured counts\n\nNot computed: fit needs")
    assert sections[1].startswith("## 11. The largest run at the default budget")
    assert "| 10,000 | extrapolated | not run | at least " in sections[1]


def test_the_default_budget_defers_nothing_within_the_burst_and_each_trigger_over_it_at_most_once():
    burst, interval = 2_000, 0.4575

    assert expected_deferrals(2_000, burst=burst, interval_s=interval) == 0
    # children start at 100 a second: about 2 refills a second, so about 2,045 go before the first wait
    assert expected_deferrals(10_000, burst=burst, interval_s=interval) == 7_956
    assert expected_deferrals(2_500, burst=burst, interval_s=interval) == 456
    # a Map slower than the refill is never deferred
    assert expected_deferrals(5_000, burst=10, interval_s=0.1, starts_per_second=5) == 0


def test_the_budget_keeps_the_triggers_over_the_burst_one_interval_apart():
    assert paced_trigger_seconds(1_000, burst=2_000, interval_s=0.4575) == 0
    assert paced_trigger_seconds(10_000, burst=2_000, interval_s=0.4575) == pytest.approx(3_660)


BUDGET = Budget(burst=2_000, interval_s=0.4575, per_hour=10_000)


def test_the_cost_section_shows_measured_and_extrapolated_sizes_with_the_rates_source():
    runs = [_run(10), _run(100), _run(1000)]
    text = measured_cost_section(
        runs,
        fit(runs),
        extrapolate=[10_000],
        budget=BUDGET,
        memory_mb=256,
        dbt_s=300,
        window_s=900,
        source="section 5's runs",
    )

    assert text.startswith("## 8. ")
    assert "| 1,000 (measured) | 10,000 (extrapolated) |" in text
    assert "| state transitions (parent + children) | 56 | 416 | 4,016 | 87,752 |" in text
    assert "| budget deferrals | 0 | 0 | 0 | 7,956 |" in text
    assert "as of 2024-11" in text and "aws.amazon.com/s3/pricing" in text


def test_the_largest_section_says_what_was_measured_and_what_the_budget_alone_needs():
    rows = [
        LargestRow(5_000, "measured", "SUCCEEDED", 1_500.0, 2_400.0, _run(5000, 1700), 1),
        LargestRow(10_000, "extrapolated", "not run", 3_680.0, None, None, None),
    ]
    text = largest_section(rows, budget=BUDGET, memory_mb=256, dbt_s=300, notes=["load 12"])

    assert "| 5,000 | measured | SUCCEEDED | 1,500 | 2,400 | 30,216 | 1,700 (1) | 6,700 |" in text
    assert "| 10,000 | extrapolated | not run | at least 3,680 (the budget and a sync) |" in text
    assert "10,000 connections need at least 3,660 s of triggers" in text
    assert text.endswith("- load 12")


def test_merging_replaces_the_sections_with_the_same_number_and_keeps_the_others():
    existing = (
        "# Results\n\nMachine: x.\n\n## 1. One\n\nold one\n\n## 5. Five\n\nold five\n\n## 9. Nine\n\nnine\n"
    )

    merged = merge_sections(existing, ["## 5. Five\n\nnew five", "## 11. Eleven\n\nnew"])

    assert merged == (
        "# Results\n\nMachine: x.\n\n## 1. One\n\nold one\n\n## 5. Five\n\nnew five\n\n"
        "## 9. Nine\n\nnine\n\n## 11. Eleven\n\nnew\n"
    )


def test_merging_says_in_the_header_which_sections_came_from_which_command_once():
    existing = "# Results\n\nSections 5: old.\n\n## 5. Five\n\nold five\n"

    merged = merge_sections(existing, ["## 5. Five\n\nnew five"], "Sections 5: new.")

    assert merged == "# Results\n\nSections 5: new.\n\n## 5. Five\n\nnew five\n"


def test_merging_refuses_a_section_without_a_number():
    with pytest.raises(ValueError, match="must open with"):
        merge_sections("## 1. One\n", ["## Costs\n\ntext"])


def test_a_webhooks_time_is_split_into_the_simulators_the_http_the_aws_calls_and_the_handlers():
    from benchmarks.report.webhook_path import path_section
    from benchmarks.webhook_path import Call, Delivery, stages

    delivery = Delivery("c1", ended=10.000, handed=10.001, posted=10.003, answered=10.050, status=200)
    calls = [
        Call("request", "/webhooks/fivetran", 10.005, 10.045),
        Call("aws", "dynamodb:UpdateItem", 10.006, 10.016),
        Call("moto", "dynamodb:UpdateItem", 10.008, 10.012),
        Call("aws", "dynamodb:UpdateItem", 10.020, 10.030),
        Call("aws", "stepfunctions:SendTaskSuccess", 10.031, 10.041),
        Call("aws", "dynamodb:Query", 10.060, 10.070),  # after the answer: another request's
    ]

    (measured,) = stages([delivery], calls)

    parts = {k: round(v, 3) for k, v in measured.parts.items()}
    assert parts == {
        "simulator: sync end to the sender": 1.0,
        "simulator: sender to POST": 2.0,
        "POST to the handler (HTTP, chalice local)": 2.0,
        "AWS dynamodb:UpdateItem: moto's work": 4.0,
        "AWS dynamodb:UpdateItem: HTTP and waiting for the runtime": 6.0,
        "AWS dynamodb:UpdateItem": 10.0,
        "AWS stepfunctions:SendTaskSuccess": 10.0,
        "handler's own Python (verify, parse, route, log)": 10.0,
        "answer back to the simulator": 5.0,
    }
    assert round(measured.total, 3) == 50.0
    assert measured.to_callback is not None and round(measured.to_callback, 3) == 41.0
    text = path_section([measured], [0.050], {"status": "SUCCEEDED"}, load="now")
    assert "| **sync end to answer (sum)** |  | **50.0** |" in text
    assert "median 50.0 ms" in text
    assert "the `TaskSucceeded` event, when it reported 11-15 ms): median 41.0 ms" in text
    assert "3 AWS calls in sequence took 30.0 ms (60%); where moto's handling was found, 4.0 ms" in text


def test_a_delivery_the_route_refused_or_no_request_served_is_left_out():
    from benchmarks.webhook_path import Call, Delivery, stages

    refused = Delivery("c1", 1.0, 1.0, 1.0, 1.1, status=503)
    unserved = Delivery("c2", 2.0, 2.0, 2.0, 2.1, status=200)

    assert stages([refused, unserved], [Call("request", "/", 1.01, 1.09)]) == []
