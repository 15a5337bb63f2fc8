"""Patch ``ecs_parameter_casing``: an ``ecs:runTask`` task passes its parameters as AWS reads them.

The state machine writes ``ecs:runTask`` parameters in PascalCase (``Cluster``,
``TaskDefinition``, ``Overrides.ContainerOverrides``...), as the Step Functions ECS integration
takes them. moto passed them on unconverted; they are now camelCased for moto's ECS backend at
every depth, and its answer PascalCased back into the state, as AWS returns it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["patch_ecs_parameter_casing"]


def _recase(value: Any, first: Callable[[str], str]) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        value.clear()
        for key, inner in items:
            value[first(key[:1]) + key[1:] if isinstance(key, str) else key] = _recase(inner, first)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            value[i] = _recase(inner, first)
    return value


def patch_ecs_parameter_casing() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_ecs as mod,
    )

    def _normalise_parameters(self: Any, parameters: dict, *args: Any, **kwargs: Any) -> None:
        _recase(parameters, str.lower)

    def _normalise_response(self: Any, response: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(response, dict):
            _recase(response, str.upper)

    mod.StateTaskServiceEcs._normalise_parameters = _normalise_parameters  # type: ignore[method-assign]
    mod.StateTaskServiceEcs._normalise_response = _normalise_response  # type: ignore[method-assign]
