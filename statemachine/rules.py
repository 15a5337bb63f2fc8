"""House rules for the ASL definition, checked by ``python -m statemachine.validate`` and the tests.

- every Task has a ``Retry`` and a ``Catch``
- every ``.waitForTaskToken`` Task has a timeout and a heartbeat (literal or ``*Path``)
- every transition target exists and every state is reachable
- at the top level every path ends in ``Succeed`` or a named ``Fail`` with an error and a cause
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["check"]


def _targets(state: dict[str, Any]) -> Iterator[str]:
    if "Next" in state:
        yield state["Next"]
    if "Default" in state:
        yield state["Default"]
    for choice in state.get("Choices", []):
        if "Next" in choice:
            yield choice["Next"]
    for catcher in state.get("Catch", []):
        yield catcher["Next"]


def _check_machine(machine: dict[str, Any], where: str, top_level: bool) -> list[str]:  # noqa: C901
    problems: list[str] = []
    states: dict[str, dict[str, Any]] = machine.get("States", {})
    start = machine.get("StartAt")
    if start not in states:
        problems.append(f"{where}: StartAt {start!r} is not a state")
    for name, state in states.items():
        here = f"{where}/{name}"
        kind = state.get("Type")
        for target in _targets(state):
            if target not in states:
                problems.append(f"{here}: transition to unknown state {target!r}")
        if kind == "Task":
            if not state.get("Retry"):
                problems.append(f"{here}: Task has no Retry")
            if not state.get("Catch"):
                problems.append(f"{here}: Task has no Catch")
            if str(state.get("Resource", "")).endswith(".waitForTaskToken"):
                if not ({"TimeoutSeconds", "TimeoutSecondsPath"} & state.keys()):
                    problems.append(f"{here}: waitForTaskToken Task has no TimeoutSeconds")
                if not ({"HeartbeatSeconds", "HeartbeatSecondsPath"} & state.keys()):
                    problems.append(f"{here}: waitForTaskToken Task has no HeartbeatSeconds")
        if kind == "Fail":
            if not ({"Error", "ErrorPath"} & state.keys()):
                problems.append(f"{here}: Fail state has no Error")
            if not ({"Cause", "CausePath"} & state.keys()):
                problems.append(f"{here}: Fail state has no Cause")
        if kind == "Map":
            processor = state.get("ItemProcessor") or state.get("Iterator") or {}
            problems.extend(_check_machine(processor, here, top_level=False))
        if top_level and state.get("End") and kind not in ("Succeed", "Fail"):
            problems.append(f"{here}: a top-level path ends in a {kind}, not in Succeed or a named Fail")
        if kind not in ("Succeed", "Fail", "Choice") and not state.get("End") and "Next" not in state:
            problems.append(f"{here}: {kind} state has neither Next nor End")
    problems.extend(_unreachable(states, start, where))
    return problems


def _unreachable(states: dict[str, dict[str, Any]], start: Any, where: str) -> list[str]:
    seen: set[str] = set()
    todo = [start] if start in states else []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(t for t in _targets(states[name]) if t in states)
    return [f"{where}/{name}: unreachable" for name in states if name not in seen]


def check(definition: dict[str, Any]) -> list[str]:
    """Every rule violation, as readable lines (empty when the definition is fine)."""
    return _check_machine(definition, "", top_level=True)
