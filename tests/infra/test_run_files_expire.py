"""Run files do not pile up: ``runs/`` and ``map-runs/`` expire after ``RunFilesRetentionDays`` (30 by
default), and so do the noncurrent versions the versioned bucket keeps of them (issue 20)."""

from __future__ import annotations

from typing import Any

import pytest

RUN_FILE_PREFIXES = ("runs/", "map-runs/")


def lifecycle_rules(resources: dict[str, Any]) -> list[dict[str, Any]]:
    lifecycle = resources["ArtifactsBucket"]["Properties"]["LifecycleConfiguration"]
    rules: list[dict[str, Any]] = lifecycle["Rules"]
    return rules


@pytest.mark.parametrize("prefix", RUN_FILE_PREFIXES)
def test_each_run_file_prefix_expires_after_the_retention_parameter(
    resources: dict[str, Any], prefix: str
) -> None:
    (rule,) = [r for r in lifecycle_rules(resources) if r.get("Prefix") == prefix]

    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == {"Ref": "RunFilesRetentionDays"}
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] >= 1


def test_run_files_are_kept_30_days_by_default_and_at_least_one(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["RunFilesRetentionDays"]

    assert parameter["Default"] == 30
    assert parameter["MinValue"] == 1


def test_the_bucket_that_keeps_run_files_is_versioned_so_old_versions_need_their_own_expiry(
    resources: dict[str, Any],
) -> None:
    assert resources["ArtifactsBucket"]["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    versioned_rules = [r for r in lifecycle_rules(resources) if r.get("Prefix") in RUN_FILE_PREFIXES]
    assert len(versioned_rules) == len(RUN_FILE_PREFIXES)
    assert all("NoncurrentVersionExpiration" in r for r in versioned_rules)
