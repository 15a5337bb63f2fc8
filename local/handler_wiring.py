"""How the local runtime hands AWS and settings to the handlers and the safety net: each principal's own
clients, and the scenario's API budget keys as the handlers' settings.

On AWS every Lambda calls AWS with its own role (Chalice makes one per function); here every client a
handler or the safety net uses is checked by the local IAM enforcer (``local.iam.enforce``) as that
principal, so a call the deployed role would be refused is refused here too. The operator's view (the
runtime's reports, the tests) keeps unchecked clients.

With ``fivetran.api_key_rotation`` the Fivetran API credentials live in moto's Secrets Manager, as on
AWS: the simulator's rotation puts the new pair there, as an operator rotating the key does.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.platform.config import DEFAULT_HOURLY_QUOTA, DEFAULT_QUOTA_SHARE_PERCENT, Settings
from chalicelib.wiring import Dependencies
from local.iam import enforce
from local.patches.pace import in_process_client

__all__ = [
    "API_SECRET_NAME",
    "LOCAL_POOL",
    "REGION",
    "api_secret",
    "budget_settings",
    "dependencies",
    "local_session",
]

REGION = "us-east-1"
# Connections each local AWS client keeps open (boto3's default is 10): many threads share one client.
LOCAL_POOL = 512
API_SECRET_NAME = "fivetran-orchestrator/local/fivetran-api"  # noqa: S105 - a name, not a secret


_SESSIONS: list[boto3.session.Session] = []
_SESSIONS_LOCK = threading.Lock()


def local_session() -> boto3.session.Session:
    """One boto3 session for every local runtime of this process: a new session parses botocore's
    service models again (EC2's alone is megabytes of JSON), seconds of each runtime's start."""
    with _SESSIONS_LOCK:
        if not _SESSIONS:
            _SESSIONS.append(
                boto3.session.Session(
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",  # noqa: S106 - moto
                    region_name=REGION,
                )
            )
        return _SESSIONS[0]


def dependencies(settings: Settings, clients: dict[str, Any], principal: Any) -> Dependencies:
    """Dependencies on this process's moto: ``clients`` as they are (``principal`` None: the operator),
    or new in-process clients whose calls are checked as ``principal`` (a principal's name, or
    ``enforce.ACTING_AS``: whichever handler is running at call time)."""
    if principal is not None:
        # The shared session: each client still has its own copy of the session's event hooks, so the
        # enforcer's check attached to one client is on that client only.
        session = local_session()
        acting = None if principal is enforce.ACTING_AS else principal
        clients = {
            name: enforce.attach(
                in_process_client(session, name, config=Config(max_pool_connections=LOCAL_POOL)), acting
            )
            for name in ("dynamodb", "stepfunctions", "s3", "secretsmanager")
        }
    return Dependencies.from_clients(
        settings,
        dynamodb=clients["dynamodb"],
        stepfunctions=clients["stepfunctions"],
        s3=clients["s3"],
        secretsmanager=clients.get("secretsmanager") if settings.fivetran_api_secret_arn else None,
    )


def api_secret(client: Any, simulator: Any, api_key: str, api_secret_value: str) -> str:
    """Create the API credentials' secret (``{"api_key", "api_secret"}``) and let the simulator's
    rotation write its new pair there; returns the secret's name (``FIVETRAN_API_SECRET_ARN``)."""
    client.create_secret(
        Name=API_SECRET_NAME, SecretString=json.dumps({"api_key": api_key, "api_secret": api_secret_value})
    )

    def rotated(key: str, secret: str) -> None:
        client.put_secret_value(
            SecretId=API_SECRET_NAME, SecretString=json.dumps({"api_key": key, "api_secret": secret})
        )

    simulator.on_api_key_rotated = rotated
    return API_SECRET_NAME


def budget_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The scenario's API budget keys as ``Settings`` fields (``triggers_per_minute``: the older alias)."""
    optional = {k: settings.get(k) for k in ("trigger_burst", "triggers_per_minute")}
    return {
        "fivetran_hourly_quota": int(settings.get("fivetran_hourly_quota", DEFAULT_HOURLY_QUOTA)),
        "trigger_quota_share_percent": int(settings.get("trigger_quota_share", DEFAULT_QUOTA_SHARE_PERCENT)),
        **{k: int(v) for k, v in optional.items() if v is not None},
    }
