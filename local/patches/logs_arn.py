"""``Fn::GetAtt <LogGroup>.Arn`` ends in ``:*`` on AWS and not in moto.

AWS fact (AWS::Logs::LogGroup, return values): ``Arn`` is "the ARN of the log group, such as
``arn:aws:logs:us-west-1:123456789012:log-group:/mygroup:*``", which is also what
``DescribeLogGroups`` answers as ``arn``. moto 5.2.6 gives CloudFormation the ARN without ``:*``, so
a policy statement on ``!GetAtt LogGroup.Arn`` matches no log stream there while it matches every
stream of the group on AWS (``orchestrator doctor`` on a moto deployment then refuses the dbt task's
log writes that AWS allows).
"""

from __future__ import annotations

from typing import Any

__all__ = ["patch_log_group_cfn_arn"]


def patch_log_group_cfn_arn() -> None:
    from moto.logs.models import LogGroup

    original = LogGroup.get_cfn_attribute
    if getattr(original, "_aws_arn", False):
        return

    def get_cfn_attribute(self: Any, attribute_name: str) -> Any:
        value = original(self, attribute_name)
        return f"{value}:*" if attribute_name == "Arn" else value

    get_cfn_attribute._aws_arn = True  # type: ignore[attr-defined]
    LogGroup.get_cfn_attribute = get_cfn_attribute  # type: ignore[method-assign]
