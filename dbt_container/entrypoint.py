"""Runs one dbt command for one orchestrator run: the dbt image's entrypoint (and the local ECS runner's).

This file owns the run from start to end and its contract: the ``--help`` text (every setting, read from
the environment the ``RunDbt`` task's overrides set), the order of the steps (settings, ``dbt deps`` when
needed, the command, the results, the artifacts) and the one-line JSON summary printed on stdout and kept
beside the artifacts in S3. Its parts live in the ``task`` package beside it (see ``task/__init__.py``):
settings, the dbt command lines, the dbt session that runs them and its stop on SIGTERM, the artifacts.
Its own events are JSON lines on stderr; dbt's console output goes to stderr too, so stdout holds only the
summary.

Run it as a script (``python entrypoint.py``, as the image does). Only the standard library at import time
(boto3 is imported when artifacts are uploaded), so the orchestrator's tests can import it from the app's
virtual environment.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

# The task package sits beside this file: importable when this file is run as a script (its folder is
# sys.path[0]) and when it is loaded by path (tests), whatever the working directory.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from task.artifacts import (
    ARTIFACT_FILES,
    LOG_FILE,
    Outcome,
    clear_previous_artifacts,
    read_results,
    upload_artifacts,
)
from task.command_line import (
    PACKAGE_FILES,
    child_env,
    dbt_args,
    deps_args,
    needs_deps,
)
from task.contract_check import apply_source_contract
from task.events import log_event
from task.process import KILL_AFTER_S, DbtProcess
from task.run_steps import CommandsResult, run_commands, step_settings
from task.s3 import s3_client as _s3_client
from task.selection import unmatched_selectors
from task.settings import (
    ALLOWED_COMMANDS,
    CONFIG_ERROR,
    DEFAULT_STOP_GRACE_S,
    SNOWFLAKE_REQUIRED,
    ConfigError,
    Settings,
    artifacts_key_prefix,
    build_exclude,
    default_run_id,
    load_settings,
    parse_command,
    parse_exclude_sources,
    read_exclude_sources_uri,
    safe_run_id,
)

# What this file defines, and the parts' names it re-exports for callers that load it by path.
__all__ = [
    "ALLOWED_COMMANDS",
    "ARTIFACT_FILES",
    "CONFIG_ERROR",
    "DEFAULT_STOP_GRACE_S",
    "ENV_HELP",
    "KILL_AFTER_S",
    "LOG_FILE",
    "NO_NODES_EXIT",
    "PACKAGE_FILES",
    "SNOWFLAKE_REQUIRED",
    "SUMMARY_FILE",
    "SUMMARY_MAX_FAILED_NODES",
    "ConfigError",
    "DbtProcess",
    "Outcome",
    "Settings",
    "artifacts_key_prefix",
    "build_exclude",
    "child_env",
    "clear_previous_artifacts",
    "dbt_args",
    "default_run_id",
    "deps_args",
    "execute",
    "load_settings",
    "log_event",
    "main",
    "needs_deps",
    "parse_cli",
    "parse_command",
    "parse_exclude_sources",
    "read_exclude_sources_uri",
    "read_results",
    "safe_run_id",
    "summary_line",
    "upload_artifacts",
    "upload_summary",
]

SUMMARY_FILE = "summary.json"
NO_NODES_EXIT = 1  # dbt ran cleanly but a selector of DBT_SELECT matched no node: the run did not do as asked
SUMMARY_MAX_FAILED_NODES = 50  # summary.json feeds a Step Functions cause (at most 32,768 characters)
SUMMARY_MAX_WARNINGS = 50  # the summary names at most this many (source_contract_warnings_count: all)
SUMMARY_MAX_MODELS = 500  # the summary line names at most this many built models (models_built_count: all)

ENV_HELP = """\
environment (the ECS task's container overrides set these):
  DBT_COMMAND          build (default), run, test, seed, snapshot or "source freshness"
  DBT_SELECT           space-separated dbt selectors, each passed as its own --select=<selector>
                       (empty: everything); a selector starting with '-' (a dbt option) is refused
                       (exit 2); a selector that matches no node fails the run (exit 1, the summary's
                       unmatched_selectors and selection_problem name it); with result: or state:
                       selectors in a retry (s3://ARTIFACTS_BUCKET/runs/RUN_ID/retry_of.json), the
                       retried run's run_results.json and manifest.json are dbt's --state
  DBT_EXCLUDE          space-separated dbt selectors, each passed as its own --exclude=<selector>
  DBT_VARS             a JSON object of dbt vars, passed as one argument --vars=<JSON> to every
                       command (empty: none); not an object: exit 2
  DBT_FULL_REFRESH     true or false (default): --full-refresh on build, run and seed; true with
                       DBT_MODE=new_data is refused (exit 2)
  DBT_STEPS            a JSON array of {"command", "select", "exclude"} run in order, each with its
                       own selection (DBT_EXCLUDE and the excluded sources apply to every step); the
                       first failing step stops the rest (its exit code is the run's); with it,
                       DBT_SELECT stays empty and DBT_COMMAND empty or the steps' commands joined by
                       " then "; the summary's steps list each step's exit code (null: not run)
  DBT_MODE             all (default): build everything selected; new_data (the orchestrator's default,
                       for build and run without DBT_SELECT): dbt source freshness, then build only the
                       nodes whose inputs changed or cannot be judged since they were last built (none:
                       no build, exit 0); the state is s3://ARTIFACTS_BUCKET/dbt-state/<target>/
  DBT_EXCLUDE_SOURCES  JSON array of source names, e.g. ["stripe","zendesk","sheets.budget"]; each adds
                       source:<name>+ to the exclusions (what depends on a failed connection is not
                       built); schema.table (Fivetran's name for a Sheets or file connection) excludes
                       that one table of source <schema>
  DBT_EXCLUDE_SOURCES_URI  s3://bucket/key of a JSON array of the same form (what the state machine
                       passes: the failed connections of a run, however many, without growing the
                       ECS container overrides, which hold 8,192 characters in all); both may be set
  DBT_TARGET           the profile's target: the image's adapter (snowflake, bigquery, redshift,
                       databricks, postgres; set by the image) or duckdb (local)
  RUN_ID               the run's id (the Step Functions execution name); default manual-<utc time>
  DUCKDB_PATH          the DuckDB file, for target duckdb
  ARTIFACTS_BUCKET     when set, run_results.json, manifest.json, dbt.log and summary.json (the summary
                       line, at most 50 failed nodes) go to s3://ARTIFACTS_BUCKET/ARTIFACTS_PREFIX/RUN_ID/
  ARTIFACTS_PREFIX     default dbt-runs
  DBT_PROJECT_DIR      default: the project/ folder beside this file
  DBT_PROFILES_DIR     default: the project folder
  DBT_TARGET_PATH      where dbt writes its artifacts, kept after the run (default: a folder under the
                       temp dir, removed once the artifacts are uploaded)
  DBT_LOG_PATH         where dbt writes dbt.log (default: beside the artifacts)
  DBT_STOP_GRACE_SECONDS  after SIGTERM, how long dbt gets to cancel its queries (default 20)
  DBT_THREADS          dbt threads (default 8 for snowflake, 4 for duckdb; read by profiles.yml)
  DBT_TOLERATE_MISSING_SOURCES  true (default): a source table that does not exist yet (its connection
                       never synced) gives an empty staging model instead of an error
  FIVETRAN_DATABASE    the database Fivetran lands in, if not the one dbt builds in (default: the target's)
  FIVETRAN_CONNECTIONS_URI  s3://bucket/key of the run's connections (default, in a run the state
                       machine started: s3://ARTIFACTS_BUCKET/runs/RUN_ID/connections.json, which
                       list_connectors writes); checked before dbt starts against the sources the
                       project's YAML declares: each connection without a dbt source, and each dbt
                       source without a connection, is a source_contract_warning event on stderr and
                       a line of the summary's source_contract_warnings; a failed connection's
                       sources mapped by meta.fivetran_connection are excluded too
  AWS_ENDPOINT_URL     set only locally (moto), for the artifacts upload
  SNOWFLAKE_*, BIGQUERY_*, REDSHIFT_*, DATABRICKS_*, POSTGRES_*: the warehouse secret's keys, read by the
                       orchestrator-managed profile (docs/your-dbt-project.md lists them); a required
                       key that is missing or empty stops the run before dbt starts (exit 78)

stdout holds one line, the run's JSON summary ({"event": "dbt_summary", ...}); logs go to stderr.
exit code: dbt's (0 ok, 1 failures, 2 error); 2 for bad settings; 78 for a missing warehouse key;
128+signal when stopped.
"""


# --- the run -----------------------------------------------------------------------------------------


def execute(settings: Settings, env: Mapping[str, str], runner: DbtProcess) -> Outcome:
    """deps when needed, then the command; then read the results and keep the artifacts."""
    settings.target_path.mkdir(parents=True, exist_ok=True)
    settings.log_path.mkdir(parents=True, exist_ok=True)
    clear_previous_artifacts(settings)
    dbt_env = child_env(settings, env)
    code = 0
    if needs_deps(settings.project_dir):
        code = runner.run(deps_args(settings), dbt_env)
    result = CommandsResult(exit_code=code)
    if code == 0:
        result = run_commands(settings, dbt_env, runner)
    code = result.exit_code
    counts, failed = result.counts, result.failed_nodes
    if not counts:  # dbt deps failed: no command ran
        counts, failed = read_results(settings.target_path, settings.command)
    log_event("dbt_finished", exit_code=code, target_path=str(settings.target_path))
    select = " ".join(step.select for step in step_settings(settings))
    unmatched = unmatched_selectors(settings.log_path / LOG_FILE, select)
    if unmatched:
        log_event("selection_matches_no_node", level="error", selectors=unmatched, select=select)
        code = code or NO_NODES_EXIT
    outcome = Outcome(
        exit_code=code,
        counts=counts,
        failed_nodes=failed,
        artifacts=upload_artifacts(settings),
        unmatched_selectors=unmatched,
        selection=result.selection,
        models_built=result.models_built,
        steps=result.steps if settings.steps else None,
    )
    if settings.scratch_dir is not None:
        shutil.rmtree(settings.scratch_dir, ignore_errors=True)
    return outcome


def summary_line(
    settings: Settings | None, outcome: Outcome, elapsed_s: float, env: Mapping[str, str]
) -> str:
    """The one JSON line printed on stdout at the end of every run."""
    summary = {
        "event": "dbt_summary",
        "command": settings.command if settings else " ".join(env.get("DBT_COMMAND", "").split()) or "build",
        "select": settings.select if settings else env.get("DBT_SELECT", ""),
        "exclude": settings.exclude if settings else env.get("DBT_EXCLUDE", ""),
        "target": settings.target if settings else env.get("DBT_TARGET") or "snowflake",
        "run_id": settings.run_id if settings else env.get("RUN_ID", ""),
        "exit_code": outcome.exit_code,
        "counts": outcome.counts,
        "failed_nodes": outcome.failed_nodes,
        "elapsed_s": round(elapsed_s, 3),
        "artifacts": outcome.artifacts,
        "mode": settings.mode if settings else env.get("DBT_MODE") or "all",
        "selection": outcome.selection,
        "models_built": outcome.models_built[:SUMMARY_MAX_MODELS],
        "models_built_count": len(outcome.models_built),
        "source_contract_warnings": outcome.source_contract_warnings[:SUMMARY_MAX_WARNINGS],
        "source_contract_warnings_count": len(outcome.source_contract_warnings),
        "full_refresh": settings.full_refresh if settings else False,
        "vars": json.loads(settings.vars) if settings and settings.vars else {},
    }
    if outcome.steps is not None:  # present only for a run of DBT_STEPS
        summary["steps"] = outcome.steps
    if outcome.unmatched_selectors:  # present only then (the state machine's Choice tests for it)
        summary["unmatched_selectors"] = outcome.unmatched_selectors
        summary["selection_problem"] = "the selection matches no node: " + ", ".join(
            outcome.unmatched_selectors
        )
    return json.dumps(summary)


def upload_summary(settings: Settings, summary: dict[str, Any]) -> None:
    """Put the run's summary beside its artifacts: the state machine reads it to name a failed run's
    failed nodes. ``failed_nodes`` is cut to SUMMARY_MAX_FAILED_NODES; ``counts.error`` has the total."""
    if not settings.bucket:
        return
    body = {**summary, "failed_nodes": summary.get("failed_nodes", [])[:SUMMARY_MAX_FAILED_NODES]}
    key = artifacts_key_prefix(settings.prefix, settings.run_id) + SUMMARY_FILE
    try:
        _s3_client().put_object(
            Bucket=settings.bucket,
            Key=key,
            Body=json.dumps(body).encode("utf-8"),
            ContentType="application/json",
        )
    except Exception as exc:  # boto3/botocore errors, network errors: logged, never fatal
        log_event("summary_upload_failed", level="error", bucket=settings.bucket, key=key, error=str(exc))


def parse_cli(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="entrypoint.py",
        description="Run one dbt command for one orchestrator run. Settings come from the environment.",
        epilog=ENV_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parse_cli(argv)
    env = dict(os.environ if env is None else env)
    env["RUN_ID"] = env.get("RUN_ID") or default_run_id()
    started = time.monotonic()
    runner = DbtProcess(DEFAULT_STOP_GRACE_S)
    runner.install()
    settings: Settings | None = None
    warnings: list[str] = []
    try:
        loaded = load_settings(env)
        # The source-naming contract, before dbt: warnings, and the failed connections' meta-mapped sources.
        contract = apply_source_contract(loaded.project_dir, env, loaded.excluded_sources)
        warnings = contract.warnings
        settings = replace(loaded, exclude=build_exclude(loaded.exclude, contract.excluded))
    except ConfigError as exc:
        log_event("config_error", level="error", error=str(exc))
        outcome = Outcome(exit_code=exc.exit_code)
    else:
        runner.grace_s = settings.stop_grace_s
        log_event(
            "run_started",
            command=settings.command,
            select=settings.select,
            exclude=settings.exclude,
            target=settings.target,
            run_id=settings.run_id,
        )
        try:
            outcome = execute(settings, env, runner)
        except OSError as exc:  # e.g. the artifacts folders cannot be created: say so, still summarize
            log_event("run_failed", level="error", error=str(exc))
            outcome = Outcome(exit_code=CONFIG_ERROR)
        finally:
            runner.close()  # the dbt session ends: every command has run
    outcome = replace(outcome, source_contract_warnings=warnings)
    line = summary_line(settings, outcome, time.monotonic() - started, env)
    if settings is not None:
        upload_summary(settings, json.loads(line))
    print(line, flush=True)
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
