"""The S3 client of the entrypoint: short timeouts, standard retries, path-style addressing under moto.

boto3 is imported when a client is made, not at import time: only a run that reads or keeps objects in
S3 needs it.
"""

from __future__ import annotations

import os
from typing import Any


def s3_client() -> Any:
    import boto3  # here, not at the top: only a run that keeps artifacts needs it
    from botocore.config import Config

    path_style = bool(os.environ.get("AWS_ENDPOINT_URL"))  # a local endpoint (moto) has no bucket hosts
    config = Config(
        connect_timeout=5,
        read_timeout=30,
        retries={"mode": "standard", "max_attempts": 3},
        s3={"addressing_style": "path"} if path_style else {},
    )
    return boto3.client("s3", config=config)
