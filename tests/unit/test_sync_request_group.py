"""The group a sync's task token record keeps: the run's group, or in a run of several groups (whose
options carry ``group_id: null``) the group the connection was listed in."""

from __future__ import annotations

from chalicelib.run.syncs import SyncRequest

BASE = {"task_token": "t" * 40, "execution_id": "arn:exec", "sync_timeout_seconds": 600}


def test_a_run_of_one_group_keeps_the_run_s_group() -> None:
    request = SyncRequest({**BASE, "group_id": "sales", "connector": {"connector_id": "stripe_prod"}})
    assert request.group_id == "sales"


def test_a_run_of_several_groups_keeps_the_group_the_connection_was_listed_in() -> None:
    connector = {"connector_id": "netsuite", "group_id": "finance"}
    request = SyncRequest({**BASE, "group_id": None, "connector": connector})
    assert request.group_id == "finance"


def test_a_run_by_connector_ids_keeps_no_group() -> None:
    request = SyncRequest({**BASE, "group_id": None, "connector": {"connector_id": "stripe_prod"}})
    assert request.group_id is None
