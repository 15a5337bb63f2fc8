"""Runs one dbt command for one orchestrator run: the dbt image's entrypoint (and the local ECS runner's).

This module owns what happens inside the ``RunDbt`` task: reading the settings the task overrides put in
the environment, turning them into a dbt command line (selection, plus an exclusion per failed
connection), running dbt as a child process, stopping it cleanly when the task is stopped (SIGTERM),
keeping the run's artifacts in S3 and printing the one-line JSON summary on stdout. Its own events are
JSON lines on stderr; dbt's console output goes to stderr too, so stdout holds only the summary.

Only the standard library at import time (boto3 is imported when artifacts are uploaded), so the
orchestrator's tests can import it from the app's virtual environment.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

ALLOWED_COMMANDS = ("build", "run", "test", "seed", "snapshot", "source freshness")
PACKAGE_FILES = ("packages.yml", "dependencies.yml")
ARTIFACT_FILES = ("run_results.json", "manifest.json", "sources.json")
LOG_FILE = "dbt.log"
SUMMARY_FILE = "summary.json"
SUMMARY_MAX_FAILED_NODES = 50  # summary.json feeds a Step Functions cause (at most 32,768 characters)
SNOWFLAKE_REQUIRED = (
    "SNOWFLAKE_ACCOUNT",
    "SNOWFLAKE_USER",
    "SNOWFLAKE_PRIVATE_KEY",
    "SNOWFLAKE_ROLE",
    "SNOWFLAKE_WAREHOUSE",
    "SNOWFLAKE_DATABASE",
    "SNOWFLAKE_SCHEMA",
)
CONFIG_ERROR = 2
DEFAULT_STOP_GRACE_S = 20.0
KILL_AFTER_S = 5.0
# A connection's schema as Fivetran names it: a plain identifier, or schema.table for the connections that
# land one table (Google Sheets, files); dbt selects the latter's table as source:<schema>.<table>.
_SOURCE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9._:=@-]+")
_PASS, _WARN, _ERROR, _SKIP = "pass", "warn", "error", "skip"
_STATUS_COUNTS = {
    "success": _PASS,
    "pass": _PASS,
    "warn": _WARN,
    "error": _ERROR,
    "fail": _ERROR,
    "runtime error": _ERROR,
    "skipped": _SKIP,
}
_FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})

ENV_HELP = """\
environment (the ECS task's container overrides set these):
  DBT_COMMAND          build (default), run, test, seed, snapshot or "source freshness"
  DBT_SELECT           space-separated selectors passed to --select (empty: everything)
  DBT_EXCLUDE          space-separated selectors passed to --exclude
  DBT_EXCLUDE_SOURCES  JSON array of source names, e.g. ["stripe","zendesk","sheets.budget"]; each adds
                       source:<name>+ to the exclusions (what depends on a failed connection is not
                       built); schema.table (Fivetran's name for a Sheets or file connection) excludes
                       that one table of source <schema>
  DBT_EXCLUDE_SOURCES_URI  s3://bucket/key of a JSON array of the same form (what the state machine
                       passes: the failed connections of a run, however many, without growing the
                       ECS container overrides, which hold 8,192 characters in all); both may be set
  DBT_TARGET           snowflake (the image's default) or duckdb
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
  AWS_ENDPOINT_URL     set only locally (moto), for the artifacts upload
  SNOWFLAKE_ACCOUNT, SNOWFLAKE_USER, SNOWFLAKE_PRIVATE_KEY, SNOWFLAKE_ROLE, SNOWFLAKE_WAREHOUSE,
  SNOWFLAKE_DATABASE, SNOWFLAKE_SCHEMA, SNOWFLAKE_PRIVATE_KEY_PASSPHRASE: the snowflake target's connection

stdout holds one line, the run's JSON summary ({"event": "dbt_summary", ...}); logs go to stderr.
exit code: dbt's (0 ok, 1 failures, 2 error); 2 for bad settings; 128+signal when stopped.
"""


class ConfigError(ValueError):
    """A setting the entrypoint cannot run with; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    """Everything one run needs, read from the environment."""

    command: str
    select: str
    exclude: str
    target: str
    run_id: str
    project_dir: Path
    profiles_dir: Path
    target_path: Path
    log_path: Path
    bucket: str | None = None
    prefix: str = "dbt-runs"
    stop_grace_s: float = DEFAULT_STOP_GRACE_S
    scratch_dir: Path | None = None  # the default artifacts folder: ours, removed when the run is done

    @property
    def artifacts_uri(self) -> str | None:
        return f"s3://{self.bucket}/{artifacts_key_prefix(self.prefix, self.run_id)}" if self.bucket else None


@dataclass
class Outcome:
    """What the run produced, for the summary."""

    exit_code: int
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys((_PASS, _WARN, _ERROR, _SKIP), 0))
    failed_nodes: list[str] = field(default_factory=list)
    artifacts: str | None = None


# --- logging -----------------------------------------------------------------------------------------


def log_event(event: str, level: str = "info", **fields: Any) -> None:
    """One JSON line on stderr for the entrypoint's own events (never a secret value)."""
    record = {"ts": datetime.now(UTC).isoformat(timespec="milliseconds"), "level": level, "event": event}
    print(json.dumps({**record, **fields}, default=str), file=sys.stderr, flush=True)


# --- settings ----------------------------------------------------------------------------------------


def load_settings(env: Mapping[str, str]) -> Settings:
    """Read and check the run's settings; raises ConfigError with a message a person can act on."""
    project_dir = Path(env.get("DBT_PROJECT_DIR") or Path(__file__).resolve().parent / "project").resolve()
    run_id = env.get("RUN_ID") or default_run_id()
    target = env.get("DBT_TARGET") or "snowflake"
    if target == "duckdb" and not env.get("DUCKDB_PATH"):
        raise ConfigError("DBT_TARGET=duckdb needs DUCKDB_PATH (the DuckDB file to build in)")
    if not (project_dir / "dbt_project.yml").is_file():
        raise ConfigError(f"no dbt_project.yml in DBT_PROJECT_DIR={project_dir}")
    profiles_dir = Path(env.get("DBT_PROFILES_DIR") or project_dir).resolve()
    if target == "snowflake" and profiles_dir == project_dir:
        _require_snowflake_connection(env)
    scratch_dir = Path(tempfile.gettempdir()) / "orchestrator-dbt" / safe_run_id(run_id)
    target_path = _absolute(env.get("DBT_TARGET_PATH"), project_dir) or scratch_dir / "target"
    return Settings(
        command=parse_command(env.get("DBT_COMMAND", "")),
        select=" ".join(env.get("DBT_SELECT", "").split()),
        exclude=build_exclude(
            env.get("DBT_EXCLUDE", ""),
            parse_exclude_sources(env.get("DBT_EXCLUDE_SOURCES"))
            + parse_exclude_sources(
                read_exclude_sources_uri(env.get("DBT_EXCLUDE_SOURCES_URI")), "DBT_EXCLUDE_SOURCES_URI's file"
            ),
        ),
        target=target,
        run_id=run_id,
        project_dir=project_dir,
        profiles_dir=profiles_dir,
        target_path=target_path,
        log_path=_absolute(env.get("DBT_LOG_PATH"), project_dir) or target_path.parent / "logs",
        bucket=env.get("ARTIFACTS_BUCKET") or None,
        prefix=env.get("ARTIFACTS_PREFIX", "dbt-runs"),
        stop_grace_s=_parse_seconds(env.get("DBT_STOP_GRACE_SECONDS"), DEFAULT_STOP_GRACE_S),
        scratch_dir=scratch_dir if target_path.is_relative_to(scratch_dir) else None,
    )


def default_run_id() -> str:
    """A manual run's id: manual-<utc time>."""
    return f"manual-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"


def _require_snowflake_connection(env: Mapping[str, str]) -> None:
    """The bundled profile's snowflake target reads these; name the missing ones (never their values)."""
    missing = [name for name in SNOWFLAKE_REQUIRED if not env.get(name)]
    if missing:
        raise ConfigError(
            f"DBT_TARGET=snowflake needs {', '.join(missing)} (the task definition injects them from "
            "the warehouse secret); locally, use DBT_TARGET=duckdb"
        )


def parse_command(raw: str) -> str:
    """The dbt command to run: one of ALLOWED_COMMANDS (whitespace normalised); default build."""
    command = " ".join(raw.split()) or "build"
    if command not in ALLOWED_COMMANDS:
        allowed = ", ".join(repr(c) for c in ALLOWED_COMMANDS)
        raise ConfigError(f"DBT_COMMAND={raw!r} is not allowed; use one of {allowed}")
    return command


def parse_exclude_sources(raw: str | None, where: str = "DBT_EXCLUDE_SOURCES") -> list[str]:
    """Source names from DBT_EXCLUDE_SOURCES, a JSON array of strings (unset, empty or [] for none).
    ``where`` names the text's origin in errors (the variable, or the file DBT_EXCLUDE_SOURCES_URI names)."""
    if raw is None or not raw.strip():
        return []
    shown = raw if len(raw) <= 200 else raw[:200] + "…"
    try:
        names = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where} must be a JSON array of source names: {exc}") from exc
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{where} must be a JSON array of strings, got {shown!r}")
    bad = [n for n in names if not _SOURCE_NAME.match(n)]
    if bad:
        raise ConfigError(
            f"{where} holds names that are neither plain identifiers nor schema.table: {bad[:20]}"
        )
    return list(dict.fromkeys(names))


