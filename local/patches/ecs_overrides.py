"""Patch ``ecs_overrides_limit``: ``RunTask`` refuses overrides longer than AWS takes.

ECS ``RunTask`` takes at most 8,192 characters of overrides, their JSON included (ECS API reference,
``RunTask``, ``overrides``; /work/shared/reference/aws-facts.md): AWS answers
``InvalidParameterException`` ("Container Overrides length must be at most 8192") and starts no task.
moto started the task whatever the size, so a run whose ``dbt.select`` was too long passed locally and
would have failed on AWS after every sync. The overrides are measured as the request carries them
(compact JSON, camelCase keys). The run input's own bound: ``chalicelib/run/dbt_overrides.py``.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["OVERRIDES_MAX_CHARS", "patch_ecs_overrides_limit"]

OVERRIDES_MAX_CHARS = 8_192


def patch_ecs_overrides_limit() -> None:
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.run_task

    def run_task(
        self: Any,
        cluster_str: str,
        task_definition_str: str,
        count: int,
        overrides: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if overrides and len(json.dumps(overrides, separators=(",", ":"))) > OVERRIDES_MAX_CHARS:
            raise InvalidParameterException(
                f"Container Overrides length must be at most {OVERRIDES_MAX_CHARS}"
            )
        return original(self, cluster_str, task_definition_str, count, overrides, *args, **kwargs)

    EC2ContainerServiceBackend.run_task = run_task  # type: ignore[method-assign]
