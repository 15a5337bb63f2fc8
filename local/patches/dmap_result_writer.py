"""Patch ``distributed_map_result_writer``: the S3 ``ResultWriter`` writes AWS's files and records.

moto's S3 ResultWriter writes only a manifest with empty ``ResultFiles``. AWS ("ResultWriter
(Map)", AWS Step Functions Developer Guide): results are exported to ``<Prefix>/<map-run-id>/``:
``manifest.json`` (``DestinationBucket``, ``MapRunArn``, ``ResultFiles`` with ``FAILED``/
``PENDING``/``SUCCEEDED`` lists of ``{Key, Size}``) and per-status files ``SUCCEEDED_n.json`` /
``FAILED_n.json`` / ``PENDING_n.json``; each record has ``ExecutionArn``
(``execution:<name>/<label>:<uuid>``), ``Input``/``Output`` (JSON strings),
``InputDetails``/``OutputDetails`` ``{"Included": true}``, ``Name`` (the uuid), ``RedriveCount``,
``RedriveStatus`` ``NOT_REDRIVABLE``, ``RedriveStatusReason``, ``StartDate``/``StopDate`` (ISO,
ms, Z), ``StateMachineArn``, ``Status``. The state's result is ``{"MapRunArn",
"ResultWriterDetails": {"Bucket", "Key"}}``. API reference ``MapRunItemCounts``/
``MapRunExecutionCounts``: ``resultsWritten`` counts the items whose results ResultWriter wrote.

The manifest has only FAILED, PENDING and SUCCEEDED lists, so TIMED_OUT and ABORTED children
(``Status`` kept) go to ``FAILED_n.json``. A failed record has ``Error``/``Cause``, no ``Output``.

Not verified against AWS (no account used), chosen as the closest reading of the docs: a result
file is written only for a status that has children (the docs' manifest example lists
``"FAILED": []``); a PENDING record holds only ``Input`` and ``Status``; an aborted child's
``Error``/``Cause``; ``RedriveStatusReason`` wording for children that did not succeed.
``WriterConfig`` (``Transformation``, ``JSONL``) and files split past AWS's size limit are not
implemented.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from local.patches.dmap_runs import Child, iso, run_of

__all__ = ["patch_distributed_map_result_writer"]


def _record(child: Child, state_machine_arn: str) -> dict[str, Any]:
    """The child's record in a result file."""
    if child.status == "PENDING":
        return {"Input": json.dumps(child.input, default=str), "Status": "PENDING"}
    record: dict[str, Any] = {
        "ExecutionArn": child.arn,
        "Input": json.dumps(child.input, default=str),
        "InputDetails": {"Included": True},
        "Name": child.name,
    }
    if child.status == "SUCCEEDED":
        record["Output"] = json.dumps(child.output, default=str)
        record["OutputDetails"] = {"Included": True}
    record.update(
        RedriveCount=0,
        RedriveStatus="NOT_REDRIVABLE",
        RedriveStatusReason=f"Execution is {child.status} and cannot be redriven",
        StartDate=iso(child.start or datetime.datetime.now(datetime.UTC)),
        StateMachineArn=state_machine_arn,
        Status=child.status,
        StopDate=iso(child.stop or datetime.datetime.now(datetime.UTC)),
    )
    if child.status != "SUCCEEDED":
        record["Error"] = child.error
        record["Cause"] = child.cause
    return record


def _put_object(
    env: Any, resource_runtime_part: Any, state_credentials: Any
) -> None:  # replaces ResourceEvalS3._handle_put_object
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    parameters = env.stack.pop()
    env.stack.pop()  # the children's outputs: the files are built from the child records
    record = getattr(env, "_dmap_record", None) or env.map_run_record_pool_manager.get_all()[-1]
    run = run_of(record)
    s3: Any = boto_client_for(  # moto's: typed BaseClient, an S3 client
        service="s3", region=resource_runtime_part.region, state_credentials=state_credentials
    )
    bucket = parameters["Bucket"]
    prefix = parameters.get("Prefix", "") or ""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    folder = prefix + record.map_run_arn.split(":")[-1] + "/"
    by_status: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    with run.lock:
        children = sorted(run.children.values(), key=lambda c: c.index)
    for child in children:
        group = child.status if child.status in ("SUCCEEDED", "PENDING") else "FAILED"
        by_status[group].append(_record(child, record.map_state_machine_arn))
    files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    for status, records in by_status.items():
        if not records:
            continue
        body = json.dumps(records).encode("utf-8")
        key = f"{folder}{status}_0.json"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        files[status].append({"Key": key, "Size": len(body)})
    written = len(by_status["SUCCEEDED"]) + len(by_status["FAILED"])
    record.item_counter.results_written.count(written)
    record.execution_counter.results_written.count(written)
    manifest = {"DestinationBucket": bucket, "MapRunArn": record.map_run_arn, "ResultFiles": files}
    key = folder + "manifest.json"
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest).encode("utf-8"))
    env.stack.append({"MapRunArn": record.map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": key}})


def patch_distributed_map_result_writer() -> None:
    """Write ``SUCCEEDED_0.json``/``FAILED_0.json``/``PENDING_0.json``, one per status that has
    children, and list them in the manifest."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (
        resource_eval_s3 as mod,
    )

    mod.ResourceEvalS3._handle_put_object = staticmethod(_put_object)  # type: ignore[method-assign]
