"""Read resource definitions from ``infra/template.yaml``, the one source of truth.

The token table's key schema is defined once, in the template; tests and the local
runtime create their tables from it rather than repeating it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

__all__ = ["TEMPLATE_PATH", "load_template", "token_table_spec"]

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "infra" / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that keeps CloudFormation short tags (!Ref, !Sub, ...) as plain data."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


@lru_cache(maxsize=4)
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass  # nosec B506


def token_table_spec(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """``KeySchema`` and ``AttributeDefinitions`` of the ``TokenTable`` resource."""
    props = load_template(path)["Resources"]["TokenTable"]["Properties"]
    return {"KeySchema": props["KeySchema"], "AttributeDefinitions": props["AttributeDefinitions"]}
