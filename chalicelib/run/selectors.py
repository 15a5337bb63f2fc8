"""dbt node selection syntax: what ``dbt.select`` and ``dbt.exclude`` may hold, and nothing else.

A selection is a space-separated union of selectors; a selector is a comma-separated intersection of
criteria (dbt docs, "Set operators"). A criterion is ``[@][N+][method[.arg]:]value[+[N]]``:

- graph operators (dbt docs, "Graph operators"): ``+`` before (ancestors) and after (descendants),
  each with an optional depth ``N``; ``@`` before (descendants and their ancestors), never together
  with a ``+`` before (dbt refuses that);
- methods (dbt docs, "Node selector methods"; dbt-core 1.11 ``MethodName``): ``METHODS``; ``config``
  takes the config key as its argument (``config.materialized:view``), no other method takes one;
  without a method dbt picks ``path``, ``file`` or ``fqn`` from the value;
- values: dbt names, dotted fqn parts, paths with ``/``, and Unix-style wildcards (``*``, ``?``,
  ``[abc]``, ``[a-z]``); never starting with ``-``.

No token may start with ``-``: dbt would read it as an option (``--empty`` rebuilt a model with no rows,
issue 28), so options reach dbt only through the run input's own fields. Quotes, ``=``, ``$``, ``;``
and other shell or option characters are refused too: no dbt selector needs them.

Errors: ``InvalidSelection`` (a ``ValueError``) with the offending token and why; callers name the field.
"""

from __future__ import annotations

import re

__all__ = ["METHODS", "InvalidSelection", "selection_tokens", "validate_selection"]

METHODS = (
    "fqn",
    "tag",
    "group",
    "access",
    "source",
    "path",
    "file",
    "package",
    "config",
    "test_name",
    "test_type",
    "resource_type",
    "state",
    "exposure",
    "metric",
    "result",
    "source_status",
    "version",
    "semantic_model",
    "saved_query",
    "unit_test",
)
# A value: word characters (Unicode letters, digits, _), dots, slashes, dashes (not first), wildcards.
_VALUE = re.compile(r"^[\w*?\[\]][\w.*?\[\]/-]*$")
_CRITERION = re.compile(
    r"^(?P<at>@)?(?P<parents>\d*\+)?"
    r"(?:(?P<method>[A-Za-z_]+)(?P<args>(?:\.[\w-]+)*):)?"
    r"(?P<value>.*?)"
    r"(?P<children>\+\d*)?$"
)


class InvalidSelection(ValueError):
    """Text that is not dbt node selection syntax; the message names the token and the rule."""


def selection_tokens(selection: str) -> list[str]:
    """The selection's selectors (its union's members), in order: split on any whitespace."""
    return selection.split()


def validate_selection(selection: str) -> list[str]:
    """Check a whole ``--select``/``--exclude`` value; returns its selectors (``selection_tokens``).

    Raises ``InvalidSelection`` for the first selector that is not dbt selection syntax.
    """
    tokens = selection_tokens(selection)
    for token in tokens:
        _check_selector(token)
    return tokens


def _check_selector(token: str) -> None:
    if token.startswith("-"):
        raise InvalidSelection(
            f"{token!r} starts with '-': dbt would read it as an option, not a selector "
            "(dbt options come only through the run input's own fields)"
        )
    for criterion in token.split(","):
        if not criterion:
            raise InvalidSelection(
                f"{token!r} has an empty part around ',' (an intersection needs a selector on both sides)"
            )
        _check_criterion(criterion, token)


def _check_criterion(criterion: str, token: str) -> None:
    where = f"{criterion!r}" if criterion == token else f"{criterion!r} (in {token!r})"
    found = _CRITERION.match(criterion)
    if found is None:  # pragma: no cover - the pattern matches any text; kept for the type checker
        raise InvalidSelection(f"{where} is not a dbt selector")
    if found["at"] and found["parents"]:
        raise InvalidSelection(
            f"{where}: '@' and a '+' before the selector cannot be combined (dbt refuses it)"
        )
    method, args, value = found["method"], found["args"], found["value"]
    if method is not None:
        if method not in METHODS:
            raise InvalidSelection(
                f"{where}: {method!r} is not a dbt selector method (one of {', '.join(METHODS)})"
            )
        if method == "config" and not args:
            raise InvalidSelection(
                f"{where}: the config method names a config key, e.g. config.materialized:view"
            )
        if method != "config" and args:
            raise InvalidSelection(
                f"{where}: only the config method takes a '.key' ({method}{args}: is not one)"
            )
    if not value:
        raise InvalidSelection(
            f"{where} has no value to select (e.g. a model name, tag:nightly, source:stripe+)"
        )
    if not _VALUE.match(value):
        raise InvalidSelection(
            f"{where}: {value!r} is not a selector value (names, '.', '/', '-' after the first character, "
            "and the wildcards * ? [ ] only)"
        )
