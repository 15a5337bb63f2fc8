"""The local runtime refuses what AWS would refuse: every AWS call is made as a principal of the stage and
evaluated against that principal's policies (``local/iam/engine.py``), resources included.

Who a call is made as:

- a Lambda handler run in-process (``local/patches/lambda_invoke.py``): its function's own role, the one
  Chalice makes per function (``ACTING_AS`` is set around the handler);
- the state machine interpreter's integrations (Lambda invoke, S3 ItemReader/ResultWriter, ECS, the
  ``aws-sdk`` S3 read) and the Distributed Map's own actions (describing its execution, starting children):
  the state machine role;
- a client the runtime hands a fixed principal (``attach(client, "reconcile_syncs")``);
- a request reaching moto's server over HTTP (the webhook's ``chalice local``, the dbt process): the
  principal whose access key signed it (``Principal.access_key``); other keys (the runtime's own, the
  operator CLI's) are the operator's and are not checked.

A refused call raises what AWS raises: ``ClientError`` ``AccessDeniedException`` (S3: ``AccessDenied``),
"User: arn:aws:sts::<account>:assumed-role/<role>/<session> is not authorized to perform: <action> on
resource: <arn> because no identity-based policy allows the <action> action". Every refusal is also kept in
``Enforcer.denials`` (the run report names them).
"""

from __future__ import annotations

import contextvars
import threading
from dataclasses import dataclass
from typing import Any

from local.iam.engine import PolicyEngine
from local.iam.requests import Authorization, UnmappedCall, authorizations

__all__ = [
    "ACTING_AS",
    "AccessDenied",
    "Enforcer",
    "Principal",
    "acting_as",
    "active",
    "attach",
    "set_active",
]

ACTING_AS: contextvars.ContextVar[str | None] = contextvars.ContextVar("local_iam_principal", default=None)
_active: Enforcer | None = None
_tokens: dict[str, str] = {}  # task token -> the state machine that owns it
_tokens_lock = threading.Lock()


def set_active(enforcer: Enforcer | None) -> None:
    global _active
    _active = enforcer


def active() -> Enforcer | None:
    return _active


def record_token(token: str, state_machine_arn: str) -> None:
    with _tokens_lock:
        _tokens[token] = state_machine_arn


class acting_as:
    """``with acting_as("start_sync"): ...``: calls in this block are made as that principal."""

    def __init__(self, principal: str | None) -> None:
        self._principal = principal
        self._reset: Any = None

    def __enter__(self) -> None:
        self._reset = ACTING_AS.set(self._principal)

    def __exit__(self, *exc: object) -> None:
        ACTING_AS.reset(self._reset)


@dataclass(frozen=True)
class Principal:
    name: str  # the table's principal (chalicelib/platform/aws_calls.py)
    role_name: str
    account: str
    session: str  # the session name AWS gives the role's credentials (a Lambda: its function name)

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.role_name}"

    @property
    def assumed(self) -> str:
        return f"arn:aws:sts::{self.account}:assumed-role/{self.role_name}/{self.session}"

    @property
    def access_key(self) -> str:
        """The access key id this principal's out-of-process callers sign with."""
        return "ASIALOCAL" + self.name.upper().replace("_", "")