def read_exclude_sources_uri(uri: str | None) -> str | None:
    """The text of the object DBT_EXCLUDE_SOURCES_URI names (``s3://bucket/key``); None when unset.

    Unreadable is fatal (ConfigError): dbt must never build on a failed connection's stale data
    because the list of failed connections could not be read."""
    if uri is None or not uri.strip():
        return None
    bucket, _, key = uri.strip().removeprefix("s3://").partition("/")
    if not uri.strip().startswith("s3://") or not bucket or not key:
        raise ConfigError(f"DBT_EXCLUDE_SOURCES_URI must be s3://bucket/key, got {uri!r}")
    try:
        body = _s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
        return body.decode("utf-8")
    except Exception as exc:  # boto3/botocore errors, network, decoding: the run cannot go on safely
        raise ConfigError(f"cannot read DBT_EXCLUDE_SOURCES_URI {uri}: {exc}") from exc


def build_exclude(exclude: str, sources: list[str]) -> str:
    """The final --exclude: DBT_EXCLUDE's selectors, then source:<name>+ for each excluded source."""
    selectors = exclude.split() + [f"source:{name}+" for name in sources]
    return " ".join(dict.fromkeys(selectors))


def safe_run_id(run_id: str) -> str:
    """The run id as one S3 key segment / folder name: no slashes or other odd characters."""
    return _UNSAFE_KEY_CHARS.sub("-", run_id).strip("-.") or "run"


