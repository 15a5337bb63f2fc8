"""Render ``orchestrator.asl.json``: fill its ``${Placeholders}`` exactly as CloudFormation's
``DefinitionSubstitutions`` does, so the file deployed and the file run locally are the same."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["ASL_PATH", "OUTCOME_STATES", "load_text", "placeholders", "render", "without_comments"]

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


def without_comments(definition: Any) -> Any:
    """The definition without its ``Comment`` fields (documentation for readers of this repository):
    what the deploy embeds, so the template stays under CloudFormation's 51,200-byte inline body."""
    if isinstance(definition, dict):
        return {k: without_comments(v) for k, v in definition.items() if k != "Comment"}
    if isinstance(definition, list):
        return [without_comments(v) for v in definition]
    return definition


def _outcome_states() -> frozenset[str]:
    """The states that record one connection's outcome: the sync Map's final ``Record*`` states."""
    states = json.loads(load_text())["States"]
    found: set[str] = set()
    for state in states.values():
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if state.get("Type") == "Map" and processor:
            found.update(
                name
                for name, inner in processor["States"].items()
                if name.startswith("Record") and inner.get("End") is True
            )
    return frozenset(found)


# Operator views and the local report read a connection's outcome from these states' output.
OUTCOME_STATES = _outcome_states()
