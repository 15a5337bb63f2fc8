"""The webhook throughput benchmark (``benchmarks/webhook.py``, section 2 of ``results.md``) played at
its smallest size, so it cannot silently stop measuring what it says: with a token parked for each
event's connection, every ``sync_end`` completes that token. (For a while it parked tokens that were
never armed and whose sync's start was unknown, so the identity rule left every one of them waiting
and section 2 showed 0 tokens resolved.) No timing is asserted."""

from __future__ import annotations

from benchmarks.report.webhook import webhook_section
from benchmarks.webhook import run_webhook_benchmark


def test_each_sync_end_completes_its_parked_token_in_process_and_over_chalice_local(tmp_path):
    cases = run_webhook_benchmark(requests_per_case=2, time_limit_s=30, concurrency=1, workdir=tmp_path)

    tallies = {(c.target, c.parked): (c.sent, c.ok, c.resolved) for c in cases}
    assert tallies == {
        ("in-process", False): (2, 2, 0),
        ("in-process", True): (2, 2, 2),
        ("chalice local", False): (2, 2, 0),
        ("chalice local", True): (2, 2, 2),
    }
    parked = next(c for c in cases if c.target == "in-process" and c.parked)
    assert parked.aws_calls_per_event == {
        "dynamodb:DeleteItem": 1,
        "dynamodb:Query": 1,
        "dynamodb:UpdateItem": 2,  # the sync's end recorded, the token claimed
        "stepfunctions:SendTaskSuccess": 1,
    }
    assert "`stepfunctions:SendTaskSuccess` 1" in webhook_section(cases, 2, 30)
