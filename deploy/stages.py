"""The stages a deploy knows, and the app name that prefixes every resource of one."""

from __future__ import annotations

from pathlib import Path

from infra.outputs import DEFAULT_APP_NAME, read_json

__all__ = ["REPO_ROOT", "STAGES", "app_name_of"]

REPO_ROOT = Path(__file__).resolve().parent.parent
STAGES = ("dev", "prod")


def app_name_of(project_dir: Path) -> str:
    """The Chalice app name (.chalice/config.json ``app_name``), which prefixes every resource name."""
    config = project_dir / ".chalice" / "config.json"
    if config.exists():
        return str(read_json(config).get("app_name", DEFAULT_APP_NAME))
    return DEFAULT_APP_NAME