def artifacts_key_prefix(prefix: str, run_id: str) -> str:
    parts = [p for p in prefix.strip("/").split("/") if p] + [safe_run_id(run_id)]
    return "/".join(parts) + "/"


def _absolute(raw: str | None, base: Path) -> Path | None:
    if not raw:
        return None
    path = Path(raw)
    return path if path.is_absolute() else (base / path).resolve()


def _parse_seconds(raw: str | None, default: float) -> float:
    try:
        return max(0.0, float(raw)) if raw else default
    except ValueError as exc:
        raise ConfigError(f"DBT_STOP_GRACE_SECONDS must be a number of seconds, got {raw!r}") from exc


# --- the dbt command line ----------------------------------------------------------------------------


def needs_deps(project_dir: Path) -> bool:
    """Whether `dbt deps` must run first: the project declares packages that are not installed yet.

    An image may install them at build time (its project folder is read-only at run time).
    """
    if not any((project_dir / name).is_file() for name in PACKAGE_FILES):
        return False
    install_dir = project_dir / _packages_install_path(project_dir)
    return not (install_dir.is_dir() and any(install_dir.iterdir()))


def _packages_install_path(project_dir: Path) -> str:
    text = (project_dir / "dbt_project.yml").read_text(encoding="utf-8")
    found = re.search(r"""^packages-install-path:\s*["']?([^"'\s#]+)""", text, flags=re.MULTILINE)
    return found.group(1) if found else "dbt_packages"


