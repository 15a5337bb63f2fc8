"""Patches to how ECS reads a task definition: its memory, and which revision runs.

- ``ecs_container_memory``: a Fargate task definition may set memory at the task level only;
  moto's ``RunTask`` crashed on a container without container-level memory.
- ``ecs_active_task_definition``: ``RunTask`` with a family (no revision) starts the family's
  latest ACTIVE revision on AWS, and an INACTIVE revision starts no task; moto started the newest
  revision even when it was INACTIVE, and started tasks of an INACTIVE one. (A run started before
  a deploy therefore runs the revision the deploy registered.)
"""

from __future__ import annotations

from typing import Any

__all__ = ["patch_ecs_active_task_definition", "patch_ecs_container_memory"]


def patch_ecs_container_memory() -> None:
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend._calculate_task_resource_requirements

    def calculate(task_definition: Any) -> Any:
        defs = task_definition.container_definitions
        missing = [
            d
            for d in defs
            if not any(d.get(k) for k in ("memory", "Memory", "memoryReservation", "MemoryReservation"))
        ]
        for d in missing:
            d["memory"] = 0
        try:
            return original(task_definition)
        finally:
            for d in missing:
                d.pop("memory", None)

    EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(calculate)  # type: ignore[method-assign]


# -- ecs_active_task_definition -----------------------------------------------------------


def patch_ecs_active_task_definition() -> None:
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.models import EC2ContainerServiceBackend

    original = EC2ContainerServiceBackend.describe_task_definition

    def latest_active(self: Any, family: str) -> int | None:
        revisions = self.task_definitions.get(family) or {}
        active = [rev for rev, definition in revisions.items() if definition.status == "ACTIVE"]
        return max(active) if active else None

    def run_task(self: Any, cluster_str: str, task_definition_str: str, *args: Any, **kwargs: Any) -> Any:
        name = task_definition_str.split("/")[-1]
        if ":" not in name:
            revision = latest_active(self, name)
            if revision is None:
                raise InvalidParameterException(f"TaskDefinition not found or inactive: {name}")
            task_definition_str = f"{name}:{revision}"
        elif original(self, task_definition_str).status != "ACTIVE":
            raise InvalidParameterException(f"TaskDefinition is inactive: {name}")
        return original_run_task(self, cluster_str, task_definition_str, *args, **kwargs)

    original_run_task = EC2ContainerServiceBackend.run_task
    EC2ContainerServiceBackend.run_task = run_task  # type: ignore[method-assign]
