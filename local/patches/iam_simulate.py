"""``iam:SimulatePrincipalPolicy`` for moto, which does not implement it (moto 5.2.6 answers
``NotImplemented``): ``orchestrator doctor`` and the deploy's preflight ask AWS's evaluator whether a
role or user may make each call, and their tests run against a stage deployed on moto.

AWS facts restored (IAM API reference, SimulatePrincipalPolicy; IAM policy evaluation logic): the
principal's identity policies (inline and attached managed policies) are evaluated for each action
and resource ARN given (``*`` when none); an explicit ``Deny`` wins (``explicitDeny``), else a matching
``Allow`` (``allowed``), else ``implicitDeny``. Action names match case-insensitively with ``*``/``?``
wildcards, resource ARNs case-sensitively; ``NotAction``/``NotResource`` are honoured. Conditions are
evaluated against the ``ContextEntries`` given: ``String*``, ``Arn*`` and ``Bool`` operators, their
``IfExists`` forms and ``ForAnyValue:``/``ForAllValues:`` prefixes; a key missing from the context makes
the condition false (true for ``...IfExists``), as AWS's simulator does. Not modelled: resource
policies, permission boundaries, SCPs, session policies, groups' policies, policy variables.

``evaluate`` is the evaluator itself (pure), so tests can check a policy file the same way
(``deploy/deployer-policy.json``).
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import unquote

__all__ = ["evaluate", "patch_simulate_principal_policy"]

Context = Mapping[str, Sequence[str]]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _matches_action(patterns: Any, action: str) -> bool:
    return any(fnmatchcase(action.lower(), str(p).lower()) for p in _listed(patterns))


def _matches_resource(patterns: Any, resource: str) -> bool:
    return any(fnmatchcase(resource, str(p)) for p in _listed(patterns))


def _compare(operator: str, expected: str, actual: str) -> bool:
    base = operator.removesuffix("IfExists")
    if base in {"StringEquals", "ArnEquals"}:
        return actual == expected
    if base == "StringEqualsIgnoreCase":
        return actual.lower() == expected.lower()
    if base in {"StringLike", "ArnLike"}:
        return fnmatchcase(actual, expected)
    if base == "Bool":
        return actual.lower() == expected.lower()
    raise KeyError(operator)


def _condition_holds(operator: str, key: str, expected: Any, context: Context) -> bool:
    qualifier, _, name = operator.rpartition(":")
    negated = "Not" in name
    positive = name.replace("Not", "", 1) if negated else name
    actual = [str(v) for v in context.get(key, context.get(key.lower(), []))]
    if not actual:
        return name.endswith("IfExists")
    try:
        hits = [any(_compare(positive, str(e), a) for e in _listed(expected)) for a in actual]
    except KeyError:
        return False  # an operator this model does not know: never grant on it
    matched = all(hits) if qualifier == "ForAllValues" else any(hits)
    return not matched if negated else matched


def _conditions_hold(conditions: Mapping[str, Mapping[str, Any]], context: Context) -> bool:
    return all(
        _condition_holds(operator, key, expected, context)
        for operator, pairs in conditions.items()
        for key, expected in pairs.items()
    )


def _applies(statement: Mapping[str, Any], action: str, resource: str, context: Context) -> bool:
    if "Action" in statement and not _matches_action(statement["Action"], action):
        return False
    if "NotAction" in statement and _matches_action(statement["NotAction"], action):
        return False
    if "Resource" in statement and not _matches_resource(statement["Resource"], resource):
        return False
    if "NotResource" in statement and _matches_resource(statement["NotResource"], resource):
        return False
    return _conditions_hold(statement.get("Condition", {}), context)


def evaluate(
    documents: Iterable[Mapping[str, Any]], action: str, resource: str = "*", context: Context | None = None
) -> str:
    """``allowed``, ``explicitDeny`` or ``implicitDeny`` for one action on one resource ARN under these
    identity policy documents (each ``{"Statement": [...]}`` or a single statement object)."""
    allowed = False
    for document in documents:
        for statement in _listed(document.get("Statement", [])):
            if not _applies(statement, action, resource, context or {}):
                continue
            if statement.get("Effect") == "Deny":
                return "explicitDeny"
            allowed = allowed or statement.get("Effect") == "Allow"
    return "allowed" if allowed else "implicitDeny"


def _document(raw: Any) -> dict[str, Any]:
    """A stored policy document: a dict, JSON (maybe URL-encoded), or the Python ``repr`` that moto's
    CloudFormation stores for a role's inline ``Policies``."""
    if isinstance(raw, dict):
        return raw
    text = str(raw)
    for parse in (json.loads, lambda t: json.loads(unquote(t)), ast.literal_eval):
        try:
            return dict(parse(text))
        except (ValueError, SyntaxError):
            continue
    raise ValueError(f"not a policy document: {text[:80]}")


def _principal_documents(backend: Any, arn: str) -> list[dict[str, Any]]:
    """The identity policies of the role or user ``arn`` (inline and attached managed policies)."""
    kind, _, name = arn.split(":", 5)[-1].partition("/")
    name = name.rsplit("/", 1)[-1]
    principal = backend.get_role(name) if kind == "role" else backend.get_user(name)
    documents = [_document(body) for body in principal.policies.values()]
    for policy in principal.managed_policies.values():
        version = next(v for v in policy.versions if v.is_default)
        documents.append(_document(version.document))
    return documents


def patch_simulate_principal_policy() -> None:
    from moto.core.responses import ActionResult
    from moto.iam.responses import IamResponse

    def simulate_principal_policy(self: Any) -> Any:
        documents = _principal_documents(self.backend, self._get_param("PolicySourceArn"))
        context = {
            str(entry["ContextKeyName"]): list(entry.get("ContextKeyValues", []))
            for entry in self._get_param("ContextEntries", [])
        }
        results = [
            {
                "EvalActionName": action,
                "EvalResourceName": resource,
                "EvalDecision": evaluate(documents, action, resource, context),
                "MatchedStatements": [],
                "MissingContextValues": [],
            }
            for action in self._get_param("ActionNames", [])
            for resource in (self._get_param("ResourceArns", []) or ["*"])
        ]
        return ActionResult({"EvaluationResults": results, "IsTruncated": False})

    IamResponse.simulate_principal_policy = simulate_principal_policy  # type: ignore[attr-defined]
