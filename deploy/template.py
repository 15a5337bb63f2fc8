"""The template and its parameters, pure: loading, inlining the definition, the body's size, and the
stack parameters (params file, ``--parameter``, the template's own checks) before anything runs."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from deploy.errors import DeployError
from infra.template import STATE_MACHINE_ID, TEMPLATE_PATH, load_template
from statemachine.definition import without_comments

__all__ = [
    "DEFINITION_PATH",
    "TEMPLATE_BODY_LIMIT",
    "TEMPLATE_PATH",
    "build_parameters",
    "definition_placeholders",
    "load_template",
    "missing_parameters",
    "parameter_errors",
    "parameter_value",
    "parse_overrides",
    "read_params_file",
    "region_of_arn",
    "render_template",
    "template_body",
    "to_cfn_parameters",
]

DEFINITION_PATH = Path(__file__).resolve().parent.parent / "statemachine" / "orchestrator.asl.json"
# CloudFormation accepts a TemplateBody of at most 51,200 bytes; the deploy sends the template from S3.
TEMPLATE_BODY_LIMIT = 51_200
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def definition_placeholders(definition_text: str) -> set[str]:
    """The ``${Name}`` placeholders of an ASL definition."""
    return set(PLACEHOLDER.findall(definition_text))


def render_template(template: Mapping[str, Any], definition_text: str) -> dict[str, Any]:
    """A copy of the template whose state machine ``Definition`` is the ASL document.

    The ASL goes in as a JSON object (``Definition``), not as ``DefinitionString``: CloudFormation applies
    DefinitionSubstitutions to both, and cfn-lint validates the object form (its states) without
    mistaking the ``${...}`` placeholders for an ``Fn::Sub`` that lost its function. Fails when the
    definition is not JSON, or when its placeholders and DefinitionSubstitutions differ (a placeholder
    nobody fills would reach AWS as literal text).
    """
    try:
        definition = json.loads(definition_text)
    except json.JSONDecodeError as exc:
        raise DeployError(f"the state machine definition is not valid JSON: {exc}") from exc
    rendered = copy.deepcopy(dict(template))
    properties = rendered["Resources"][STATE_MACHINE_ID]["Properties"]
    substitutions = set(properties.get("DefinitionSubstitutions", {}))
    placeholders = definition_placeholders(definition_text)
    if placeholders != substitutions:
        raise DeployError(
            "the definition's placeholders and DefinitionSubstitutions differ: "
            f"not substituted {sorted(placeholders - substitutions)}, "
            f"unused {sorted(substitutions - placeholders)}"
        )
    for key in ("DefinitionString", "DefinitionS3Location"):
        properties.pop(key, None)
    # Comments stay in the repository: the template must fit CloudFormation's inline body limit.
    properties["Definition"] = without_comments(definition)
    return rendered


def template_body(rendered: Mapping[str, Any]) -> str:
    """The rendered template as compact JSON. The deploy sends it through S3 (``deploy.bootstrap``:
    ``TemplateURL``, up to 1 MB), not inline (``TemplateBody``, at most ``TEMPLATE_BODY_LIMIT``)."""
    return json.dumps(rendered, separators=(",", ":"))


def parameter_value(value: Any) -> str:
    """A parameter value as CloudFormation wants it: lists comma-joined, objects as JSON, all strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def read_params_file(path: Path) -> dict[str, str]:
    """The stage's parameter file (a JSON object of parameter -> value); an absent file is empty."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DeployError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise DeployError(f"{path} must hold a JSON object of parameter names to values")
    return {str(k): parameter_value(v) for k, v in data.items()}


def parse_overrides(items: Iterable[str]) -> dict[str, str]:
    """``--parameter K=V`` values as a dict (the value may contain ``=``)."""
    overrides: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DeployError(f"--parameter expects KEY=VALUE, got {item!r}")
        overrides[key.strip()] = value
    return overrides


def build_parameters(
    template: Mapping[str, Any],
    *,
    app_name: str,
    stage: str,
    function_arns: Mapping[str, str],
    file_params: Mapping[str, str],
    overrides: Mapping[str, str],
) -> dict[str, str]:
    """The stack parameters, later sources winning: function ARNs, the params file, ``--parameter``.

    AppName and Stage always come from the command. Unknown names fail; so do invalid values
    (AllowedValues, AllowedPattern, MinValue/MaxValue) and required parameters nobody gave.
    """
    declared = template.get("Parameters", {})
    params: dict[str, str] = {**function_arns, **file_params, **overrides}
    for fixed in ("AppName", "Stage"):
        if fixed in file_params or fixed in overrides:
            raise DeployError(
                f"{fixed} comes from the command line (--stage) and the app name; do not set it"
            )
    params["AppName"] = app_name
    params["Stage"] = stage
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise DeployError(f"unknown stack parameter(s): {', '.join(unknown)} (see infra/template.yaml)")
    errors = [*parameter_errors(declared, params), *missing_parameters(declared, params)]
    if errors:
        raise DeployError("invalid stack parameters:\n  " + "\n  ".join(errors))
    return params


def missing_parameters(declared: Mapping[str, Any], params: Mapping[str, str]) -> list[str]:
    """Required parameters (no Default) that were not given."""
    return [
        f"{name} is required ({spec.get('Description', '').strip()})"
        for name, spec in declared.items()
        if "Default" not in spec and name not in params
    ]


def parameter_errors(declared: Mapping[str, Any], params: Mapping[str, str]) -> list[str]:
    """Values CloudFormation would reject, checked locally so a deploy fails before it starts."""
    errors = []
    for name, value in params.items():
        spec = declared.get(name, {})
        allowed = spec.get("AllowedValues")
        if allowed is not None and value not in {parameter_value(v) for v in allowed}:
            errors.append(f"{name}={value!r} is not one of {[parameter_value(v) for v in allowed]}")
        pattern = spec.get("AllowedPattern")
        if pattern is not None and not re.fullmatch(pattern, value):
            errors.append(f"{name}={value!r} does not match {pattern}")
        if spec.get("Type") == "Number":
            errors.extend(_number_errors(name, value, spec))
    return errors


def _number_errors(name: str, value: str, spec: Mapping[str, Any]) -> list[str]:
    try:
        number = float(value)
    except ValueError:
        return [f"{name}={value!r} is not a number"]
    if "MinValue" in spec and number < float(spec["MinValue"]):
        return [f"{name}={value} is below the minimum {spec['MinValue']}"]
    if "MaxValue" in spec and number > float(spec["MaxValue"]):
        return [f"{name}={value} is above the maximum {spec['MaxValue']}"]
    return []


def region_of_arn(arn: str) -> str:
    """The region field of an ARN (``arn:partition:service:region:account:...``)."""
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 else ""


def to_cfn_parameters(params: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(params.items())]
