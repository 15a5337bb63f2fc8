"""``infra/template.yaml`` as data: the facts other code reads from the template.

- ``FUNCTION_PARAMETERS``: which template parameter takes which Chalice function's ARN.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["FUNCTION_PARAMETERS", "STATE_MACHINE_ID", "TEMPLATE_PATH"]

TEMPLATE_PATH = Path(__file__).resolve().parent / "template.yaml"
STATE_MACHINE_ID = "StateMachine"
# Template parameter -> Chalice function name (its ARN is read from .chalice/deployed/<stage>.json).
FUNCTION_PARAMETERS = {
    "ListConnectorsFunctionArn": "list_connectors",
    "StartSyncFunctionArn": "start_sync",
}
