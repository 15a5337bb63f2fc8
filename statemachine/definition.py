"""Render ``orchestrator.asl.json``: fill its ``${Placeholders}`` exactly as CloudFormation's
``DefinitionSubstitutions`` does, so the file deployed and the file run locally are the same."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["ASL_PATH", "load_text", "placeholders", "render"]

ASL_PATH = Path(__file__).with_name("orchestrator.asl.json")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def load_text(path: Path = ASL_PATH) -> str:
    return path.read_text(encoding="utf-8")


def placeholders(text: str | None = None) -> set[str]:
    return set(_PLACEHOLDER.findall(load_text() if text is None else text))


def render(substitutions: Mapping[str, Any], text: str | None = None) -> str:
    """The definition with every placeholder replaced; missing or unknown keys are an error."""
    text = load_text() if text is None else text
    wanted = placeholders(text)
    missing = sorted(wanted - set(substitutions))
    unknown = sorted(set(substitutions) - wanted)
    if missing or unknown:
        raise KeyError(f"substitutions: missing {missing}, unknown {unknown}")
    rendered = _PLACEHOLDER.sub(lambda m: str(substitutions[m.group(1)]), text)
    json.loads(rendered)  # still valid JSON (values are spliced inside strings)
    return rendered