def dbt_invocation() -> list[str]:
    """How to start dbt with this interpreter (the dbt CLI's own entry point, named dbt)."""
    return [sys.executable, "-c", "from dbt.cli.main import cli; cli(prog_name='dbt')"]


def dbt_args(settings: Settings) -> list[str]:
    """The arguments after `dbt` for the run's command."""
    args = [*settings.command.split(), *_common_args(settings), "--target", settings.target]
    if settings.select:
        args += ["--select", *settings.select.split()]
    if settings.exclude:
        args += ["--exclude", *settings.exclude.split()]
    return args


def deps_args(settings: Settings) -> list[str]:
    return ["deps", *_common_args(settings)]


def _common_args(settings: Settings) -> list[str]:
    return [
        "--project-dir",
        str(settings.project_dir),
        "--profiles-dir",
        str(settings.profiles_dir),
        "--target-path",
        str(settings.target_path),
        "--log-path",
        str(settings.log_path),
    ]


def child_env(settings: Settings, env: Mapping[str, str]) -> dict[str, str]:
    """dbt's environment: ours, plus the run's target and id, no usage tracking, no colours in logs."""
    extra = {"DBT_TARGET": settings.target, "RUN_ID": settings.run_id}
    defaults = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1", "DBT_USE_COLORS": "false"}
    return {**defaults, **env, **extra}


# --- running dbt, and stopping it --------------------------------------------------------------------


class DbtProcess:
    """Runs dbt commands one after the other; a SIGTERM/SIGINT stops the current one and any that follow.

    On a stop signal dbt gets SIGINT (its Ctrl-C: it cancels the queries it has open in the warehouse),
    then SIGTERM after the grace period, then SIGKILL. dbt runs in its own session, so a Ctrl-C in a
    terminal reaches it once (through us), and it is told to stop if this process dies.
    """

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self.stop_signal: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._interrupted = False
        self._escalations: list[tuple[float, signal.Signals]] = []

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)

    def run(self, argv: list[str], env: Mapping[str, str]) -> int:
        """Run one dbt command to its end; its exit code, or 128 + the signal when the run was stopped."""
        if self.stop_signal is not None:
            return 128 + self.stop_signal
        log_event("dbt_started", args=shlex.join(argv[3:]))
        self._interrupted = False
        self._proc = subprocess.Popen(  # noqa: S603 (our own interpreter, arguments built here)
            argv,
            env=dict(env),
            stdout=sys.stderr.fileno(),
            stderr=sys.stderr.fileno(),
            start_new_session=True,
            preexec_fn=_parent_death_signal(),
        )
        try:
            code = self._wait(self._proc)
        finally:
            self._proc = None
        if code < 0:  # ended by a signal: report it as a shell does (128 + the signal)
            code = 128 - code
            if self.stop_signal is None:  # not ours: the OOM killer, say
                log_event("dbt_killed", level="error", exit_code=code)
        if self.stop_signal is None:
            return code
        log_event("dbt_stopped", level="warning", signal=signal.Signals(self.stop_signal).name, dbt_exit=code)
        return 128 + self.stop_signal

    def _wait(self, proc: subprocess.Popen[bytes]) -> int:
        while True:
            try:
                return proc.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                self._stop_when_asked(proc)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.stop_signal is not None:
            return
        self.stop_signal = signum
        log_event("stop_requested", level="warning", signal=signal.Signals(signum).name)
        now = time.monotonic()
        self._escalations = [
            (now + self.grace_s, signal.SIGTERM),
            (now + self.grace_s + KILL_AFTER_S, signal.SIGKILL),
        ]
        if self._proc is not None:
            self._stop_when_asked(self._proc)

    def _stop_when_asked(self, proc: subprocess.Popen[bytes]) -> None:
        if self.stop_signal is None:
            return
        if not self._interrupted:
            self._interrupted = True
            _send(proc, signal.SIGINT)
        while self._escalations and time.monotonic() >= self._escalations[0][0]:
            _, signum = self._escalations.pop(0)
            log_event("dbt_escalate", level="warning", signal=signum.name)
            _send(proc, signum)


def _send(proc: subprocess.Popen[bytes], signum: int) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)


