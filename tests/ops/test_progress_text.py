"""The progress line of a distributed run: counts once the map run knows them, never ``0/0 done``
before."""

from __future__ import annotations

from ops.display import progress_text
from ops.run_model import MapProgress


def test_a_map_run_that_has_not_counted_its_items_says_it_is_listing_connections() -> None:
    assert progress_text(MapProgress()) == "syncing: listing connections…"


def test_a_map_run_with_counts_shows_them() -> None:
    shown = progress_text(MapProgress(total=10, running=4, pending=6))
    assert shown == "syncing: 0/10 done (0 succeeded, 0 failed), 4 running, 6 pending"


def test_a_finished_map_run_of_no_items_says_so() -> None:
    assert progress_text(MapProgress(status="SUCCEEDED")).startswith("syncing: 0/0 done")
