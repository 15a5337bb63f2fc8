"""Patch ``asl_parse_cache``: a state machine definition is lexed and parsed once, not at every execution.

Speed only, no AWS fact to restore. moto's interpreter runs ANTLR over the whole definition when the
state machine is created and again when each execution starts (~0.3 s of CPU each for
``statemachine/orchestrator.asl.json``): every local runtime paid it twice, a run of several executions
once more each. The parse tree is kept by definition text; each caller still gets its own program
(moto's evaluation components, built from the tree by a new ``Preprocessor``), so no execution shares
state with another.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["MAX_DEFINITIONS", "parse_trees_kept", "patch_asl_parse_cache", "repeatable_ids"]

# Definitions whose parse trees are kept (a process sees a handful: the orchestrator's, a test's own).
MAX_DEFINITIONS = 32

_trees: dict[str, Any] = {}
_lock = threading.Lock()


def parse_trees_kept() -> int:
    """How many definitions' parse trees the cache holds."""
    with _lock:
        return len(_trees)


def patch_asl_parse_cache() -> None:
    """Wraps ``AmazonStateLanguageParser.parse`` (whatever wraps it already stays in the path of a first
    parse). A definition that fails to parse is not kept: it fails again, with moto's own error."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    original = AmazonStateLanguageParser.parse

    def parse(definition: str) -> tuple[Any, Any]:
        with _lock:
            tree = _trees.get(definition)
        if tree is not None:
            return Preprocessor().visit(tree), tree
        program, tree = original(definition)
        with _lock:
            if len(_trees) >= MAX_DEFINITIONS:
                _trees.pop(next(iter(_trees)))
            _trees[definition] = tree
        return program, tree

    AmazonStateLanguageParser.parse = staticmethod(parse)  # type: ignore[method-assign]


@contextlib.contextmanager
def repeatable_ids(seed: str) -> Iterator[None]:
    """moto's resource ids drawn inside the block come from ``seed`` (moto's own seedable source of
    randomness), then its sequence goes on where it was. A local stack's definition names its default
    subnets and security group: drawn here, they are the same in every fresh moto account, so the
    definition's text, and its kept parse tree, are too (one ANTLR parse, ~0.3 s of CPU, less per local
    runtime or test stack). Ids stay unique within an account as long as the seed names what the
    account already holds (``local.provision`` counts its security groups)."""
    from moto.moto_api._internal import mock_random

    state = mock_random.getstate()
    mock_random.seed(seed)
    try:
        yield
    finally:
        mock_random.setstate(state)