def _parent_death_signal() -> Callable[[], None] | None:
    """On Linux, what makes the child get SIGTERM if the entrypoint dies (even by SIGKILL): prctl."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, int(signal.SIGTERM))


# --- results and artifacts ---------------------------------------------------------------------------


def read_results(target_path: Path, command: str) -> tuple[dict[str, int], list[str]]:
    """Counts by status and the failed nodes' ids, from run_results.json (sources.json for freshness)."""
    name = "sources.json" if command == "source freshness" else "run_results.json"
    counts = dict.fromkeys((_PASS, _WARN, _ERROR, _SKIP), 0)
    failed: list[str] = []
    try:
        results = json.loads((target_path / name).read_text())["results"]
    except (OSError, ValueError, KeyError, TypeError):
        return counts, failed
    for result in results:
        status = str(result.get("status", "")).lower()
        if status in _STATUS_COUNTS:
            counts[_STATUS_COUNTS[status]] += 1
        if status in _FAILED_STATUSES:
            failed.append(result.get("unique_id", "?"))
    return counts, failed


def clear_previous_artifacts(settings: Settings) -> None:
    """Remove what an earlier run left in the same folders, so this run's summary reads only its own."""
    for path in [settings.target_path / n for n in ARTIFACT_FILES] + [settings.log_path / LOG_FILE]:
        path.unlink(missing_ok=True)


def upload_artifacts(settings: Settings) -> str | None:
    """Put this run's artifacts under s3://BUCKET/PREFIX/RUN_ID/; the URI, or None if the upload failed."""
    if not settings.bucket:
        return None
    files = [settings.target_path / n for n in ARTIFACT_FILES] + [settings.log_path / LOG_FILE]
    key_prefix = artifacts_key_prefix(settings.prefix, settings.run_id)
    try:
        client = _s3_client()
        for path in (p for p in files if p.is_file()):
            content_type = "application/json" if path.suffix == ".json" else "text/plain"
            client.upload_file(
                str(path), settings.bucket, key_prefix + path.name, ExtraArgs={"ContentType": content_type}
            )
    except Exception as exc:  # boto3/botocore errors, network errors: logged, never fatal
        log_event(
            "artifacts_upload_failed",
            level="error",
            bucket=settings.bucket,
            prefix=key_prefix,
            error=str(exc),
        )
        return None
    log_event("artifacts_uploaded", uri=settings.artifacts_uri)
    return settings.artifacts_uri


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


def _s3_client() -> Any:
    import boto3  # here, not at the top: only a run that keeps artifacts needs it
    from botocore.config import Config

    s3_config = {"addressing_style": "path"} if os.environ.get("AWS_ENDPOINT_URL") else {}
    config = Config(
        connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 3}, s3=s3_config
    )
    return boto3.client("s3", config=config)


# --- the run -----------------------------------------------------------------------------------------


def execute(settings: Settings, env: Mapping[str, str], runner: DbtProcess) -> Outcome:
    """deps when needed, then the command; then read the results and keep the artifacts."""
    settings.target_path.mkdir(parents=True, exist_ok=True)
    settings.log_path.mkdir(parents=True, exist_ok=True)
    clear_previous_artifacts(settings)
    dbt_env = child_env(settings, env)
    code = 0
    if needs_deps(settings.project_dir):
        code = runner.run(dbt_invocation() + deps_args(settings), dbt_env)
    if code == 0:
        code = runner.run(dbt_invocation() + dbt_args(settings), dbt_env)
    counts, failed = read_results(settings.target_path, settings.command)
    log_event("dbt_finished", exit_code=code, target_path=str(settings.target_path))
    outcome = Outcome(
        exit_code=code, counts=counts, failed_nodes=failed, artifacts=upload_artifacts(settings)
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
    }
    return json.dumps(summary)


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
    try:
        settings = load_settings(env)
    except ConfigError as exc:
        log_event("config_error", level="error", error=str(exc))
        outcome = Outcome(exit_code=CONFIG_ERROR)
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
    line = summary_line(settings, outcome, time.monotonic() - started, env)
    if settings is not None:
        upload_summary(settings, json.loads(line))
    print(line, flush=True)
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
