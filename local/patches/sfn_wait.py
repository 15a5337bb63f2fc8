"""Patch ``wait_until_timestamp``: a ``Wait`` state never ends before its timestamp, as on AWS.

moto's ``Wait`` with ``Timestamp``/``TimestampPath`` drops the timestamp's fraction of a second,
waits whole seconds and compares with the naive local clock, so it ended up to 1 s early. It now
waits until the named instant (UTC, fraction kept); a past timestamp ends the wait at once, and an
invalid one fails the run, as before.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["patch_wait_until_timestamp"]


def _timestamp_target(text: str) -> float | None:
    """The instant a ``Wait`` timestamp names (epoch seconds, fraction kept), or None if invalid."""
    from datetime import UTC, datetime

    if not isinstance(text, str) or not text.endswith("Z"):
        return None
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00")
    except ValueError:
        return None
    return moment.astimezone(UTC).timestamp()


def patch_wait_until_timestamp() -> None:
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp import Timestamp

    def _eval_body(self: Any, env: Any) -> None:
        self.string.eval(env=env)
        text = env.stack.pop()
        target = _timestamp_target(text) if self._is_valid_timestamp_pattern(text) else None
        if target is None:
            raise FailureEventException(self._create_failure_event(env, text))
        while env.is_running():
            left = target - time.time()
            if left <= 0:
                return
            env.program_state_event.wait(left)

    Timestamp._eval_body = _eval_body  # type: ignore[method-assign]  # TimestampPath inherits it
