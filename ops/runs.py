"""Starting runs and finding them: the execution input, StartExecution, names and recent runs.

``build_run_input`` turns the command-line options into the execution input and validates it
with ``chalicelib.run.run_input.parse_run_input``, exactly as the state machine's first state
will, so an invalid run is refused before anything starts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.platform.errors import InvalidInput
from chalicelib.run.retries import RETRIED_BY_FILE
from chalicelib.run.run_files import RUNS_PREFIX, S3Location
from chalicelib.run.run_input import parse_run_input
from ops.distributed import distributed_sources
from ops.errors import InvalidRunInput, OpsError
from ops.history import exited, fetch_history, parse_json
from ops.run_model import RunView
from ops.runview import build_run_view
from ops.target import Target

__all__ = [
    "OutcomesCache",
    "RunOptions",
    "build_run_input",
    "build_run_input_from",
    "execution_arn",
    "fetch_map_run",
    "fetch_outcomes",
    "listing_location",
    "read_run",
    "read_s3_json",
    "recent_runs",
    "run_view",
    "start_run",
]


@dataclass(frozen=True)
class RunOptions:
    """The ``start-run`` options that shape the execution input (None: the deployment default)."""

    group: str | None = None
    connectors: tuple[str, ...] = ()
    on_sync_failure: str | None = None
    paused: str | None = None
    sync_timeout: int | None = None
    dbt_command: str | None = None
    dbt_select: str | None = None
    dbt_exclude: str | None = None


def build_run_input(options: RunOptions) -> dict[str, Any]:
    """The execution input, validated as the state machine's ListConnectors state will."""
    raw: dict[str, Any] = {}
    if options.group is not None:
        raw["group_id"] = options.group
    if options.connectors:
        raw["connector_ids"] = list(options.connectors)
    for key, value in (
        ("on_sync_failure", options.on_sync_failure),
        ("paused", options.paused),
        ("sync_timeout_seconds", options.sync_timeout),
    ):
        if value is not None:
            raw[key] = value
    dbt = {
        key: value
        for key, value in (
            ("command", options.dbt_command),
            ("select", options.dbt_select),
            ("exclude", options.dbt_exclude),
        )
        if value is not None
    }
    if dbt:
        raw["dbt"] = dbt
    return build_run_input_from(raw)


