"""A scenario's ``generate`` key: connections made by rule (how many, which services, how long their
syncs take, how many rows they write), expanded into ``connectors`` entries before parsing."""

from __future__ import annotations

import random
import re
from typing import Any

from local.scenario.fields import check_keys, mapping, number
from local.scenario.model import KNOWN_SERVICES, ScenarioError

GENERATE_MAX_COUNT = 100_000
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def generated_connectors(raw: Any) -> list[dict[str, Any]]:
    """The connections a scenario's ``generate`` key stands for, as ``connectors`` entries.

    ``{count: N, services: [s1, s2, ...], duration_s: D or [min, max], rows: R, seed: S}``: connection
    ``i`` (0 .. N-1) is ``<service>_<i>`` (``i`` zero-padded to the width of N - 1), its service the
    ``i % len(services)``-th, its schema its id; its syncs take ``D`` seconds, or a length drawn
    uniformly from ``[min, max]`` (milliseconds, the same for the same ``seed``), and write ``R`` rows."""
    data = mapping(raw, "generate")
    check_keys(data, {"count", "services", "duration_s", "rows", "seed"}, "generate.")
    count = data.get("count")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= GENERATE_MAX_COUNT:
        raise ScenarioError(
            f"generate.count must be a whole number from 1 to {GENERATE_MAX_COUNT} (got {count!r})"
        )
    services = data.get("services", list(KNOWN_SERVICES))
    if not isinstance(services, list) or not services:
        raise ScenarioError(f"generate.services must be a non-empty list of service names (got {services!r})")
    for service in services:
        if not isinstance(service, str) or not _IDENTIFIER.match(service):
            raise ScenarioError(
                f"generate.services: {service!r} is not a service name (letters, digits and _)"
            )
    duration = data.get("duration_s", 1.0)
    if isinstance(duration, list):
        if len(duration) != 2:
            raise ScenarioError(f"generate.duration_s must be a number or [min, max] (got {duration!r})")
        low, high = (number(d, "generate.duration_s") for d in duration)
        if low > high:
            raise ScenarioError(f"generate.duration_s [min, max] needs min <= max (got {duration!r})")
    else:
        low = high = number(duration, "generate.duration_s")
    rows = data.get("rows", 50)
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise ScenarioError(f"generate.rows must be a whole number >= 0 (got {rows!r})")
    seed = data.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ScenarioError(f"generate.seed must be a whole number (got {seed!r})")
    rng = random.Random(seed)  # noqa: S311 - sync lengths, not secrets
    width = len(str(count - 1))
    made = []
    for i in range(count):
        service = services[i % len(services)]
        length = low if low == high else round(rng.uniform(low, high), 3)
        cid = f"{service}_{i:0{width}d}"
        made.append(
            {"id": cid, "service": service, "schema": cid, "sync": {"duration_s": length, "rows": rows}}
        )
    return made
