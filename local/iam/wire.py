"""AWS requests as they reach moto's server over HTTP (the webhook's ``chalice local`` process, the dbt
process): who signed them, which operation, its parameters; and a refusal in each protocol's own form.

- the signer: the access key id in the SigV4 ``Authorization`` header (``Credential=<key>/...``);
- JSON protocols (DynamoDB, Step Functions, Secrets Manager, ECS, ...): ``X-Amz-Target`` names the
  operation and the JSON body holds the API parameters under their API names;
- S3 (REST): the operation from the method, path (path-style ``/bucket/key``, as the local clients use)
  and query; parameters ``Bucket`` and ``Key``.

A refusal: JSON protocols answer HTTP 400 with ``{"__type": "AccessDeniedException", "message": ...}``;
S3 answers 403 with ``<Error><Code>AccessDenied</Code>...`` (AWS's error formats).
"""

from __future__ import annotations

import io
import json
import re
from typing import Any
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

__all__ = ["S3_HOSTS", "denial_response", "read_request"]

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/[^/]+/([^/]+)/")
S3_HOSTS = ("s3",)
_JSON_SERVICES = {
    "DynamoDB_20120810": "dynamodb",
    "AWSStepFunctions": "stepfunctions",
    "secretsmanager": "secretsmanager",
    "AmazonEC2ContainerServiceV20141113": "ecs",
}


def _s3_operation(method: str, key: str, query: dict[str, list[str]], headers: dict[str, str]) -> str:
    if not key:
        return {"GET": "ListObjectsV2" if "list-type" in query else "ListObjects"}.get(
            method, f"Bucket{method}"
        )
    if method == "POST" and "uploads" in query:
        return "CreateMultipartUpload"
    if method == "POST" and "uploadId" in query:
        return "CompleteMultipartUpload"
    if method == "PUT" and "partNumber" in query:
        return "UploadPart"
    if method == "PUT" and "x-amz-copy-source" in headers:
        return "CopyObject"
    if method == "GET" and "uploadId" in query:
        return "ListParts"
    if method == "DELETE" and "uploadId" in query:
        return "AbortMultipartUpload"
    return {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject", "DELETE": "DeleteObject"}.get(
        method, f"Object{method}"
    )


def read_request(environ: dict[str, Any]) -> tuple[str, str, str, dict[str, Any]] | None:
    """(access key id, service, operation, params) of a signed request, else ``None``. The body is read
    and put back, so the application still sees it."""
    headers = {
        key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")
    }
    match = _CREDENTIAL.search(headers.get("authorization", ""))
    if match is None:
        return None
    access_key, signed_service = match.group(1), match.group(2)
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    target = headers.get("x-amz-target", "")
    if target:
        prefix, _, operation = target.rpartition(".")
        service = _JSON_SERVICES.get(prefix, signed_service)
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
        return access_key, service, operation, params if isinstance(params, dict) else {}
    if signed_service == "s3":
        path = unquote(environ.get("PATH_INFO", "")).lstrip("/")
        bucket, _, key = path.partition("/")
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        copy = (
            {"x-amz-copy-source": unquote(headers["x-amz-copy-source"])}
            if "x-amz-copy-source" in headers
            else {}
        )
        operation = _s3_operation(environ.get("REQUEST_METHOD", "GET"), key, query, headers)
        return (
            access_key,
            "s3",
            operation,
            {"Bucket": bucket, "Key": key, "CopySource": copy.get("x-amz-copy-source")},
        )
    return (
        access_key,
        signed_service,
        environ.get("REQUEST_METHOD", "") + " " + environ.get("PATH_INFO", ""),
        {},
    )


def denial_response(service: str, message: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """(status, headers, body) of AWS's AccessDenied answer for ``service``."""
    if service == "s3":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>AccessDenied</Code><Message>{escape(message)}</Message></Error>"
        ).encode()
        return (
            "403 Forbidden",
            [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))],
            body,
        )
    body = json.dumps({"__type": "AccessDeniedException", "message": message}).encode()
    return (
        "400 Bad Request",
        [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("x-amzn-ErrorType", "AccessDeniedException"),
            ("Content-Length", str(len(body))),
        ],
        body,
    )
