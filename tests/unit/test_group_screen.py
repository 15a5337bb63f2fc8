"""The safety net's group screen: one listing per waiting group, and only the connections it shows may have
changed are read further (``chalicelib/safety_net/group_screen.py``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.fivetran.client import Connection
from chalicelib.platform.errors import FivetranApiError, FivetranAuthError, FivetranNotFound
from chalicelib.safety_net.group_screen import (
    FULL_CHECK_SECONDS,
    RESCHEDULED_RECHECK_SECONDS,
    refused,
    screen,
)
from chalicelib.tokens.records import TokenRecord
from tests.fakes import connection

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
ACCEPTED = NOW - timedelta(seconds=90)


def token(connector_id: str, *, group: str | None = "group", **more: object) -> TokenRecord:
    """A token armed 90 s ago (Fivetran accepted its trigger then), never read by the safety net."""
    fields: dict[str, object] = {
        "connector_id": connector_id,
        "token_id": f"t-{connector_id}",
        "task_token": "not-a-real-token",
        "execution_id": "arn:aws:states:us-east-1:123456789012:execution:x:run",
        "requested_at": ACCEPTED,
        "expires_at": 0,
        "accepted_at": ACCEPTED,
        "group_id": group,
    }
    fields.update(more)
    return TokenRecord(**fields)  # type: ignore[arg-type]


class Lister:
    """Fivetran's group listing: ``groups`` maps a group to its connections; ``error`` is raised instead."""

    def __init__(self, *connections: Connection, error: Exception | None = None) -> None:
        self.groups: dict[str, list[Connection]] = {"group": list(connections)}
        self.error = error
        self.calls: list[str] = []

    def list_group_connections(self, group_id: str, *, timeout: float | None = None) -> list[Connection]:
        self.calls.append(group_id)
        if self.error is not None:
            raise self.error
        if group_id not in self.groups:
            raise FivetranNotFound(f"no group {group_id}", status=404)
        return self.groups[group_id]


def due(*records: TokenRecord) -> list[tuple[str, list[TokenRecord]]]:
    return [(r.connector_id, [r]) for r in records]


def read_ids(lister: Lister, *records: TokenRecord) -> list[str]:
    return [r.connector_id for r in screen(due(*records), lister, now=NOW, read_timeout=5).to_read]


def test_connections_whose_listing_shows_no_change_are_not_read_and_their_group_is_listed_once() -> None:
    before = ACCEPTED - timedelta(hours=1)
    lister = Lister(*(connection(c, succeeded_at=before, sync_state="syncing") for c in ("a", "b", "c")))

    found = screen(due(token("a"), token("b"), token("c")), lister, now=NOW, read_timeout=5)

    assert found.to_read == []
    assert found.unchanged == 3
    assert lister.calls == ["group"]
    assert found.groups_listed == 1


def test_a_connection_whose_sync_ended_after_its_trigger_is_read_with_the_listed_connection() -> None:
    ended = ACCEPTED + timedelta(seconds=40)
    lister = Lister(
        connection("a", succeeded_at=ended), connection("b", failed_at=ACCEPTED - timedelta(hours=2))
    )

    found = screen(due(token("a"), token("b")), lister, now=NOW, read_timeout=5)

    assert [(r.connector_id, r.why) for r in found.to_read] == [("a", "a sync ended")]
    assert found.to_read[0].listed is not None and found.to_read[0].listed.succeeded_at == ended


def test_a_failed_sync_end_is_a_change_too() -> None:
    lister = Lister(connection("a", failed_at=ACCEPTED + timedelta(seconds=5)))

    assert read_ids(lister, token("a")) == ["a"]


