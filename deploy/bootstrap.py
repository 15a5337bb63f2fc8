"""The deploy's bootstrap bucket: where the rendered template goes before CloudFormation reads it.

CloudFormation takes a template inline (``TemplateBody``) only up to 51,200 bytes; from S3
(``TemplateURL``) up to 1 MB (AWS CloudFormation quotas). The rendered stack (the template with the
state machine definition inlined) passed 44 KB, so the deploy always sends it through S3: one bucket
per account and region, ``<app>-deploy-<account>-<region>``, created by the first deploy and reused
after. It holds only templates (``templates/<stack>/<sha256>.json``, expired after 30 days), is
private (public access blocked, bucket owner enforced) and encrypted (SSE-S3). Every call
names the expected owner (``ExpectedBucketOwner``), so a bucket of that name in another account is
refused rather than written to.
"""

from __future__ import annotations

import hashlib
from typing import Any

from deploy.errors import DeployError

__all__ = [
    "TEMPLATE_PREFIX",
    "TEMPLATE_URL_LIMIT",
    "bootstrap_bucket_name",
    "ensure_bootstrap_bucket",
    "template_key",
    "template_url",
    "upload_template",
]

# CloudFormation reads a TemplateURL object of at most 1 MB (460,800 bytes in older SDK docs).
TEMPLATE_URL_LIMIT = 1_000_000
TEMPLATE_PREFIX = "templates/"
TEMPLATE_EXPIRY_DAYS = 30


def bootstrap_bucket_name(app_name: str, account: str, region: str) -> str:
    """``<app>-deploy-<account>-<region>`` (S3 bucket names: at most 63 characters)."""
    name = f"{app_name}-deploy-{account}-{region}"
    if len(name) > 63:
        raise DeployError(f"bootstrap bucket name {name!r} is over S3's 63 characters: shorten app_name")
    return name


def template_key(stack: str, body: str) -> str:
    """Where a template body goes: named by its content, so an unchanged template is the same object."""
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()[:20]
    return f"{TEMPLATE_PREFIX}{stack}/{digest}.json"


def template_url(bucket: str, region: str, key: str) -> str:
    """The virtual-hosted HTTPS URL CloudFormation reads the template from."""
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"


def _status(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def ensure_bootstrap_bucket(s3: Any, bucket: str, *, region: str, account: str) -> bool:
    """Create the bucket unless this account already has it. Returns True when it was created."""
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=account)
        return False
    except ClientError as exc:
        if _status(exc) in {"403", "AccessDenied", "Forbidden"}:
            raise DeployError(
                f"bucket {bucket} exists but this account ({account}) cannot use it: it belongs to another "
                "account, or the deployer lacks s3:ListBucket on it (deploy/deployer-policy.json)"
            ) from None
        if _status(exc) not in {"404", "NoSuchBucket", "NotFound"}:
            raise
    create: dict[str, Any] = {"Bucket": bucket, "ObjectOwnership": "BucketOwnerEnforced"}
    if region != "us-east-1":
        create["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**create)
    owner = {"Bucket": bucket, "ExpectedBucketOwner": account}
    s3.put_public_access_block(
        **owner,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        **owner,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_bucket_lifecycle_configuration(
        **owner,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "expire-templates",
                    "Status": "Enabled",
                    "Filter": {"Prefix": TEMPLATE_PREFIX},
                    "Expiration": {"Days": TEMPLATE_EXPIRY_DAYS},
                }
            ]
        },
    )
    return True


def upload_template(s3: Any, *, bucket: str, region: str, account: str, stack: str, body: str) -> str:
    """Put the template body in the bootstrap bucket; returns the ``TemplateURL`` to pass."""
    size = len(body.encode("utf-8"))
    if size > TEMPLATE_URL_LIMIT:
        raise DeployError(
            f"the rendered template is {size} bytes, over CloudFormation's {TEMPLATE_URL_LIMIT}-byte "
            "TemplateURL limit: split the stack"
        )
    key = template_key(stack, body)
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=body.encode("utf-8"),
        ContentType="application/json",
        ExpectedBucketOwner=account,
    )
    return template_url(bucket, region, key)
