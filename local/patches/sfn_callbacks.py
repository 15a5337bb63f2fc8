"""Patches to ``.waitForTaskToken`` tasks with a heartbeat: a token is live as soon as it is sent.

moto opens a callback task's heartbeat endpoint only once the Lambda invoke that receives the
token has returned; on AWS the token is live from the moment the task is scheduled:

- ``callback_before_heartbeat``: an outcome (``SendTaskSuccess``/``SendTaskFailure``) sent before
  the heartbeat endpoint exists was lost; the wait now reads it first.
- ``heartbeat_before_endpoint``: a ``SendTaskHeartbeat`` sent while the Lambda invoke is still
  running got ``InvalidToken``; AWS accepts it (the token is live), and so does moto now.
"""

from __future__ import annotations

from typing import Any

__all__ = ["patch_callback_before_heartbeat", "patch_heartbeat_before_endpoint"]


def patch_callback_before_heartbeat() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as mod,
    )
    from moto.stepfunctions.parser.asl.eval.callback.callback import HeartbeatTimedOut

    def _wait_for_task_token_heartbeat(
        self: Any, env: Any, callback_endpoint: Any, heartbeat_endpoint: Any
    ) -> Any:
        outcome = callback_endpoint.get_outcome()
        while env.is_running() and outcome is None:
            received = heartbeat_endpoint.clear_and_wait()
            outcome = callback_endpoint.get_outcome()
            if outcome is None and not received and env.is_running():
                return HeartbeatTimedOut()
        return outcome

    mod.StateTaskServiceCallback._wait_for_task_token_heartbeat = _wait_for_task_token_heartbeat  # type: ignore[method-assign]


# -- heartbeat_before_endpoint ---------------------------------------------------------------


def patch_heartbeat_before_endpoint() -> None:
    from moto.stepfunctions.parser.asl.eval.callback.callback import CallbackEndpoint

    def notify_heartbeat(self: Any) -> bool:
        if self._heartbeat_endpoint is not None:
            self._heartbeat_endpoint.notify()
        return True  # the token is known: the task is scheduled, its heartbeat timer not started yet

    CallbackEndpoint.notify_heartbeat = notify_heartbeat  # type: ignore[method-assign]
