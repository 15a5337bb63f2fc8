"""Builds the task's dbt project folder from a dbt project that lives anywhere: what the image build runs.

    python stage_project.py SOURCE DEST [--profile-template FILE] [--no-deps]

Copies SOURCE (a folder with dbt_project.yml) to DEST without what dbt writes (target/, logs/,
dbt_packages/) or version control; when SOURCE brings no profiles.yml, writes the orchestrator-managed
one (FILE, default project/profiles.yml beside this script) under the project's ``profile:`` name, so
the warehouse secret's keys reach dbt through ``env_var`` and are checked at task start; then runs
``dbt deps`` with this interpreter when the project declares packages (the task's project folder is
read-only at run time, so packages are installed here, once). The image build runs it in its build stage;
``python -m local demo --dbt-project PATH`` and the tests run it the same way.

Exit codes: 0 done; 2 SOURCE is not a dbt project or DEST exists and is not empty; dbt deps' own code when
it fails. Standard library only, plus PyYAML (a dependency of dbt-core).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

PACKAGE_FILES = ("packages.yml", "dependencies.yml")
# What dbt writes (target/, logs/, dbt_packages/), version control and local environments: never staged.
SKIPPED = shutil.ignore_patterns(
    "target", "logs", "dbt_packages", ".git", ".venv*", "__pycache__", ".user.yml"
)
DEFAULT_TEMPLATE = Path(__file__).resolve().parent / "project" / "profiles.yml"
TEMPLATE_PROFILE = "orchestrator"


class StageError(Exception):
    """SOURCE cannot become the task's project; the message says why."""


def profile_name(project_dir: Path) -> str:
    """The ``profile:`` of the project's dbt_project.yml (dbt defaults it to ``default`` when absent)."""
    project = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8")) or {}
    return str(project.get("profile") or "default")


def managed_profile(template: str, profile: str) -> str:
    """The template's text with its one top-level profile renamed to ``profile``."""
    prefix = f"{TEMPLATE_PROFILE}:"
    lines = [f"{profile}:" if line.rstrip() == prefix else line for line in template.splitlines()]
    if f"{profile}:" not in lines:
        raise StageError(f"the profile template has no top-level '{prefix}' line")
    return "\n".join(lines) + "\n"


def stage(source: Path, dest: Path, template: Path = DEFAULT_TEMPLATE) -> bool:
    """Copy the project and give it a profile; True when it declares packages (dbt deps must run)."""
    if not (source / "dbt_project.yml").is_file():
        raise StageError(f"no dbt_project.yml in {source}: not a dbt project")
    if dest.exists() and any(dest.iterdir()):
        raise StageError(f"{dest} exists and is not empty")
    shutil.copytree(source, dest, ignore=SKIPPED, dirs_exist_ok=True)
    if not (dest / "profiles.yml").is_file():
        text = managed_profile(template.read_text(encoding="utf-8"), profile_name(dest))
        (dest / "profiles.yml").write_text(text, encoding="utf-8")
    return any((dest / name).is_file() for name in PACKAGE_FILES)


def install_packages(dest: Path) -> int:
    """``dbt deps`` in the staged project with this interpreter's dbt; dbt's exit code."""
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    command = [sys.executable, "-c", "from dbt.cli.main import cli; cli(prog_name='dbt')", "deps"]
    command += ["--project-dir", str(dest), "--profiles-dir", str(dest)]
    return subprocess.run(command, env=env, check=False).returncode  # noqa: S603 - dbt, no shell


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stage_project.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="the dbt project's folder (holds dbt_project.yml)")
    parser.add_argument("dest", type=Path, help="the task's project folder to create")
    parser.add_argument("--profile-template", type=Path, default=DEFAULT_TEMPLATE)
    parser.add_argument("--no-deps", action="store_true", help="do not run dbt deps")
    args = parser.parse_args(argv)
    try:
        has_packages = stage(args.source.resolve(), args.dest.resolve(), args.profile_template)
    except StageError as exc:
        print(f"stage_project: {exc}", file=sys.stderr)
        return 2
    if has_packages and not args.no_deps:
        return install_packages(args.dest.resolve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
