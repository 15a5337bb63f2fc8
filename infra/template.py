"""``infra/template.yaml`` as data: the one CloudFormation YAML loader, and the facts read from it.

- ``load_template``: the template as a dict, short tags (``!Ref``, ``!Sub``, ``!GetAtt A.B``...) in their
  long JSON form (``{"Ref": ...}``, ``{"Fn::Sub": ...}``), so it can be sent to CloudFormation as JSON.
- ``token_table_spec``: the ``TokenTable``'s key schema (tests and the local runtime create their
  tables from it rather than repeating it).
- ``parameter_defaults``: every parameter's ``Default`` (the run defaults in ``chalicelib/run/run_input.py``
  and the local runtime's values are tested against these).
- ``FUNCTION_PARAMETERS``: which template parameter takes which Chalice function's ARN;
  ``ROLE_PARAMETERS``: which takes which function's role name.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from infra import InfraError

__all__ = [
    "FUNCTION_PARAMETERS",
    "ROLE_PARAMETERS",
    "STATE_MACHINE_ID",
    "TEMPLATE_PATH",
    "CfnLoader",
    "load_template",
    "parameter_defaults",
    "token_table_spec",
]

TEMPLATE_PATH = Path(__file__).resolve().parent / "template.yaml"
STATE_MACHINE_ID = "StateMachine"
# Template parameter -> Chalice function name (its ARN is read from .chalice/deployed/<stage>.json).
FUNCTION_PARAMETERS = {
    "ListConnectorsFunctionArn": "list_connectors",
    "StartSyncFunctionArn": "start_sync",
    "CollectOutcomesFunctionArn": "collect_outcomes",
    "TransformLeaseFunctionArn": "transform_lease",
    "NotifyRunFunctionArn": "notify_run",
}
# Template parameter -> Chalice function whose role (Chalice makes one per function) the stack grants the
# run files that function reads or writes (infra/policies.py; chalicelib/platform/aws_calls.py).
ROLE_PARAMETERS = {
    "ListConnectorsRoleName": "list_connectors",
    "CollectOutcomesRoleName": "collect_outcomes",
    "NotifyRunRoleName": "notify_run",
}
_SHORT_TAG_FUNCTIONS = {"Ref": "Ref", "Condition": "Condition"}


if TYPE_CHECKING:
    _SafeLoader = yaml.SafeLoader
else:  # libyaml's parser, which PyYAML's wheels bundle (the same documents, about 5 times faster), if built
    _SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CfnLoader(_SafeLoader):
    """A YAML loader that reads CloudFormation short tags into their long JSON form."""


def _construct_intrinsic(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = _SHORT_TAG_FUNCTIONS.get(tag_suffix, f"Fn::{tag_suffix}")
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            resource, _, attribute = str(value).partition(".")
            value = [resource, attribute]
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as a new dict (the caller may change it); ``InfraError`` if it is not a template."""
    return copy.deepcopy(_shared(path))


def _shared(path: Path) -> dict[str, Any]:
    """The parsed template as it is now, one dict shared by every caller: only for readers."""
    stat = path.stat()
    return _parsed(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _parsed(path: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    """The file as it was at ``mtime_ns`` and ``size``, parsed once (every local run and many tests read
    the template; a changed file is parsed again)."""
    template = yaml.load(path.read_text(encoding="utf-8"), Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass  # nosec B506
    if not isinstance(template, dict) or "Resources" not in template:
        raise InfraError(f"{path} is not a CloudFormation template")
    return template


def token_table_spec(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """``KeySchema`` and ``AttributeDefinitions`` of the ``TokenTable`` resource."""
    props = _shared(path)["Resources"]["TokenTable"]["Properties"]
    return {"KeySchema": props["KeySchema"], "AttributeDefinitions": props["AttributeDefinitions"]}


def parameter_defaults(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """Each parameter that has a ``Default``, with it (as YAML typed it: ``900``, ``"30, 120"``...)."""
    declared = _shared(path).get("Parameters", {})
    return {name: spec["Default"] for name, spec in declared.items() if "Default" in spec}
