"""Patch ``jsonpath_parse_cache``: a JSONPath is parsed once, not at every use.

Speed only, no AWS fact to restore: re-parsed at each use, 2,500 Distributed Map children took
minutes.
"""

from __future__ import annotations

__all__ = ["patch_jsonpath_parse_cache"]


def patch_jsonpath_parse_cache() -> None:
    """moto parses every JSONPath again at each use, and jsonpath_ng rebuilds its ply parser each
    time (~10 ms): an ItemSelector of 3 paths cost ~30 ms a child, 2,500 children over a minute.
    Parsed expressions are not mutated by ``find``/``update``, so they are cached by path."""
    import functools

    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    json_path.parse = functools.lru_cache(maxsize=4096)(json_path.parse)
    result_path.parse = functools.lru_cache(maxsize=4096)(result_path.parse)
