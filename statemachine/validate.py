"""``python -m statemachine.validate FILE``: JSON, house rules, and the ASL grammar.

The grammar check renders the placeholders with sample values and parses the result
with the same ANTLR-based ASL parser moto's executor uses (the one ported from
LocalStack), so a definition that fails here would also fail ``CreateStateMachine``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from statemachine.definition import placeholders, render
from statemachine.rules import check

SAMPLE_VALUES = {
    "ListConnectorsFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:list_connectors",
    "StartSyncFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:start_sync",
    "CollectOutcomesFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:collect_outcomes",
    "TransformLeaseFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:transform_lease",
    "DbtTarget": "snowflake",
    "ClusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/dbt",
    "TaskDefinitionFamily": "fivetran-orchestrator-dev-dbt",
    "ArtifactsBucket": "fivetran-orchestrator-dev-infra-artifactsbucket-1a2b3c4d",
    "DbtLogGroupName": "/ecs/fivetran-orchestrator-dev-dbt",
    "DbtRelaunchWaitSeconds": "30, 120",
    "SubnetIds": "subnet-1,subnet-2",
    "SecurityGroupIds": "sg-1",
    "AssignPublicIp": "DISABLED",
    "MaxConcurrency": "0",
    "HeartbeatSeconds": "900",
    "SyncTimeoutSeconds": "21600",
    "DbtTimeoutSeconds": "7200",
}


def validate(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    try:
        definition = json.loads(text)
    except ValueError as exc:
        return [f"{path}: not valid JSON: {exc}"]
    problems = check(definition)
    unknown = placeholders(text) - SAMPLE_VALUES.keys()
    if unknown:
        return [*problems, f"{path}: placeholders without a sample value: {sorted(unknown)}"]
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    try:
        AmazonStateLanguageParser.parse(render({k: SAMPLE_VALUES[k] for k in placeholders(text)}, text))
    except Exception as exc:  # the parser raises its own exception types
        problems.append(f"{path}: ASL grammar: {type(exc).__name__}: {str(exc)[:500]}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    failed = False
    for path in args.files:
        problems = validate(path)
        for line in problems:
            print(line, file=sys.stderr)
        failed = failed or bool(problems)
        print(f"{path}: {'INVALID' if problems else 'ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
