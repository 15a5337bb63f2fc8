"""``orchestrator retry RUN``: a new run for RUN's input that redoes only what RUN did not finish.

- **Syncs**: the connections RUN listed whose sync did not succeed: failed, timed out, or dropped (the
  run ended before their sync ended, or before it started). A succeeded connection is never synced
  again; a skipped one (paused, broken, not found) stays a listing decision of the new run's own.
  They become the new run's ``connector_ids`` (none: the new run syncs nothing and goes to dbt).
- **dbt**: when RUN's dbt built nodes and some failed, the new run resumes from there:
  ``dbt.select`` is ``result:error+ result:skipped+`` (each only when RUN's ``run_results.json`` has
  such a node: a selector matching nothing fails a run), and ``source:<name>+`` for each source RUN
  excluded because its connection failed (those the project reads); ``dbt_container/task/retry_state.py``
  gives dbt RUN's artifacts as ``--state``. dbt's own recipe for resuming ("About state in dbt",
  docs.getdbt.com: ``--select result:error+ result:skipped+ --state``). When RUN's dbt succeeded, only
  the excluded sources' nodes are owed; when it never ran, or failed before building any node (no
  result), the new run runs the normal transform of RUN's input.
- **Nothing to retry** (every sync succeeded or was skipped, dbt succeeded with nothing excluded):
  ``NothingToRetry`` (exit 2), nothing is started. A run still running cannot be retried (exit 2).

The new run's input is RUN's with ``retry_of: <RUN's name>``, ``connector_ids`` in place of
``group_id`` and the dbt selection above; validated as ``start-run`` validates. ``plan_retry`` is pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.run.collect import SUCCEEDED
from chalicelib.run.run_files import S3Location
from ops.errors import UsageProblem
from ops.history import fetch_history
from ops.run_model import RunView
from ops.runs import build_run_input_from, listing_location, read_run, read_s3_json
from ops.target import Target

__all__ = ["DbtResults", "NothingToRetry", "RetryPlan", "plan_retry", "read_retry_sources"]

ARTIFACTS_PREFIX = "dbt-runs"  # the dbt task's ARTIFACTS_PREFIX (infra/template.yaml)
_FAILED_STATUSES = {"error", "fail", "runtime error"}
_TARGET_KEYS = ("group_id", "group_ids", "connector_ids")


class NothingToRetry(UsageProblem):
    """The run has nothing a retry would redo (or cannot be retried yet); nothing was started."""


@dataclass(frozen=True)
class DbtResults:
    """What RUN's dbt left in S3: its nodes by status (``run_results.json``) and the sources its
    project declares (``manifest.json``: ``<source>`` and ``<source>.<table>``). None: not found."""

    errored: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    sources: frozenset[str] | None = None

    @classmethod
    def from_artifacts(cls, run_results: Any, manifest: Any) -> DbtResults:
        errored, skipped = [], []
        for result in (run_results or {}).get("results") or []:
            node, status = str(result.get("unique_id", "")), str(result.get("status", "")).lower()
            if node.startswith("source."):  # source freshness results are not nodes dbt builds
                continue
            if status in _FAILED_STATUSES:
                errored.append(node)
            elif status == "skipped":
                skipped.append(node)
        sources = None
        if isinstance(manifest, dict):
            found = set()
            for source in (manifest.get("sources") or {}).values():
                found.add(str(source.get("source_name")))
                found.add(f"{source.get('source_name')}.{source.get('name')}")
            sources = frozenset(found)
        return cls(tuple(errored), tuple(skipped), sources)


@dataclass(frozen=True)
class RetryPlan:
    """The new run: its input, the connections it syncs again and why its dbt does what it does."""

    retry_of: str
    connector_ids: tuple[str, ...]
    dbt_select: str | None  # None: RUN's own selection (the normal transform)
    dbt_reason: str
    run_input: dict[str, Any] = field(default_factory=dict)

    def lines(self) -> list[str]:
        syncs = ", ".join(self.connector_ids) if self.connector_ids else "none (every sync succeeded)"
        return [f"retry of {self.retry_of}", f"syncs again: {syncs}", f"dbt: {self.dbt_reason}"]


def _not_synced(view: RunView, listed: list[str] | None) -> tuple[str, ...]:
    """Listed connections whose sync did not succeed (failed, timed out, dropped), in listing order."""
    succeeded = {s.connector_id for s in view.syncs if s.outcome == SUCCEEDED}
    ids = listed if listed is not None else [s.connector_id for s in view.syncs]
    return tuple(dict.fromkeys(i for i in ids if i not in succeeded))


def _dbt_plan(view: RunView, results: DbtResults | None, resynced: bool) -> tuple[str | None, str]:
    """(dbt.select of the new run or None for the normal transform, what it does), or (``""``, why) when
    dbt owes nothing."""
    owed = list(view.dbt.excluded_sources) if resynced else []
    known = results.sources if results is not None else None
    sources = [f"source:{name}+" for name in owed if known is not None and name in known]
    if view.dbt.state == "not_run":
        return None, "the normal transform (the run's dbt never ran)"
    if results is None or (view.dbt.state == "failed" and not (results.errored or results.skipped)):
        if view.dbt.state == "succeeded" and not sources:
            return "", "nothing owed"
        return None, "the normal transform (the run's dbt left no node results to resume from)"
    selectors = ["result:error+"] if results.errored else []
    selectors += ["result:skipped+"] if results.skipped else []
    selectors += sources
    if not selectors:
        if owed:
            return None, "the normal transform (the excluded sources are not in the dbt project's manifest)"
        return "", "nothing owed"
    what = f"{len(results.errored)} failed and {len(results.skipped)} skipped node(s)"
    return " ".join(selectors), f"resumes: {' '.join(selectors)} ({what}; --state: {view.name}'s artifacts)"


def plan_retry(view: RunView, listed: list[str] | None, results: DbtResults | None) -> RetryPlan:
    """The retry of ``view`` (a finished run): ``listed`` is the connection ids it listed to sync (None
    when it never listed them), ``results`` what its dbt left. Raises ``NothingToRetry``."""
    if view.status == "RUNNING":
        raise NothingToRetry(f"run {view.name} is still running: wait for it to end, then retry it")
    if not view.complete:
        raise NothingToRetry(
            f"run {view.name}'s outcomes cannot all be read ({view.outcomes_problem}): retry later"
        )
    connector_ids = _not_synced(view, listed)
    select, reason = _dbt_plan(view, results, bool(connector_ids))
    if not connector_ids and select == "":
        raise NothingToRetry(
            f"run {view.name} has nothing to retry: every sync succeeded or was skipped and its dbt "
            f"{view.dbt.state}; nothing was started"
        )
    raw = {k: v for k, v in view.input.items() if k not in (*_TARGET_KEYS, "retry_of")}
    if listed is None and not view.syncs:  # the run never listed its connections: all of them, again
        raw.update({k: v for k, v in view.input.items() if k in _TARGET_KEYS})
        connector_ids = ()
    else:
        raw["connector_ids"] = list(connector_ids)
    raw["retry_of"] = view.name
    if select:
        raw["dbt"] = {**(raw.get("dbt") or {}), "select": select}
    elif select == "":
        reason = "nothing owed: the syncs are retried, dbt runs its normal transform"
    return RetryPlan(view.name, connector_ids, select or None, reason, build_run_input_from(raw))


def read_retry_sources(target: Target, arn: str) -> tuple[RunView, list[str] | None, DbtResults | None]:
    """RUN's view, the ids it listed to sync (its ``connections.json``) and its dbt artifacts."""
    sfn = target.stepfunctions()
    try:
        described = sfn.describe_execution(executionArn=arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        raise NothingToRetry(f"no run {arn} on {target.label}") from None
    events = fetch_history(sfn, arn)
    view = read_run(target, described, events)
    items = listing_location(events)
    if items is None:
        return view, None, None
    listing = read_s3_json(target, items)
    listed = None
    if isinstance(listing, list):
        listed = [str(i.get("connector_id")) for i in listing if isinstance(i, dict)]
    artifacts = f"{ARTIFACTS_PREFIX}/{view.name}/"
    run_results = read_s3_json(target, S3Location(items.bucket, artifacts + "run_results.json"))
    if run_results is None:
        return view, listed, None
    manifest = read_s3_json(target, S3Location(items.bucket, artifacts + "manifest.json"))
    return view, listed, DbtResults.from_artifacts(run_results, manifest)
