"""The cost model: AWS on-demand prices for one run of this design, and for a polling design beside it.

``RATES`` is the one place prices live, with the date they were taken and where from. They are
us-east-1 public on-demand prices as the author knew them; check them before quoting a figure.
The functions are pure: usage in, dollars out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ASSUMED_DBT_SECONDS",
    "ASSUMED_SYNC_WINDOW_SECONDS",
    "DBT_TASK_GB",
    "DBT_TASK_VCPU",
    "RATES",
    "READ_UNITS_PER_READ",
    "WRITE_UNITS_PER_WRITE",
    "PollingWorker",
    "Rates",
    "Usage",
    "break_even",
    "describe_rates",
    "lambda_gb_seconds",
    "polling_api_calls",
    "polling_usage",
    "price",
    "total",
]


@dataclass(frozen=True)
class Rates:
    as_of: str
    source: str
    region: str
    sfn_per_transition: float  # Standard workflows
    lambda_per_request: float
    lambda_per_gb_second: float  # x86
    apigw_rest_per_request: float  # REST API, first tier
    dynamodb_per_write_unit: float  # on-demand
    dynamodb_per_read_unit: float  # on-demand
    fargate_per_vcpu_hour: float  # Linux/x86
    fargate_per_gb_hour: float
    fargate_minimum_seconds: int  # Fargate bills per second with a one-minute minimum


RATES = Rates(
    as_of="2024-11 (the author's knowledge of the public price pages; check before quoting)",
    source=(
        "AWS public on-demand pricing pages for Step Functions, Lambda, API Gateway, DynamoDB "
        "and Fargate (aws.amazon.com/<service>/pricing), region us-east-1"
    ),
    region="us-east-1",
    sfn_per_transition=0.025 / 1_000,
    lambda_per_request=0.20 / 1_000_000,
    lambda_per_gb_second=0.0000166667,
    apigw_rest_per_request=3.50 / 1_000_000,
    dynamodb_per_write_unit=0.625 / 1_000_000,
    dynamodb_per_read_unit=0.125 / 1_000_000,
    fargate_per_vcpu_hour=0.04048,
    fargate_per_gb_hour=0.004445,
    fargate_minimum_seconds=60,
)

# Assumptions for a production run (the local runs are seconds long).
ASSUMED_SYNC_WINDOW_SECONDS = 900  # the longest sync of the run: 15 minutes
ASSUMED_DBT_SECONDS = 300  # `dbt build` on Fargate: 5 minutes
DBT_TASK_VCPU = 1.0  # infra/template.yaml DbtTaskCpu default 1024
DBT_TASK_GB = 2.0  # infra/template.yaml DbtTaskMemory default 2048
# A token item holds a Step Functions task token (long, opaque) plus a few keys: 1-2 KB, so 2 write
# units per write (PutItem, the UpdateItem claim, DeleteItem); the consistent Query reads under 4 KB: 1 unit.
WRITE_UNITS_PER_WRITE = 2
READ_UNITS_PER_READ = 1


@dataclass(frozen=True)
class Usage:
    """What one run consumes, in the units AWS bills."""

    transitions: int = 0
    lambda_requests: int = 0
    lambda_gb_seconds: float = 0.0
    apigw_requests: int = 0
    dynamodb_write_units: float = 0.0
    dynamodb_read_units: float = 0.0
    fargate_seconds: float = 0.0
    fargate_vcpu: float = 0.0
    fargate_gb: float = 0.0


def lambda_gb_seconds(durations_s: Sequence[float], memory_mb: int) -> float:
    """GB-seconds as Lambda bills them: each invocation rounded up to the millisecond."""
    return sum(math.ceil(d * 1000) / 1000 for d in durations_s) * memory_mb / 1024


def price(usage: Usage, rates: Rates = RATES) -> dict[str, float]:
    """Dollars per line item."""
    fargate_s = max(usage.fargate_seconds, rates.fargate_minimum_seconds) if usage.fargate_seconds else 0
    hours = fargate_s / 3600
    return {
        "Step Functions transitions": usage.transitions * rates.sfn_per_transition,
        "Lambda requests": usage.lambda_requests * rates.lambda_per_request,
        "Lambda GB-seconds": usage.lambda_gb_seconds * rates.lambda_per_gb_second,
        "API Gateway requests": usage.apigw_requests * rates.apigw_rest_per_request,
        "DynamoDB writes": usage.dynamodb_write_units * rates.dynamodb_per_write_unit,
        "DynamoDB reads": usage.dynamodb_read_units * rates.dynamodb_per_read_unit,
        "Fargate": hours
        * (usage.fargate_vcpu * rates.fargate_per_vcpu_hour + usage.fargate_gb * rates.fargate_per_gb_hour),
    }


def total(lines: dict[str, float]) -> float:
    return sum(lines.values())


@dataclass(frozen=True)
class PollingWorker:
    """A polling orchestrator's worker (a Dagster run worker, an Airflow worker) on Fargate.

    It is held for the whole sync window, polling, then runs dbt itself."""

    vcpu: float = 1.0
    gb: float = 2.0
    poll_interval_s: float = 10.0
    calls_per_sync_before_polling: int = 5  # dagster-fivetran: schemas, details x2, PATCH, force


def polling_usage(worker: PollingWorker, sync_window_s: float, dbt_s: float) -> Usage:
    return Usage(fargate_seconds=sync_window_s + dbt_s, fargate_vcpu=worker.vcpu, fargate_gb=worker.gb)


def polling_api_calls(worker: PollingWorker, connections: int, sync_window_s: float) -> int:
    """Fivetran API calls a polling run makes: setup calls, then one GET per connection per interval."""
    polls = math.ceil(sync_window_s / worker.poll_interval_s) + 1
    return connections * (worker.calls_per_sync_before_polling + polls)


def break_even(n1: int, cost1: float, n2: int, cost2: float, other: float) -> float | None:
    """Connections at which a cost linear in connections (through two points) reaches ``other``."""
    if n2 == n1:
        return None
    slope = (cost2 - cost1) / (n2 - n1)
    if slope <= 0:
        return None
    return (other - (cost1 - slope * n1)) / slope


def describe_rates(rates: Rates = RATES) -> str:
    """The rates in words, with their date and source, for the results file."""
    return (
        f"{rates.region}, on-demand, free tiers ignored, as of {rates.as_of}. Source: {rates.source}. "
        f"Step Functions ${rates.sfn_per_transition * 1_000:.3f} per 1,000 transitions; Lambda "
        f"${rates.lambda_per_request * 1e6:.2f} per 1M requests and ${rates.lambda_per_gb_second:.10f} per "
        f"GB-second (x86); API Gateway REST ${rates.apigw_rest_per_request * 1e6:.2f} per 1M requests; "
        f"DynamoDB on-demand ${rates.dynamodb_per_write_unit * 1e6:.3f} per 1M write units and "
        f"${rates.dynamodb_per_read_unit * 1e6:.3f} per 1M read units; Fargate "
        f"${rates.fargate_per_vcpu_hour:.5f} per vCPU-hour and ${rates.fargate_per_gb_hour:.6f} per GB-hour "
        f"(per second, one-minute minimum)."
    )


# -- S3 requests ---------------------------------------------------------------------------------------

S3_PUT_PER_REQUEST = 0.005 / 1_000  # S3 Standard PUT/COPY/POST/LIST, us-east-1
S3_GET_PER_REQUEST = 0.0004 / 1_000  # S3 Standard GET/SELECT and others
S3_SOURCE = "aws.amazon.com/s3/pricing (S3 Standard requests, us-east-1)"
