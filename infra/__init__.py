"""What the repository knows about the CloudFormation stack (``infra/template.yaml``), read once.

- ``infra.template``: the one CloudFormation YAML loader, the token table's key schema, the
  parameter defaults, and which template parameter takes which Chalice function's ARN.
- ``infra.outputs``: what a deploy leaves behind and other tools read: ``.chalice/deployed/<stage>.json``
  (function ARNs, the REST API URL), the stack's name and outputs, the webhook URL.

The deploy (``python -m deploy``), the operator CLI (``ops/``), the local runtime (``local/``) and the
tests import these; none of them repeats a fact stated here.
"""

from __future__ import annotations


class InfraError(Exception):
    """The template or a deploy record is not what it should be; the message says what to fix."""


__all__ = ["InfraError"]