class AccessDenied(Exception):
    def __init__(self, principal: Principal, action: str, resource: str, reason: str) -> None:
        self.principal, self.action, self.resource = principal, action, resource
        self.message = (
            f"User: {principal.assumed} is not authorized to perform: {action} on resource: {resource} "
            + reason
        )
        super().__init__(self.message)

    def client_error(self, service: str, operation: str) -> Exception:
        from botocore.exceptions import ClientError

        code = "AccessDenied" if service == "s3" else "AccessDeniedException"
        status = 403 if service == "s3" else 400
        response: Any = {  # the parts of AWS's error response botocore reads
            "Error": {"Code": code, "Message": self.message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return ClientError(
            response,
            operation,
        )


class Enforcer:
    """The stage's principals, their policies, and the decisions on their calls."""

    def __init__(
        self,
        engine: PolicyEngine,
        *,
        account: str,
        region: str,
        principals: dict[str, Principal],
        policies: dict[str, list[dict[str, Any]]],
        functions: dict[str, str],
    ) -> None:
        self.engine, self.account, self.region = engine, account, region
        self.principals = principals
        self.functions = functions  # Lambda function name -> principal
        self.by_key = {p.access_key: p for p in principals.values()}
        self.denials: list[AccessDenied] = []
        self.decisions: set[tuple[str, str, str]] = set()  # (principal, action, resource) decided
        for name, principal in principals.items():
            documents = policies.get(name, [])
            engine.set_policies(
                principal.role_arn,
                [{"name": f"{name}-{i}", "policy": doc} for i, doc in enumerate(documents)],
            )

    # -- Lookup (local/iam/requests.py) ---------------------------------------------------------

    def token_owner(self, token: str) -> str:
        with _tokens_lock:
            return _tokens.get(token, "")

    def task_definition(self, family_or_arn: str) -> tuple[str, list[str]]:
        from moto.ecs.models import ecs_backends

        family, _, revision = family_or_arn.rsplit("/", 1)[-1].partition(":")
        revisions = ecs_backends[self.account][self.region].task_definitions.get(family) or {}
        if not revisions:
            return family_or_arn, []
        found = revisions[int(revision)] if revision else revisions[max(revisions)]
        roles = [arn for arn in (found.task_role_arn, found.execution_role_arn) if arn]
        return str(found.arn), roles

    def secret_arn(self, secret_id: str) -> str:
        if secret_id.startswith("arn:"):
            return secret_id
        from moto.secretsmanager.models import secretsmanager_backends

        secret = secretsmanager_backends[self.account][self.region].secrets.get(secret_id)
        return (
            str(secret.arn)
            if secret is not None
            else f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:{secret_id}"
        )

    # -- decisions --------------------------------------------------------------------------------

    def authorize(self, principal_name: str, requests: list[Authorization]) -> None:
        """Raise ``AccessDenied`` for the first request the principal's policies do not allow."""
        principal = self.principals[principal_name]
        for request in requests:
            if not request.resource:  # a task token no execution issued: AWS answers InvalidToken
                continue
            self.decisions.add((principal_name, request.action, request.resource))
            decision = self.engine.decide(
                principal.role_arn, self.account, request.action, request.resource, request.context
            )
            if decision != "Allowed":
                reason = (
                    "with an explicit deny in an identity-based policy"
                    if decision == "ExplicitlyDenied"
                    else f"because no identity-based policy allows the {request.action} action"
                )
                denied = AccessDenied(principal, request.action, request.resource, reason)
                self.denials.append(denied)
                raise denied

    def check_call(self, principal_name: str, service: str, operation: str, params: dict[str, Any]) -> None:
        try:
            requests = authorizations(service, operation, params, self)
        except UnmappedCall as exc:
            principal = self.principals[principal_name]
            denied = AccessDenied(
                principal, str(exc), "(no rule)", "because local/iam/requests.py has no rule for it: add one"
            )
            self.denials.append(denied)
            raise denied from None
        self.authorize(principal_name, requests)


def attach(client: Any, principal: str | None = None) -> Any:
    """Check every call of ``client`` as ``principal`` (or as ``ACTING_AS`` at call time) while an
    enforcer is active. A call made as nobody in particular is refused: every path names its principal."""
    service = client.meta.service_model.service_name

    def check(params: dict[str, Any], model: Any, **_: Any) -> None:
        enforcer = _active
        if enforcer is None:
            return
        who = principal or ACTING_AS.get()
        if who is None:
            raise RuntimeError(
                f"local IAM: {service}:{model.name} made outside any principal (use acting_as)"
            )
        try:
            enforcer.check_call(who, service, model.name, params)
        except AccessDenied as denied:
            raise denied.client_error(service, model.name) from None

    client.meta.events.register("before-parameter-build", check)
    return client
