"""The one error the deploy raises: something the operator must fix; the message says what.

It is ``infra.InfraError`` itself, so a bad template or deploy record (read by ``infra/``) and a bad
parameter or stack state (found here) reach the operator the same way.
"""

from __future__ import annotations

from infra import InfraError

DeployError = InfraError

__all__ = ["DeployError"]
