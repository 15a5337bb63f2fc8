"""The dbt sources a project declares, read from its YAML before dbt starts: what the run's source-naming
check and its exclusions need, at the start of the run and without a warehouse.

``project_sources(project_dir)`` reads every ``*.yml``/``*.yaml`` file under the project's
``model-paths`` (dbt_project.yml; default ``models``) and under each package installed in its
``packages-install-path`` (default ``dbt_packages``; the image installs packages at build time), and
returns one ``DbtSource`` per ``sources:`` entry: its name and the connection id its
``meta.fivetran_connection`` (or ``config.meta.fivetran_connection``) names. A file that is not YAML (Jinja
outside quotes) is skipped and named in ``unreadable``, never fatal. PyYAML (a dependency of dbt-core) is
imported when a project is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from task.source_contract import META_KEY, DbtSource

YAML_SUFFIXES = (".yml", ".yaml")


@dataclass(frozen=True)
class ProjectSources:
    """The sources found (sorted by name, once each) and the YAML files that could not be read."""

    sources: list[DbtSource]
    unreadable: list[str] = field(default_factory=list)


def project_sources(project_dir: Path) -> ProjectSources:
    """The sources of ``project_dir`` and of the packages installed in it."""
    import yaml

    found: dict[str, DbtSource] = {}
    unreadable: list[str] = []
    settings = _load(project_dir / "dbt_project.yml", yaml) or {}
    roots = [project_dir / p for p in _model_paths(settings)]
    packages = project_dir / str(settings.get("packages-install-path") or "dbt_packages")
    if packages.is_dir():
        for package in sorted(p for p in packages.iterdir() if (p / "dbt_project.yml").is_file()):
            roots += [package / p for p in _model_paths(_load(package / "dbt_project.yml", yaml) or {})]
    for root in roots:
        for path in sorted(root.rglob("*")) if root.is_dir() else []:
            if path.suffix not in YAML_SUFFIXES or not path.is_file():
                continue
            try:
                document = _load(path, yaml)
            except (yaml.YAMLError, UnicodeDecodeError):
                unreadable.append(str(path))
                continue
            for source in _sources(document):
                if source.name not in found or source.connection:
                    found[source.name] = source
    return ProjectSources(sorted(found.values(), key=lambda s: s.name), unreadable)


def _load(path: Path, yaml: Any) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None


def _model_paths(settings: dict[str, Any]) -> list[str]:
    paths = settings.get("model-paths") or settings.get("source-paths") or ["models"]
    return [str(p) for p in paths] if isinstance(paths, list) else ["models"]


def _sources(document: Any) -> list[DbtSource]:
    entries = document.get("sources") if isinstance(document, dict) else None
    found = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        meta = {**_mapping(entry.get("meta")), **_mapping(_mapping(entry.get("config")).get("meta"))}
        connection = meta.get(META_KEY)
        found.append(DbtSource(entry["name"], str(connection) if connection else None))
    return found


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
