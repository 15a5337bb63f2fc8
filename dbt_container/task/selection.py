"""The run's dbt selection: checked again here, passed so dbt can only read it as selectors, and the
selectors of ``DBT_SELECT`` that matched no node found in dbt's structured log.

The state machine's first state already refused anything that is not dbt node selection syntax
(``chalicelib/run/selectors.py``); this image may also be run by hand, so it re-checks the rule that
matters for safety: no selector may start with ``-`` (dbt would read ``--empty``, ``--full-refresh`` or
``--target`` as options), and only the characters dbt selectors use. Each selector is then passed as
its own ``--select=<selector>`` (``--exclude=<selector>``) argument, never as a bare token: even a
selector starting with ``-`` would reach dbt's selection, not its options.

dbt reports a selector that matched nothing as the warning ``NoNodesForSelectionCriteria``
(``{"data": {"spec_raw": "<selector>"}, "info": {"name": "NoNodesForSelectionCriteria", ...}}`` in the
JSON log file, ``--log-format-file json``; dbt-core ``graph/selector.py``). Only ``DBT_SELECT``'s
selectors count: an exclusion that matches nothing (a failed connection's source the project does not
read) is not a problem.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

NO_NODES_EVENT = "NoNodesForSelectionCriteria"
# What dbt selectors are made of: names, '.', '/', wildcards, graph operators (+, @, digits), method ':'
# and the intersection ','. No quotes, '=', '$', ';' or spaces.
_SELECTOR = re.compile(r"^[\w@+*?\[\].:/,-]+$")


class SelectionError(ValueError):
    """A DBT_SELECT/DBT_EXCLUDE value that is not a list of dbt selectors; the message says which token."""


def parse_selection(raw: str, name: str) -> list[str]:
    """The selectors of a DBT_SELECT/DBT_EXCLUDE value (split on whitespace), each checked.

    Raises ``SelectionError`` naming the variable and the token."""
    tokens = raw.split()
    for token in tokens:
        parts = token.split(",")
        if any(part.startswith("-") for part in parts):
            raise SelectionError(
                f"{name} holds {token!r}, which starts with '-': dbt would read it as an option, not a "
                "selector (dbt options come only through the run input's own fields)"
            )
        if not _SELECTOR.match(token) or not all(parts):
            raise SelectionError(f"{name} holds {token!r}, which is not a dbt selector")
    return tokens


def selection_args(option: str, selection: str) -> list[str]:
    """``--select=a --select=b``: each selector its own ``option=value`` argument (dbt unions them)."""
    return [f"{option}={token}" for token in selection.split()]


def unmatched_selectors(log_file: Path, selection: str) -> list[str]:
    """The selectors of ``selection`` that dbt said match no node, in the selection's order.

    Reads dbt's JSON log file; an unreadable file or line is ignored (nothing is claimed)."""
    wanted = selection.split()
    if not wanted:
        return []
    reported: set[str] = set()
    try:
        lines = log_file.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        if NO_NODES_EVENT not in line:
            continue
        try:
            event = json.loads(line)
            if event["info"]["name"] == NO_NODES_EVENT:
                reported.add(str(event["data"]["spec_raw"]))
        except (ValueError, KeyError, TypeError):
            continue
    return list(dict.fromkeys(token for token in wanted if token in reported))
