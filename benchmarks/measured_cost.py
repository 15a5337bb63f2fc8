"""Cost per run priced from measured counts: what the local runtime counted as AWS bills it.

Each measured run's report (``python -m local demo --report``; local/README.md, "Report") gives the
state transitions of the parent and of every child execution (the child's start included), the
Lambda invocations per function, the budget deferrals and the DynamoDB and S3 requests. A
``BilledRun`` holds those counts; ``usage`` turns one into ``cost.Usage`` and S3 requests, and
``fit`` draws each count as ``fixed + per_connection * n`` through the measured runs without a
deferral, plus ``per_deferral`` from a run with deferrals, so a size nobody ran (10,000) is priced
from measured per-connection figures only. ``expected_deferrals`` says how many triggers the default
budget defers when the Map starts its children at a given pace (AWS: about 100 a second). Pure:
counts in, dollars out; the prices are ``benchmarks.cost.RATES``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks import cost

__all__ = [
    "AWS_CHILD_STARTS_PER_SECOND",
    "DURATION_S",
    "BilledRun",
    "Fit",
    "expected_deferrals",
    "fit",
    "paced_trigger_seconds",
    "price_run",
]

# What a Lambda invocation lasts, by function, for GB-seconds: the local runtime runs the handlers
# in-process, so its durations are not Lambda's; these are the earlier model's (section 2's webhook
# mean with a parked token; ``start_sync`` one Fivetran call and three DynamoDB writes).
DURATION_S: Mapping[str, float] = {"start_sync": 0.15, "api_handler": 0.0102}
OTHER_DURATION_S = 0.3
# How fast AWS starts a Distributed Map's child executions (the figure: 10,000 in about 100 s).
AWS_CHILD_STARTS_PER_SECOND = 100.0
# Not billed per run: the safety net runs on its schedule (one a minute on AWS, whatever the runs;
# the local runtime runs it more often), so its invocations are a monthly cost, not a run's.
SCHEDULED = ("reconcile_syncs",)


@dataclass(frozen=True)
class BilledRun:
    """One measured run's billed counts (the run report's)."""

    connections: int
    transitions: int  # parent + children, as billed
    lambda_invocations: Mapping[str, int]  # per function, scheduled ones included
    deferrals: int
    dynamodb_requests: int
    s3_requests: int

    @classmethod
    def from_report(cls, connections: int, report: Mapping[str, Any]) -> BilledRun:
        """From a run report's ``state_transitions``, ``lambda_invocations``, ``deferrals`` and
        ``aws_requests``. Raises ``KeyError`` when the report lacks one (a runtime before issue 23)."""
        return cls(
            connections=connections,
            transitions=int(report["state_transitions"]["total"]),
            lambda_invocations={k: int(v) for k, v in report["lambda_invocations"].items()},
            deferrals=int(report["deferrals"]),
            dynamodb_requests=int(report["aws_requests"]["dynamodb"]),
            s3_requests=int(report["aws_requests"]["s3"]),
        )

    @property
    def billed_invocations(self) -> dict[str, int]:
        return {k: v for k, v in self.lambda_invocations.items() if k not in SCHEDULED}


def price_run(
    run: BilledRun, *, memory_mb: int, dbt_s: float, rates: cost.Rates = cost.RATES
) -> dict[str, float]:
    """Dollars per line item of one run. DynamoDB requests are priced as writes of
    ``WRITE_UNITS_PER_WRITE`` units and S3 requests as PUTs (the report does not split them: an
    upper bound); Lambda GB-seconds use ``DURATION_S``; dbt runs ``dbt_s`` on Fargate."""
    invocations = run.billed_invocations
    durations = [DURATION_S.get(name, OTHER_DURATION_S) for name, n in invocations.items() for _ in range(n)]
    usage = cost.Usage(
        transitions=run.transitions,
        lambda_requests=sum(invocations.values()),
        lambda_gb_seconds=cost.lambda_gb_seconds(durations, memory_mb),
        apigw_requests=invocations.get("api_handler", 0),
        dynamodb_write_units=run.dynamodb_requests * cost.WRITE_UNITS_PER_WRITE,
        fargate_seconds=dbt_s,
        fargate_vcpu=cost.DBT_TASK_VCPU,
        fargate_gb=cost.DBT_TASK_GB,
    )
    lines = cost.price(usage, rates)
    del lines["DynamoDB reads"]  # every request is priced as a write above
    lines["S3 requests"] = run.s3_requests * cost.S3_PUT_PER_REQUEST
    return lines


def _line(points: Sequence[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares ``(fixed, per_connection)`` through ``(n, count)`` points (two or more sizes)."""
    xs = [float(n) for n, _ in points]
    ys = [y for _, y in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        raise ValueError("fit needs runs of at least two sizes")
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    return mean_y - slope * mean_x, slope


@dataclass(frozen=True)
class Fit:
    """Each count as ``fixed + per_connection * n + per_deferral * deferrals``."""

    fixed: Mapping[str, float]
    per_connection: Mapping[str, float]
    per_deferral: Mapping[str, float]
    deferral_basis: str  # where per_deferral comes from

    def predict(self, connections: int, deferrals: int) -> BilledRun:
        def count(key: str) -> int:
            value = (
                self.fixed[key]
                + self.per_connection[key] * connections
                + self.per_deferral.get(key, 0.0) * deferrals
            )
            return max(0, round(value))

        functions = [k.removeprefix("lambda:") for k in self.fixed if k.startswith("lambda:")]
        return BilledRun(
            connections=connections,
            transitions=count("transitions"),
            lambda_invocations={name: count(f"lambda:{name}") for name in functions},
            deferrals=deferrals,
            dynamodb_requests=count("dynamodb"),
            s3_requests=count("s3"),
        )


def _counts(run: BilledRun) -> dict[str, float]:
    counts: dict[str, float] = {
        "transitions": run.transitions,
        "dynamodb": run.dynamodb_requests,
        "s3": run.s3_requests,
    }
    counts.update({f"lambda:{k}": v for k, v in run.billed_invocations.items()})
    return counts


# What the definition bills a deferred trigger (statemachine/orchestrator.asl.json): LogRateLimit,
# RateLimitedBeforeDeadline, WaitForRateLimit, TriggerAgain, a second StartSyncAndWait and
# WasRescheduled; and one more start_sync invocation.
DEFINED_PER_DEFERRAL: Mapping[str, float] = {"transitions": 6.0, "lambda:start_sync": 1.0}


def fit(runs: Sequence[BilledRun], pair: tuple[BilledRun, BilledRun] | None = None) -> Fit:
    """Fit the counts of ``runs``: ``fixed`` and ``per_connection`` through the runs without a
    deferral (at least two sizes); ``per_deferral`` from ``pair`` (a run with deferrals and its twin
    of the same size without: their difference over the deferrals), else from the runs with
    deferrals, what they counted beyond that line over their deferrals (the definition's figures if
    none deferred). Raises ``ValueError`` with fewer than two sizes without deferrals, or a pair
    whose first run did not defer or whose sizes differ."""
    plain = [r for r in runs if r.deferrals == 0]
    deferring = [r for r in runs if r.deferrals > 0]
    if len({r.connections for r in plain}) < 2:  # no line through fewer (none: no counts to predict)
        raise ValueError("fit needs runs of at least two sizes without a deferral")
    keys = sorted(set().union(*(_counts(r) for r in plain)))
    fixed: dict[str, float] = {}
    slope: dict[str, float] = {}
    for key in keys:
        fixed[key], slope[key] = _line([(r.connections, _counts(r).get(key, 0.0)) for r in plain])
    if pair is not None:
        deferred, twin = pair
        if deferred.deferrals <= 0 or deferred.connections != twin.connections:
            raise ValueError("a deferral pair needs a deferring run and its twin of the same size")
        counts, base = _counts(deferred), _counts(twin)
        extra = {k: (counts.get(k, 0.0) - base.get(k, 0.0)) / deferred.deferrals for k in keys}
        basis = (
            f"measured: a run of {deferred.connections} connections with {deferred.deferrals} deferrals "
            "against its twin without"
        )
        return Fit(fixed, slope, extra, basis)
    if not deferring:
        return Fit(fixed, slope, dict(DEFINED_PER_DEFERRAL), "the definition (no measured run deferred)")
    per_deferral: dict[str, float] = {}
    for key in keys:
        beyond = sum(_counts(r).get(key, 0.0) - fixed[key] - slope[key] * r.connections for r in deferring)
        per_deferral[key] = beyond / sum(r.deferrals for r in deferring)
    sizes = ", ".join(f"{r.connections:,}" for r in deferring)
    deferrals = sum(r.deferrals for r in deferring)
    return Fit(
        fixed, slope, per_deferral, f"measured in a run of {sizes} connections with {deferrals:,} deferrals"
    )


def expected_deferrals(
    connections: int, *, burst: int, interval_s: float, starts_per_second: float = AWS_CHILD_STARTS_PER_SECOND
) -> int:
    """Triggers the budget defers when children start evenly at ``starts_per_second`` against an
    empty bucket, as ``chalicelib.tokens.api_budget`` counts them (GCRA: every trigger advances the
    counter by ``interval_s``; one whose slot, the counter less ``burst`` intervals, is later than
    its arrival waits for it)."""
    tat = 0.0
    deferred = 0
    for k in range(connections):
        now = k / starts_per_second
        tat = max(tat, now) + interval_s
        if tat - burst * interval_s > now + 1e-9:
            deferred += 1
    return deferred


def paced_trigger_seconds(connections: int, *, burst: int, interval_s: float) -> float:
    """The least time, in s, from the first trigger to the last at the budget's pace: ``burst`` at
    once, then one every ``interval_s`` (0 when all fit the burst)."""
    return max(0, connections - burst) * interval_s
