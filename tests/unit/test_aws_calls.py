"""The "who calls what" table: well formed, every principal known, every resource renderable."""

from __future__ import annotations

import pytest

from chalicelib.platform.aws_calls import (
    AWS_CALLS,
    PRINCIPALS,
    calls_of,
    placeholders,
    render_resource,
)

STAGE = {"region": "eu-west-1", "account": "123456789012", "app": "fivetran-orchestrator", "stage": "dev"}
DEPLOY = {"artifacts_bucket": "artifacts-abc", "task_role": "dbt-task", "task_execution_role": "dbt-exec"}
KNOWN = {"partition", "region", "account", "app", "stage", *DEPLOY}


def test_every_call_belongs_to_a_known_principal_and_names_an_iam_action() -> None:
    for call in AWS_CALLS:
        assert call.principal in PRINCIPALS
        service, _, name = call.action.partition(":")
        assert service and name and "*" not in call.action, call
        assert call.why


def test_every_principal_makes_at_least_one_call() -> None:
    assert all(calls_of(principal) for principal in PRINCIPALS)


def test_no_call_is_listed_twice() -> None:
    keys = [(c.principal, c.action, c.resource) for c in AWS_CALLS]
    assert len(keys) == len(set(keys))


def test_every_resource_renders_to_an_arn_with_no_placeholder_left() -> None:
    for call in AWS_CALLS:
        arn = render_resource(call, **STAGE, **DEPLOY)
        assert arn == "*" or arn.startswith("arn:aws:"), arn
        assert "{" not in arn


def test_a_pattern_replaces_what_varies_per_call_with_a_wildcard() -> None:
    run_files = next(c for c in calls_of("list_connectors") if c.action == "s3:PutObject")
    assert render_resource(run_files, **STAGE, **DEPLOY, pattern=True) == "arn:aws:s3:::artifacts-abc/runs/*"
    callback = next(c for c in calls_of("api_handler") if c.action == "states:SendTaskSuccess")
    assert render_resource(callback, **STAGE) == (
        "arn:aws:states:eu-west-1:123456789012:stateMachine:fivetran-orchestrator-dev/Sync"
    )


def test_a_deploy_time_name_not_given_is_named_in_the_error() -> None:
    run_files = next(c for c in calls_of("collect_outcomes") if c.action == "s3:GetObject")
    with pytest.raises(KeyError, match="artifacts_bucket"):
        render_resource(run_files, **STAGE)


def test_an_unknown_principal_is_refused() -> None:
    with pytest.raises(KeyError, match="unknown principal"):
        calls_of("nobody")


def test_templates_use_only_documented_placeholders() -> None:
    from chalicelib.platform.aws_calls import VARIABLE

    for call in AWS_CALLS:
        assert set(placeholders(call.resource)) <= KNOWN | set(VARIABLE), call