def build_run_input_from(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw``, validated as the state machine's ListConnectors state will; ``InvalidRunInput`` if not."""
    try:
        parse_run_input(raw)
    except InvalidInput as exc:
        raise InvalidRunInput(f"{exc} (nothing was started)") from None
    return raw


def start_run(target: Target, run_input: dict[str, Any], name: str | None = None) -> str:
    """Start one execution; returns its ARN."""
    kwargs: dict[str, Any] = {"stateMachineArn": target.state_machine_arn, "input": json.dumps(run_input)}
    if name:
        kwargs["name"] = name
    return target.stepfunctions().start_execution(**kwargs)["executionArn"]


def execution_arn(target: Target, run: str) -> str:
    """An execution ARN from an ARN, a name, or the unique start of a recent run's name."""
    if run.startswith("arn:"):
        return run
    machine = target.state_machine_arn
    exact = machine.replace(":stateMachine:", ":execution:", 1) + f":{run}"
    sfn = target.stepfunctions()
    try:
        sfn.describe_execution(executionArn=exact)
        return exact
    except sfn.exceptions.ExecutionDoesNotExist:
        pass
    matches = [e["executionArn"] for e in _recent_executions(sfn, machine, 1000) if e["name"].startswith(run)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise OpsError(f"{run!r} starts {len(matches)} run names on {target.label}: give more of it")
    raise OpsError(f"no run named {run!r} on {target.label} (see `orchestrator runs {target.flag}`)")


def run_view(target: Target, arn: str, outcomes_file: bool = True, links: bool = False) -> RunView:
    """One run's view; ``outcomes_file=False`` leaves a distributed run's ``outcomes.json`` unread
    (its counts and first 100 outcomes are in the history: enough for the ``runs`` table);
    ``links=True`` also reads which run retried it (``retried_by``: one more S3 read, for ``show``)."""
    sfn = target.stepfunctions()
    try:
        described = sfn.describe_execution(executionArn=arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        raise OpsError(f"no run {arn} on {target.label}") from None
    cache = OutcomesCache(tried=not outcomes_file)
    events = fetch_history(sfn, arn)
    view = read_run(target, described, events, cache)
    if links:
        view.retried_by = _retried_by(target, events, view.name)
    return view


def listing_location(events: list[dict[str, Any]]) -> S3Location | None:
    """Where ``ListConnectors`` wrote the connections the run syncs (its output's ``items``), or None."""
    for event in events:
        if exited(event, "ListConnectors"):
            output = parse_json(event["stateExitedEventDetails"].get("output"))
            items = output.get("items") if isinstance(output, dict) else None
            if isinstance(items, dict) and items.get("bucket") and items.get("key"):
                return S3Location(str(items["bucket"]), str(items["key"]))
    return None


def read_s3_json(target: Target, where: S3Location) -> Any:
    """The JSON object at ``where``, or None when it is missing or unreadable (the caller knows less)."""
    try:
        return json.loads(target.s3().get_object(Bucket=where.bucket, Key=where.key)["Body"].read())
    except (ClientError, BotoCoreError, ValueError):
        return None


def _retried_by(target: Target, events: list[dict[str, Any]], name: str) -> str | None:
    """The latest retry of run ``name`` (``chalicelib/run/retries.py``: ``runs/<name>/retried_by.json``)."""
    listing = listing_location(events)
    if listing is None:
        return None
    link = read_s3_json(target, S3Location(listing.bucket, f"{RUNS_PREFIX}/{name}/{RETRIED_BY_FILE}"))
    return str(link["retry"]) if isinstance(link, dict) and link.get("retry") else None


def fetch_outcomes(target: Target, where: S3Location) -> tuple[dict[str, Any] | None, str | None]:
    """A distributed run's ``outcomes.json`` in one GET (10,000 connections are ~3 MB): (parsed, None),
    or (None, why not) — the view then falls back to ``CollectOutcomes``'s bounded list."""
    try:
        body = target.s3().get_object(Bucket=where.bucket, Key=where.key)["Body"].read()
        parsed = json.loads(body)
    except ClientError as exc:
        return None, f"cannot read {where.uri}: {exc.response.get('Error', {}).get('Code', exc)}"
    except (BotoCoreError, ValueError) as exc:
        return None, f"cannot read {where.uri}: {exc}"
    if not isinstance(parsed, dict):
        return None, f"cannot read {where.uri}: not a JSON object"
    return parsed, None


def fetch_map_run(sfn: Any, execution: str, map_run_arn: str | None) -> dict[str, Any] | None:
    """The map run's ``DescribeMapRun`` (its item counts), found by ARN or by ``ListMapRuns``; None
    when there is none yet or it cannot be read (the view then knows less, nothing breaks)."""
    try:
        if not map_run_arn:
            runs = sfn.list_map_runs(executionArn=execution).get("mapRuns") or []
            if not runs:
                return None
            map_run_arn = runs[0]["mapRunArn"]
        described: dict[str, Any] = sfn.describe_map_run(mapRunArn=map_run_arn)
        return described
    except (ClientError, BotoCoreError):
        return None


@dataclass
class OutcomesCache:
    """``outcomes.json`` read once (or why it could not be) for a run followed poll after poll."""

    tried: bool = False
    outcomes: dict[str, Any] | None = None
    problem: str | None = None


def read_run(
    target: Target,
    described: dict[str, Any],
    events: list[dict[str, Any]],
    cache: OutcomesCache | None = None,
) -> RunView:
    """The view of one run, with what a distributed run keeps elsewhere: ``outcomes.json`` once
    ``CollectOutcomes`` has run (read once per ``cache``), else the map run's counts."""
    cache = cache if cache is not None else OutcomesCache()
    location, map_run_arn, collected = distributed_sources(events)
    if location is not None and not cache.tried:
        cache.tried = True
        cache.outcomes, cache.problem = fetch_outcomes(target, location)
    map_run = None
    if not collected and (map_run_arn or _map_entered(events)):
        map_run = fetch_map_run(target.stepfunctions(), described["executionArn"], map_run_arn)
    view = build_run_view(described, events, outcomes=cache.outcomes, map_run=map_run)
    view.outcomes_problem = cache.problem
    return view


def _map_entered(events: list[dict[str, Any]]) -> bool:
    """A distributed sync Map has begun (its map run may not be in the history yet)."""
    listing_items = False
    for event in events:
        details = event.get("stateExitedEventDetails") or {}
        if details.get("name") == "ListConnectors":
            try:
                output = json.loads(details.get("output") or "null")
            except ValueError:
                output = None
            listing_items = isinstance(output, dict) and isinstance(output.get("items"), dict)
        elif event["type"] == "MapStateEntered" and listing_items:
            return True
    return False


def _recent_executions(sfn: Any, machine: str, limit: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"stateMachineArn": machine, "maxResults": min(limit, 1000)}
    while len(found) < limit:
        page = sfn.list_executions(**kwargs)
        found.extend(page["executions"])
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    found.sort(key=lambda e: e["startDate"], reverse=True)
    return found[:limit]


def recent_runs(target: Target, limit: int) -> list[RunView]:
    """The newest ``limit`` runs, each read from its execution and history (no ``outcomes.json``)."""
    sfn = target.stepfunctions()
    return [
        run_view(target, e["executionArn"], outcomes_file=False)
        for e in _recent_executions(sfn, target.state_machine_arn, limit)
    ]
