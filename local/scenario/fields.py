"""The checks every part of a scenario file goes through: a mapping, only known keys, typed
non-negative values, an outcome from ``OUTCOMES``; and ``dataclass_from``, which fills one of the
``model`` dataclasses from a mapping (a missing key takes the dataclass's default). Each error
names the key, prefixed by where it is (``connectors[0].sync.``)."""

from __future__ import annotations

from typing import Any

from local.scenario.model import OUTCOMES, ScenarioError

# Fields whose default is None but whose value, when given, is a number.
OPTIONAL_FLOATS = {"resume_duration_s"}


def mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ScenarioError(f"{where} must be a mapping")
    return value


def check_keys(raw: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ScenarioError(f"unknown key {where}{unknown[0]!s} (allowed: {', '.join(sorted(allowed))})")


def typed(raw: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any, where: str) -> Any:
    value = raw.get(key, default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and kind in (int, float):
        raise ScenarioError(f"{where}{key} must be a number")
    if not isinstance(value, kind):
        raise ScenarioError(f"{where}{key} must be {getattr(kind, '__name__', kind)} (got {value!r})")
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        raise ScenarioError(f"{where}{key} must not be negative")
    return value


def number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{where} must be a number (got {value!r})")
    if value < 0:
        raise ScenarioError(f"{where} must not be negative")
    return float(value)


def dataclass_from(data: dict[str, Any], cls: type, where: str) -> Any:
    names = {f.name for f in cls.__dataclass_fields__.values()}  # type: ignore[attr-defined]
    check_keys(data, names, where)
    defaults = cls()
    values = {}
    for name in names:
        default = getattr(defaults, name)
        if name in OPTIONAL_FLOATS:
            values[name] = None if data.get(name) is None else typed(data, name, float, None, where)
            continue
        kind: type | tuple[type, ...] = type(default)
        values[name] = typed(data, name, kind, default, where)
    return cls(**values)


def sub(raw: dict[str, Any], key: str, cls: type, where: str) -> Any:
    """``raw[key]`` (a mapping, or absent: every default) as a ``cls``."""
    return dataclass_from(mapping(raw.get(key), f"{where}{key}"), cls, f"{where}{key}.")


def check_outcome(value: str, where: str) -> None:
    if value not in OUTCOMES:
        raise ScenarioError(f"{where} must be one of {', '.join(OUTCOMES)} (got {value!r})")
