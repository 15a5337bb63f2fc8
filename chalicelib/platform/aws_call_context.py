"""The condition keys AWS sets on some of the table's requests (``chalicelib/platform/aws_calls.py``) that the
policies test: a simulation (``iam:SimulatePrincipalPolicy`` ContextEntries, the local engine) must pass
them. Templates use the table's stage-wide placeholders (``{partition}`` ``{region}`` ``{account}``
``{app}`` ``{stage}``). Facts: the ``ecs:cluster`` key of ``RunTask``/``DescribeTasks``/``StopTask``, and
``iam:PassedToService`` of ``iam:PassRole`` (AWS "IAM policies for Amazon ECS" in the Step Functions guide).

Pure data and one function, importing only the table: it ships with the Lambda code like the table.
"""

from __future__ import annotations

from chalicelib.platform.aws_calls import AwsCall

__all__ = ["CONTEXT", "render_context"]

_CLUSTER = "arn:{partition}:ecs:{region}:{account}:cluster/{app}-{stage}"
CONTEXT: dict[str, dict[str, str]] = {
    "ecs:RunTask": {"ecs:cluster": _CLUSTER},
    "ecs:DescribeTasks": {"ecs:cluster": _CLUSTER},
    "ecs:StopTask": {"ecs:cluster": _CLUSTER},
    "iam:PassRole": {"iam:PassedToService": "ecs-tasks.amazonaws.com"},
}


def render_context(
    call: AwsCall, *, partition: str = "aws", region: str, account: str, app: str, stage: str
) -> dict[str, str]:
    """The condition keys (``CONTEXT``) of ``call``'s request, rendered; empty for most calls."""
    values = {"partition": partition, "region": region, "account": account, "app": app, "stage": stage}
    return {key: value.format(**values) for key, value in CONTEXT.get(call.action, {}).items()}
