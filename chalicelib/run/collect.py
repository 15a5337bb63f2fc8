"""After the fan-out: every connection's outcome from the Map's results, counted and bounded (pure).

The Distributed Map writes one record per child execution (``ResultWriter``; AWS docs,
"ResultWriter (Map)"): ``Status``, ``Input`` and ``Output`` as JSON text, ``Error``/``Cause``
for a child that failed, ``StartDate``/``StopDate``. A child that ran to its end holds the
outcome a ``Record*`` state built (``{"connector_id", "schema", "outcome", ...}``); a child
that failed, timed out or was aborted is reported from its input with its error, and a
connection with no record at all is reported too: nothing is dropped.

Shapes:
A connection paused while the run waited is recorded ``paused`` (``RecordPaused``); the run's ``paused``
policy decides what it becomes: ``skip`` (the default) moves it to the skipped ones with reason
``paused``, as if it had been paused before the run; ``fail`` makes it ``failed``.

Shapes:
- ``Outcome.to_dict()``: ``{"connector_id", "schema", "outcome": "succeeded"|"failed"|"timed_out",
  "status"?, "sync_id"?, "finished_at"?, "error"?, "cause"?, "started_at"?, "ended_at"?, "waits"?}``;
  ``sync_id`` of a failed connection is the one its cause names (``tokens.outcomes.sync_id_of_cause``);
  ``waits`` (only for a connection that waited: reschedules, rate limits) is
  ``chalicelib.run.waits.read_waits``' answer
- ``Collected.state(...)``: what the run's state keeps: counts, at most ``STATE_OUTCOMES``
  outcomes (the ones that did not succeed first) with causes cut to ``STATE_CAUSE_CHARS`` and
  waits to their counts and last wait (``waits.compact``),
  the excluded sources (at most ``STATE_OUTCOMES``) and a failure summary under
  ``SUMMARY_CHARS``, so a run of 10,000 connections whose every cause is 32,000 characters
  still fits Step Functions' 256 KiB state.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.platform.timeutil import format_millis_timestamp, from_epoch
from chalicelib.run.waits import compact, read_waits
from chalicelib.tokens.outcomes import sync_id_of_cause

__all__ = ["Collected", "Outcome", "collect", "readable_cause"]

SUCCEEDED, FAILED, TIMED_OUT = "succeeded", "failed", "timed_out"
PAUSED = "paused"  # a child's record only: the run's paused policy makes it skipped or failed
# What the run's state keeps: a fixed maximum whatever the run's size.
STATE_OUTCOMES = 100
STATE_CAUSE_CHARS = 1_000
SUMMARY_CHARS = 4_000
SUMMARY_NAMED = 5
SUMMARY_CAUSE_CHARS = 300
NO_RESULT_ERROR = "Orchestrator.NoResult"


def readable_cause(cause: Any) -> str:
    """A cause without a stack trace: a Lambda error's JSON (``errorType``, ``errorMessage``,
    ``stackTrace``) becomes ``"<errorType>: <errorMessage>"``; the trace stays in the Lambda's log."""
    if not isinstance(cause, str):
        return "" if cause is None else str(cause)
    text = cause.strip()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            return cause
        if isinstance(parsed, dict) and "errorMessage" in parsed:
            return f"{parsed.get('errorType') or 'Error'}: {parsed['errorMessage']}"
    return cause


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json(text: Any) -> Any:
    if isinstance(text, (dict, list)):
        return text
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _timestamp(value: Any) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_millis_timestamp(from_epoch(value / 1000 if value > 1e11 else value))
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Outcome:
    connector_id: str
    schema: str
    outcome: str
    fields: dict[str, Any] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.outcome == SUCCEEDED

    def to_dict(self, cause_limit: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "connector_id": self.connector_id,
            "schema": self.schema,
            "outcome": self.outcome,
        }
        for key, value in self.fields.items():
            if value is None:
                continue
            if cause_limit and key == "cause":
                value = _cut(value, cause_limit)
            elif cause_limit and key == "waits":
                value = compact(value)
            out[key] = value
        return out


@dataclass(frozen=True)
class Collected:
    outcomes: list[Outcome]
    skipped: list[dict[str, Any]]

    @property
    def counts(self) -> dict[str, int]:
        by = {SUCCEEDED: 0, FAILED: 0, TIMED_OUT: 0}
        for item in self.outcomes:
            by[item.outcome] = by.get(item.outcome, 0) + 1
        return {"total": len(self.outcomes), **by, "skipped": len(self.skipped)}

    @property
    def not_succeeded(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.succeeded]

    @property
    def excluded_sources(self) -> list[str]:
        """The failed connections' source names (``schema`` or ``schema.table``), once each."""
        return list(dict.fromkeys(o.schema for o in self.not_succeeded if o.schema))

    def file(self, *, execution_arn: str, map_run_arn: str | None) -> dict[str, Any]:
        """``outcomes.json``: every outcome with its full cause."""
        return {
            "execution_arn": execution_arn,
            "map_run_arn": map_run_arn,
            "counts": self.counts,
            "connections": [o.to_dict() for o in self.outcomes],
            "skipped": self.skipped,
        }

    def failure_summary(self, full_list_uri: str) -> str:
        """``"a (failed: <cause>); b (timed_out: <cause>), and <k> more (<n> of <total>; full list: <uri>)"``:
        the first few connections that did not succeed, bounded, and where the rest are."""
        bad = self.not_succeeded
        if not bad:
            return ""
        named = [f"{o.connector_id} ({o.outcome}: {_short_cause(o)})" for o in bad[:SUMMARY_NAMED]]
        more = f", and {len(bad) - SUMMARY_NAMED} more" if len(bad) > SUMMARY_NAMED else ""
        text = f"{'; '.join(named)}{more} ({len(bad)} of {len(self.outcomes)}; full list: {full_list_uri})"
        return _cut(text, SUMMARY_CHARS)

    def state(self, *, outcomes_uri: str) -> dict[str, Any]:
        """What the run's state keeps (bounded; see the module docstring)."""
        ordered = self.not_succeeded + [o for o in self.outcomes if o.succeeded]
        excluded = self.excluded_sources
        counts = self.counts
        return {
            "counts": counts,
            "any_failed": counts[FAILED] + counts[TIMED_OUT] > 0,
            "connectors": [o.to_dict(STATE_CAUSE_CHARS) for o in ordered[:STATE_OUTCOMES]],
            "skipped": self.skipped[:STATE_OUTCOMES],
            "excluded_sources": excluded[:STATE_OUTCOMES],
            "excluded_sources_count": len(excluded),
            "failure_summary": self.failure_summary(outcomes_uri),
        }


