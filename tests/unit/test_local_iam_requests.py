"""What the local runtime asks IAM for a call (local/iam/requests.py), how it reads a request that reaches
moto's server (local/iam/wire.py), and how it refuses one, as AWS does."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from local.iam.enforce import AccessDenied, Principal
from local.iam.requests import Authorization, UnmappedCall, authorizations
from local.iam.wire import denial_response, read_request

ACCOUNT = "123456789012"
MACHINE = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:app-local"


class Account:
    region = "us-east-1"
    account = ACCOUNT

    def token_owner(self, token: str) -> str:
        return f"{MACHINE}/Sync" if token == "child-token" else ""

    def task_definition(self, family_or_arn: str) -> tuple[str, list[str]]:
        return f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{family_or_arn}:3", [
            f"arn:aws:iam::{ACCOUNT}:role/t"
        ]

    def secret_arn(self, secret_id: str) -> str:
        return f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{secret_id}-AbCdEf"


def test_a_callback_is_authorized_against_the_state_machine_that_owns_the_token() -> None:
    found = authorizations("stepfunctions", "SendTaskSuccess", {"taskToken": "child-token"}, Account())

    assert found == [Authorization("states:SendTaskSuccess", f"{MACHINE}/Sync")]


def test_s3_operations_map_to_the_permissions_aws_checks() -> None:
    def ask(operation: str) -> list[tuple[str, str]]:
        found = authorizations("s3", operation, {"Bucket": "b", "Key": "runs/r/x.json"}, Account())
        return [(a.action, a.resource) for a in found]

    assert ask("HeadObject") == [("s3:GetObject", "arn:aws:s3:::b/runs/r/x.json")]
    assert ask("UploadPart") == [("s3:PutObject", "arn:aws:s3:::b/runs/r/x.json")]
    assert ask("ListParts") == [("s3:ListMultipartUploadParts", "arn:aws:s3:::b/runs/r/x.json")]
    assert ask("ListObjectsV2") == [("s3:ListBucket", "arn:aws:s3:::b")]


def test_run_task_also_asks_to_pass_the_task_roles_and_to_use_the_managed_rule() -> None:
    found = authorizations(
        "ecs", "RunTask", {"cluster": "app-local", "taskDefinition": "app-local-dbt"}, Account()
    )

    assert found[0] == Authorization(
        "ecs:RunTask",
        f"arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/app-local-dbt:3",
        {"ecs:cluster": f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/app-local"},
    )
    assert [a.action for a in found[1:]] == [
        "iam:PassRole",
        "events:PutTargets",
        "events:PutRule",
        "events:DescribeRule",
    ]
    assert found[1].context == {"iam:PassedToService": "ecs-tasks.amazonaws.com"}


def test_a_call_with_no_rule_is_refused_not_let_through() -> None:
    with pytest.raises(UnmappedCall, match="dynamodb:CreateTable"):
        authorizations("dynamodb", "CreateTable", {"TableName": "t"}, Account())


def environ(
    method: str, path: str, query: str = "", headers: dict[str, str] | None = None, body: bytes = b""
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    for name, value in (headers or {}).items():
        found["HTTP_" + name.upper().replace("-", "_")] = value
    return found


SIGNED_S3 = (
    "AWS4-HMAC-SHA256 Credential=ASIALOCALDBTTASK/20260101/us-east-1/s3/aws4_request, SignedHeaders=host"
)


def test_an_s3_request_reads_as_its_signer_operation_bucket_and_key() -> None:
    request = environ(
        "PUT", "/bucket/dbt-runs/r/summary.json", headers={"Authorization": SIGNED_S3}, body=b"{}"
    )

    key, service, operation, params = read_request(request) or ("", "", "", {})

    assert (key, service, operation) == ("ASIALOCALDBTTASK", "s3", "PutObject")
    assert (params["Bucket"], params["Key"]) == ("bucket", "dbt-runs/r/summary.json")
    assert request["wsgi.input"].read() == b"{}"  # moto still reads the body


def test_a_json_protocol_request_reads_its_operation_from_the_target_and_params_from_the_body() -> None:
    signed = SIGNED_S3.replace("/s3/", "/dynamodb/")
    body = json.dumps({"TableName": "t"}).encode()
    request = environ(
        "POST", "/", headers={"Authorization": signed, "X-Amz-Target": "DynamoDB_20120810.Query"}, body=body
    )

    assert read_request(request) == ("ASIALOCALDBTTASK", "dynamodb", "Query", {"TableName": "t"})


def test_an_unsigned_request_is_not_read() -> None:
    assert read_request(environ("GET", "/bucket/key")) is None


def test_a_refusal_reads_as_aws_writes_it() -> None:
    principal = Principal(
        "collect_outcomes", "app-local-collect_outcomes", ACCOUNT, "app-local-collect_outcomes"
    )
    denied = AccessDenied(
        principal,
        "s3:GetObject",
        "arn:aws:s3:::b/map-runs/m.json",
        "because no identity-based policy allows the s3:GetObject action",
    )

    assert denied.message == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/app-local-collect_outcomes/app-local-collect_outcomes "
        "is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::b/map-runs/m.json because no "
        "identity-based policy allows the s3:GetObject action"
    )
    error = denied.client_error("s3", "GetObject")
    assert error.response["Error"]["Code"] == "AccessDenied"  # type: ignore[attr-defined]
    status, headers, body = denial_response("dynamodb", denied.message)
    assert status.startswith("400") and ("x-amzn-ErrorType", "AccessDeniedException") in headers
    assert json.loads(body) == {"__type": "AccessDeniedException", "message": denied.message}
    status, _, body = denial_response("s3", denied.message)
    assert status.startswith("403") and b"<Code>AccessDenied</Code>" in body
