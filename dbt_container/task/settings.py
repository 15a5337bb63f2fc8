"""The run's settings: read from the environment the ECS task's container overrides set, and checked.

Owns ``Settings`` (everything one run needs), ``ConfigError`` (a setting the entrypoint cannot run with:
exit ``CONFIG_ERROR``; a ``DBT_SELECT``/``DBT_EXCLUDE`` token that is not a dbt selector is one),
``WarehouseKeysMissing`` (the managed profile's target lacks warehouse secret keys: exit 78), the
allowed dbt commands, the exclusions built from failed connections
(``DBT_EXCLUDE_SOURCES`` and the S3 object ``DBT_EXCLUDE_SOURCES_URI`` names) and the S3 key layout of a
run's artifacts.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from task.options import OptionError, Step, check_steps_beside, parse_full_refresh, parse_steps, parse_vars
from task.options import steps_command as _steps_command
from task.s3 import s3_client
from task.selection import SelectionError, parse_selection
from task.warehouses import WAREHOUSE_CONFIG_ERROR, WAREHOUSE_KEYS, is_managed_profile, missing_keys

ALLOWED_COMMANDS = ("build", "run", "test", "seed", "snapshot", "source freshness")
SNOWFLAKE_REQUIRED = WAREHOUSE_KEYS["snowflake"][0]
CONFIG_ERROR = 2
DEFAULT_STOP_GRACE_S = 20.0
MODES = ("new_data", "all")  # DBT_MODE: build only what new data touched, or everything
# A connection's schema as Fivetran names it: a plain identifier, or schema.table for the connections that
# land one table (Google Sheets, files); dbt selects the latter's table as source:<schema>.<table>.
_SOURCE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_UNSAFE_KEY_CHARS = re.compile(r"[^A-Za-z0-9._:=@-]+")
BUNDLED_PROJECT = Path(__file__).resolve().parents[1] / "project"  # project/ beside entrypoint.py


class ConfigError(ValueError):
    """A setting the entrypoint cannot run with; the message says which and why. Exit ``exit_code``."""

    exit_code = CONFIG_ERROR


class WarehouseKeysMissing(ConfigError):
    """The warehouse secret lacks keys the target's profile reads: exit 78 (EX_CONFIG), dbt not started."""

    exit_code = WAREHOUSE_CONFIG_ERROR


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
    mode: str = "all"  # DBT_MODE; new_data applies to build and run without an explicit DBT_SELECT
    excluded_sources: tuple[str, ...] = ()  # the failed connections' schemas (DBT_EXCLUDE_SOURCES[_URI])
    vars: str = ""  # DBT_VARS as compact JSON: --vars=<JSON> on every dbt command but deps
    full_refresh: bool = False  # DBT_FULL_REFRESH: --full-refresh on build, run and seed
    steps: tuple[Step, ...] = ()  # DBT_STEPS, in order; () runs the one command (task/options.py)

    @property
    def selects_new_data(self) -> bool:
        """Whether this run chooses its nodes by new data (task/new_data.py): DBT_MODE=new_data, the
        command builds (build or run), and no explicit DBT_SELECT (an explicit selection wins)."""
        return self.mode == "new_data" and self.command in ("build", "run") and not self.select

    @property
    def artifacts_uri(self) -> str | None:
        return f"s3://{self.bucket}/{artifacts_key_prefix(self.prefix, self.run_id)}" if self.bucket else None


def load_settings(env: Mapping[str, str]) -> Settings:
    """Read and check the run's settings; raises ConfigError with a message a person can act on."""
    project_dir = Path(env.get("DBT_PROJECT_DIR") or BUNDLED_PROJECT).resolve()
    run_id = env.get("RUN_ID") or default_run_id()
    target = env.get("DBT_TARGET") or "snowflake"
    if target == "duckdb" and not env.get("DUCKDB_PATH"):
        raise ConfigError("DBT_TARGET=duckdb needs DUCKDB_PATH (the DuckDB file to build in)")
    if not (project_dir / "dbt_project.yml").is_file():
        raise ConfigError(f"no dbt_project.yml in DBT_PROJECT_DIR={project_dir}")
    profiles_dir = Path(env.get("DBT_PROFILES_DIR") or project_dir).resolve()
    if is_managed_profile(profiles_dir):
        _require_warehouse_keys(target, env)
    scratch_dir = Path(tempfile.gettempdir()) / "orchestrator-dbt" / safe_run_id(run_id)
    target_path = _absolute(env.get("DBT_TARGET_PATH"), project_dir) or scratch_dir / "target"
    try:
        select = parse_selection(env.get("DBT_SELECT", ""), "DBT_SELECT")
        exclude = parse_selection(env.get("DBT_EXCLUDE", ""), "DBT_EXCLUDE")
        steps = parse_steps(env.get("DBT_STEPS"), ALLOWED_COMMANDS)
        check_steps_beside(steps, env.get("DBT_COMMAND", ""), env.get("DBT_SELECT", ""))
        dbt_vars = parse_vars(env.get("DBT_VARS"))
        full_refresh = parse_full_refresh(env.get("DBT_FULL_REFRESH"))
    except (SelectionError, OptionError) as exc:
        raise ConfigError(str(exc)) from None
    excluded_sources = parse_exclude_sources(env.get("DBT_EXCLUDE_SOURCES")) + parse_exclude_sources(
        read_exclude_sources_uri(env.get("DBT_EXCLUDE_SOURCES_URI")), "DBT_EXCLUDE_SOURCES_URI's file"
    )
    mode = parse_mode(env.get("DBT_MODE", ""))
    if full_refresh and mode == "new_data":
        raise ConfigError(
            "DBT_FULL_REFRESH=true rebuilds everything selected and DBT_MODE=new_data only what new data "
            "changed: use DBT_MODE=all with a full refresh"
        )
    return Settings(
        command=_steps_command(steps) if steps else parse_command(env.get("DBT_COMMAND", "")),
        select=" ".join(select),
        exclude=build_exclude(" ".join(exclude), excluded_sources),
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
        mode=mode,
        vars=dbt_vars,
        full_refresh=full_refresh,
        steps=steps,
        excluded_sources=tuple(dict.fromkeys(excluded_sources)),
    )


def parse_mode(raw: str) -> str:
    """DBT_MODE: new_data or all (the default when unset, so a manual run builds as it always did)."""
    mode = raw.strip() or "all"
    if mode not in MODES:
        raise ConfigError(f"DBT_MODE={raw!r} is not allowed; use new_data or all")
    return mode


def default_run_id() -> str:
    """A manual run's id: manual-<utc time>."""
    return f"manual-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"


def _require_warehouse_keys(target: str, env: Mapping[str, str]) -> None:
    """The managed profile's target reads these; name the missing ones (never their values)."""
    missing = missing_keys(target, env)
    if missing:
        raise WarehouseKeysMissing(
            f"DBT_TARGET={target} needs {', '.join(missing)} (keys of the warehouse secret, which the task "
            "definition injects); locally, use DBT_TARGET=duckdb"
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
        body = s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
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