def _short_cause(outcome: Outcome) -> str:
    return _cut(str(outcome.fields.get("cause") or outcome.fields.get("error") or ""), SUMMARY_CAUSE_CHARS)


def _from_output(connector: Mapping[str, Any], output: Mapping[str, Any]) -> Outcome:
    outcome = str(output.get("outcome") or FAILED)
    fields = {k: output.get(k) for k in ("status", "sync_id", "finished_at", "error")}
    if "cause" in output:
        fields["cause"] = readable_cause(output.get("cause"))
        fields["sync_id"] = fields["sync_id"] or sync_id_of_cause(fields["cause"])
    fields["waits"] = read_waits(output.get("waits"))
    return Outcome(
        connector_id=str(output.get("connector_id") or connector.get("connector_id") or ""),
        schema=str(output.get("schema") or connector.get("schema") or ""),
        outcome=outcome if outcome in (SUCCEEDED, FAILED, TIMED_OUT, PAUSED) else FAILED,
        fields=fields,
    )


def _from_failed_child(connector: Mapping[str, Any], record: Mapping[str, Any]) -> Outcome:
    status = str(record.get("Status") or "FAILED")
    error = record.get("Error") or ("States.Timeout" if status == "TIMED_OUT" else f"States.{status.title()}")
    cause = readable_cause(record.get("Cause")) or f"the connection's child execution ended {status}"
    return Outcome(
        connector_id=str(connector.get("connector_id") or ""),
        schema=str(connector.get("schema") or ""),
        outcome=TIMED_OUT if status == "TIMED_OUT" else FAILED,
        fields={"error": str(error), "cause": cause},
    )


def _connector_of(record: Mapping[str, Any]) -> Mapping[str, Any]:
    child_input = _json(record.get("Input"))
    connector = child_input.get("connector") if isinstance(child_input, dict) else None
    return connector if isinstance(connector, dict) else {}


def collect(
    items: Iterable[Mapping[str, Any]],
    records: Iterable[Mapping[str, Any]],
    skipped: Iterable[Mapping[str, Any]] = (),
    paused: str = "skip",
) -> Collected:
    """Every listed connection's outcome, in the listing's order.

    Args:
        items: the connections the Map was given (``connections.json``).
        records: the ResultWriter's child records, from every result file.
        skipped: the connections the listing skipped, with their reason.
        paused: the run's ``paused`` policy, for connections paused while it waited (module docstring).
    """
    by_connection: dict[str, Outcome] = {}
    for record in records:
        connector = _connector_of(record)
        output = _json(record.get("Output"))
        if record.get("Status") == "SUCCEEDED" and isinstance(output, dict):
            outcome = _from_output(connector, output)
        else:
            outcome = _from_failed_child(connector, record)
        times = {
            "started_at": _timestamp(record.get("StartDate")),
            "ended_at": _timestamp(record.get("StopDate")),
        }
        outcome = Outcome(outcome.connector_id, outcome.schema, outcome.outcome, {**outcome.fields, **times})
        by_connection[outcome.connector_id] = outcome
    ordered: list[Outcome] = []
    for item in items:
        connector_id = str(item.get("connector_id") or "")
        found = by_connection.pop(connector_id, None)
        ordered.append(
            found
            or Outcome(
                connector_id=connector_id,
                schema=str(item.get("schema") or ""),
                outcome=FAILED,
                fields={
                    "error": NO_RESULT_ERROR,
                    "cause": f"the Map wrote no result for connection {connector_id}: "
                    "it never ran or its result was lost",
                },
            )
        )
    ordered.extend(by_connection.values())  # results for connections the listing did not name: kept
    return _apply_paused_policy(ordered, [dict(s) for s in skipped], paused)


def _apply_paused_policy(outcomes: list[Outcome], skipped: list[dict[str, Any]], policy: str) -> Collected:
    """``skip``: a paused connection joins the skipped ones (reason ``paused``); ``fail``: it failed."""
    kept: list[Outcome] = []
    for outcome in outcomes:
        if outcome.outcome != PAUSED:
            kept.append(outcome)
        elif policy == "fail":
            kept.append(Outcome(outcome.connector_id, outcome.schema, FAILED, outcome.fields))
        else:
            skipped.append({"connector_id": outcome.connector_id, "reason": PAUSED})
    return Collected(outcomes=kept, skipped=skipped)
