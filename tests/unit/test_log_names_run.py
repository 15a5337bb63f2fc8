"""A state machine invocation's log lines name its run (``names_run``), and only while it runs."""

from __future__ import annotations

import io
import json
from typing import Any

from chalicelib.platform.log import logger, names_run

ARN = "arn:aws:states:us-east-1:123456789012:execution:app-dev:run-1"


@names_run
def handler(event: Any, context: Any) -> str:
    logger.info("inside")
    return "done"


def logged(call: Any) -> list[dict[str, Any]]:
    stream = io.StringIO()
    previous = logger.registered_handler.setStream(stream)
    try:
        call()
        logger.info("after")
    finally:
        logger.registered_handler.setStream(previous)
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_the_lines_of_an_invocation_carry_its_run_and_the_next_lines_do_not() -> None:
    inside, after = logged(lambda: handler({"execution_id": ARN}, None))

    assert inside["execution_id"] == ARN
    assert "execution_id" not in after


def test_collect_outcomes_names_its_run_by_execution_arn_and_a_manual_invoke_by_nothing() -> None:
    (by_arn, _), (manual, _) = (
        logged(lambda: handler({"execution_arn": ARN}, None)),
        logged(lambda: handler({"group_id": "g"}, None)),
    )

    assert by_arn["execution_id"] == ARN
    assert "execution_id" not in manual