def test_an_end_already_seen_by_the_last_read_is_not_read_again_until_another_sync_ends() -> None:
    seen = ACCEPTED + timedelta(seconds=1)  # a sync that ended within the trigger's second: not ours
    read_before = token("a", seen_end=seen, checked_at=NOW.timestamp() - 60)

    assert read_ids(Lister(connection("a", succeeded_at=seen)), read_before) == []
    later = seen + timedelta(minutes=3)
    assert read_ids(Lister(connection("a", succeeded_at=later)), read_before) == ["a"]


@pytest.mark.parametrize(
    ("change", "why"),
    [({"paused": True}, "paused"), ({"setup_state": "broken"}, "setup broken")],
)
def test_a_paused_or_broken_connection_is_read_so_its_dropped_sync_fails(change: dict, why: str) -> None:
    lister = Lister(replace(connection("a"), **change))

    found = screen(due(token("a")), lister, now=NOW, read_timeout=5)

    assert [r.why for r in found.to_read] == [why]


def test_a_connection_missing_from_its_groups_listing_is_read_alone() -> None:
    found = screen(due(token("gone")), Lister(connection("a")), now=NOW, read_timeout=5)

    assert [(r.connector_id, r.listed, r.why) for r in found.to_read] == [
        ("gone", None, "not in its group's listing")
    ]


def test_tokens_without_a_group_or_of_a_group_fivetran_does_not_know_are_read_alone() -> None:
    lister = Lister(connection("a"))

    found = screen(
        due(token("a", group=None), token("b", group="deleted_group")), lister, now=NOW, read_timeout=5
    )

    assert [(r.connector_id, r.why) for r in found.to_read] == [("a", "read alone"), ("b", "read alone")]
    assert lister.calls == ["deleted_group"]


def test_a_rescheduled_connection_is_read_at_most_every_few_minutes_per_token() -> None:
    lister = Lister(connection("a", sync_state="rescheduled"))
    just_read = NOW.timestamp() - RESCHEDULED_RECHECK_SECONDS + 10
    long_ago = NOW.timestamp() - RESCHEDULED_RECHECK_SECONDS - 10

    assert read_ids(lister, token("a")) == ["a"]
    assert read_ids(lister, token("a", checked_at=just_read)) == []
    assert read_ids(lister, token("a", checked_at=long_ago)) == ["a"]


def test_a_token_waiting_for_fivetran_to_resume_a_rescheduled_sync_is_not_read_for_the_state_alone() -> None:
    resume = token("a", accepted_at=None, resume_after=ACCEPTED, exclude_sync_id="rescheduled_one")

    assert read_ids(Lister(connection("a", sync_state="rescheduled")), resume) == []


def test_a_token_not_read_for_an_hour_is_read_whatever_the_listing_shows() -> None:
    lister = Lister(connection("a", sync_state="syncing"))
    stale = token("a", checked_at=NOW.timestamp() - FULL_CHECK_SECONDS)

    found = screen(due(stale), lister, now=NOW, read_timeout=5)

    assert [r.why for r in found.to_read] == ["full check"]


def test_a_group_that_cannot_be_listed_skips_its_connections_this_pass_and_keeps_the_error() -> None:
    outage = FivetranApiError("503 from Fivetran", status=503)

    found = screen(due(token("a"), token("b")), Lister(error=outage), now=NOW, read_timeout=5)

    assert found.to_read == []
    assert found.errors == [outage]
    assert refused(found.errors) is None


def test_a_refused_key_on_the_listing_is_reported_as_refused() -> None:
    denied = FivetranAuthError("401: the API key was refused", status=401)

    found = screen(due(token("a")), Lister(error=denied), now=NOW, read_timeout=5)

    assert refused(found.errors) is denied


def test_groups_left_when_the_pass_has_no_time_left_are_not_listed_and_say_so() -> None:
    lister = Lister(connection("a", succeeded_at=ACCEPTED + timedelta(seconds=5)))

    found = screen(due(token("a")), lister, now=NOW, read_timeout=5, time_left=lambda: False)

    assert (found.to_read, lister.calls, found.out_of_time) == ([], [], True)
