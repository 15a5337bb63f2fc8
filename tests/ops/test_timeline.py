"""`show --html`'s page, rendered from a known history: its structure, its scale, its independence."""

from __future__ import annotations

import re

import pytest

from ops.runview import build_run_view
from ops.timeline import render_timeline
from ops.timeline_axis import nice_step, tick_label
from tests.ops.histories import RunHistory, succeeded_run
from tests.ops.support import Elements


def percent(style: str, prop: str) -> float:
    found = re.search(rf"{prop}:([0-9.]+)%", style)
    assert found, style
    return float(found.group(1))


@pytest.fixture
def page() -> str:
    return render_timeline(build_run_view(*succeeded_run()))


def test_the_page_has_one_sync_bar_per_synced_connection_then_a_dbt_bar(page: str) -> None:
    elements = Elements(page)

    sync_bars = elements.with_class("bar", "sync")
    assert [bar["data-tip"].split(" · ")[0] for bar in sync_bars] == ["stripe_prod", "hubspot_crm"]
    assert len(elements.with_class("bar", "dbt")) == 1
    assert page.index("hubspot_crm") < page.index('class="bar dbt')
    skipped_rows = elements.with_class("row", "skipped")
    assert len(skipped_rows) == 1 and "zendesk_support" in page


def test_bars_sit_at_their_times_on_a_labelled_axis(page: str) -> None:
    elements = Elements(page)
    stripe, hubspot = elements.with_class("bar", "sync")
    dbt = elements.with_class("bar", "dbt")[0]

    # The run took 12 s: stripe ran 0.5 → 2.5 s, hubspot 0.6 → 4.6 s, dbt 5.0 → 11.5 s.
    assert percent(stripe["style"], "left") == pytest.approx(0.5 / 12 * 100, abs=0.01)
    assert percent(stripe["style"], "width") == pytest.approx(2.0 / 12 * 100, abs=0.01)
    assert percent(hubspot["style"], "width") == pytest.approx(4.0 / 12 * 100, abs=0.01)
    assert percent(dbt["style"], "left") == pytest.approx(5.0 / 12 * 100, abs=0.01)
    ticks = re.findall(r'class="tick[^"]*" style="left:[0-9.]+%">([^<]+)<', page)
    assert ticks == ["0 s", "2 s", "4 s", "6 s", "8 s", "10 s", "12 s"]
    assert "time since the run started" in page


def test_the_page_is_self_contained(page: str) -> None:
    elements = Elements(page)

    assert not [a for tag, a in elements.tags if tag in ("link", "img", "iframe") or "src" in a]
    assert not re.search(r"https?://", page.replace("http://www.w3.org", ""))
    assert "@import" not in page and "url(" not in page
    assert page.count("<style>") == 1 and page.count("<script>") == 2


def test_text_from_the_run_is_escaped() -> None:
    history = RunHistory().listed(["<script>alert(1)</script>"]).iteration_started(0, 0.1)
    history.recorded(0, 1.0, outcome="failed", error="Fivetran.SyncFailed", cause='"quoted" & <b>bold</b>')

    page = render_timeline(build_run_view(history.described("FAILED", 2.0), history.events))

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page


def test_a_rescheduled_sync_shows_its_wait_inside_its_bar() -> None:
    history = RunHistory().listed(["hubspot_crm"]).iteration_started(0, 0.0).waited(0, 1.0, 3.0)
    history.recorded(0, 4.0, sync_id="s")

    elements = Elements(render_timeline(build_run_view(history.described("SUCCEEDED", 4.0), history.events)))

    (wait,) = elements.with_class("wait")
    assert percent(wait["style"], "left") == pytest.approx(25.0)
    assert percent(wait["style"], "width") == pytest.approx(50.0)


@pytest.mark.parametrize(
    ("span", "step"),
    [(0.8, 0.1), (1.5, 0.2), (12, 2), (95, 10), (3_600, 600), (6 * 3_600, 3_600), (8e5, 86_400)],
)
def test_axis_steps_are_round_and_keep_at_most_ten_intervals(span: float, step: float) -> None:
    assert nice_step(span) == step
    assert span / nice_step(span) <= 10


@pytest.mark.parametrize(
    ("offset", "step", "label"),
    [
        (0.4, 0.2, "0.4 s"),
        (30, 5, "30 s"),
        (90, 30, "1:30"),
        (1_800, 300, "30 min"),
        (9_000, 1_800, "2 h 30"),
    ],
)
def test_tick_labels_are_as_precise_as_the_step(offset: float, step: float, label: str) -> None:
    assert tick_label(offset, step) == label
