"""The dbt command lines of a run and dbt's environment: ``dbt deps`` when the project needs it, then the
run's command with its target, paths, selection and exclusions (dbt's arguments, without ``dbt``), and how
the dbt session that runs them is started: with this interpreter."""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path

from task.options import FULL_REFRESH_COMMANDS
from task.selection import selection_args
from task.settings import Settings

PACKAGE_FILES = ("packages.yml", "dependencies.yml")


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


def dbt_session_invocation(python: str | None = None) -> list[str]:
    """How to start the dbt session (``task/dbt_session.py``) with ``python`` (default: this interpreter),
    from any working directory: the task package's folder is put on ``sys.path`` first. Not run as a
    script: that would put ``task/`` itself first on ``sys.path``, and its modules (``events``,
    ``settings``, ``s3``...) would shadow any top-level module of the same name that dbt imports."""
    folder = str(Path(__file__).resolve().parent.parent)
    code = f"import sys; sys.path.insert(0, {folder!r}); from task.dbt_session import main; sys.exit(main())"
    return [python or sys.executable, "-c", code]


def dbt_args(settings: Settings, state: Path | None = None) -> list[str]:
    """The arguments after `dbt` for the run's command: every selector is its own ``--select=<selector>``
    (``--exclude=<selector>``) argument, so nothing in a selection can be read as a dbt option; dbt's
    log file is JSON lines (``--log-format-file json``), which the entrypoint reads for selectors that
    matched no node. ``DBT_VARS`` travels as one argument, ``--vars=<JSON>``, and ``--full-refresh`` is
    added to the commands that take it when ``DBT_FULL_REFRESH`` is true. ``state``: the folder of
    artifacts ``result:``/``state:`` selectors compare with
    (``--state``; a retry's: ``task/retry_state.py``)."""
    full_refresh = settings.full_refresh and settings.command in FULL_REFRESH_COMMANDS
    return [
        *settings.command.split(),
        *_common_args(settings),
        "--target",
        settings.target,
        "--log-format-file",
        "json",
        *_vars_args(settings),
        *(["--full-refresh"] if full_refresh else []),
        *selection_args("--select", settings.select),
        *selection_args("--exclude", settings.exclude),
        *(["--state", str(state)] if state is not None else []),
    ]


def freshness_args(settings: Settings) -> list[str]:
    """`dbt source freshness` of every source, before a build that selects by new data (sources.json)."""
    return [
        "source",
        "freshness",
        *_common_args(settings),
        "--target",
        settings.target,
        *_vars_args(settings),
    ]


def show_args(settings: Settings, query: str) -> list[str]:
    """`dbt show` of one inline query, every row (``--limit -1``), its result as JSON in dbt's JSON-lines
    log file (the ``ShowNode`` event): the row counts of selection by new data (``task/row_counts.py``)."""
    return [
        "show",
        "--inline",
        query,
        "--limit",
        "-1",
        "--output",
        "json",
        *_common_args(settings),
        "--target",
        settings.target,
        "--log-format-file",
        "json",
        *_vars_args(settings),
    ]


def _vars_args(settings: Settings) -> list[str]:
    """``--vars=<JSON>``: one argument, so nothing in a var can be read as another dbt option."""
    return [f"--vars={settings.vars}"] if settings.vars else []


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
