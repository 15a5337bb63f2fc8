"""Waits you can see (issue 27): a run whose syncs were rescheduled or rate-limited says so everywhere.

One runtime plays ``scenarios/waits.yaml``: Fivetran reschedules ``hubspot_crm`` (a manual-schedule
connection) for 2 s with the reason "source API quota", and a tiny API budget makes the other
triggers wait for their own slot. One ``start-run --wait`` of the group; then ``show`` and
``show --html`` of that run, the page read both by an HTML parser and by headless Chromium.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import Result

from contracts.state_file import STATE_FILE_ENV
from tests.ops.browser import ensure_chromium, load
from tests.ops.support import SCENARIOS, Elements, Served, invoke

SCENARIO = SCENARIOS / "waits.yaml"
BROWSER_TIMEOUT_S = 1200  # the first browser test may install chromium with apt-get
WAITED = re.compile(r"waited (\d+)x free \((\d+) rescheduled, (\d+) rate-limited\)")


def run_cli(served: Served, *args: str) -> Result:
    return invoke(list(args), env={STATE_FILE_ENV: str(served.state_file)})


@pytest.fixture(scope="module")
def followed(served: Served) -> Result:
    result = run_cli(served, "start-run", "--local", "--group", "waits_group", "--wait")
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def run_name(followed: Result) -> str:
    found = re.search(r"^run (\S+) SUCCEEDED in ", followed.output, re.MULTILINE)
    assert found, followed.output
    return found.group(1)


@pytest.fixture(scope="module")
def shown(served: Served, run_name: str) -> Result:
    result = run_cli(served, "show", run_name, "--local")
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def page(served: Served, run_name: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("waits-html") / "run.html"
    result = run_cli(served, "show", run_name, "--local", "--html", str(path))
    assert result.exit_code == 0, result.output
    return path


def line_of(output: str, connector_id: str) -> str:
    """The one printed line (or table row, its detail cell folded) that names the connection."""
    lines = [line for line in output.splitlines() if connector_id in line]
    assert lines, output
    return lines[0]


def test_start_run_wait_says_the_rescheduled_connection_waited_and_why(followed: Result) -> None:
    line = line_of(followed.output, "hubspot_crm")

    assert re.search(r"✓ hubspot_crm\s+succeeded", line), line
    waited = WAITED.search(line)
    assert waited, line
    assert int(waited.group(2)) == 1  # the one reschedule; its budget waits are rate-limited ones
    assert int(waited.group(1)) == int(waited.group(2)) + int(waited.group(3))
    assert "selection: new data (mode new_data)" in followed.output  # once dbt's summary is read
    # The budget lets one trigger through at once: of the two others, at most one did not wait.
    assert sum("waited" not in line_of(followed.output, c) for c in ("stripe_prod", "postgres_app")) <= 1


def detail_cells(output: str) -> dict[str, str]:
    """The ``detail`` cell of each row of ``show``'s table, its folded lines joined again."""
    rows: dict[str, list[str]] = {}
    last = None
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if len(cells) != 6:
            continue
        last = cells[0] or last
        if last is not None:
            rows.setdefault(last, []).append(cells[5])
    return {connection: " ".join(part for part in parts if part) for connection, parts in rows.items()}


def test_show_names_each_wait_count_and_the_last_ones_time_and_reason(shown: Result) -> None:
    detail = detail_cells(shown.output)["hubspot_crm"]

    assert WAITED.search(detail), shown.output
    kind = r"(rescheduled by Fivetran|waited for the API budget)"
    last = rf"last: {kind} until \d\d:\d\d:\d\d UTC \([0-9.]+ s\): \S+"
    assert re.search(last, detail), detail
    assert "connections: 3 ok, 0 failed, 0 skipped" in shown.output


def test_show_says_what_dbt_selected_and_built(shown: Result) -> None:
    output = shown.output

    assert "selection: new data (mode new_data)" in output
    assert re.search(r"models built( \(\d+\))?: ", output), output
    assert re.search(
        r"skipped for no new data: \d+ node\(s\) \(full list: s3://\S+/selection\.json\)", output
    )


def test_the_page_draws_the_reschedule_as_a_gap_in_the_bar_with_its_reason(page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    elements = Elements(html)

    (hubspot,) = [b for b in elements.with_class("bar", "sync") if b["data-tip"].startswith("hubspot_crm")]
    assert "rescheduled by Fivetran until" in hubspot["data-tip"]
    gaps = elements.with_class("wait")
    rescheduled = [g for g in gaps if g["data-kind"] == "rescheduled"]
    assert len(rescheduled) == 1 and "source API quota" in rescheduled[0]["title"]
    assert all(g["data-kind"] in ("rescheduled", "api_budget") for g in gaps)
    width = float(re.search(r"width:([0-9.]+)%", rescheduled[0]["style"]).group(1))  # type: ignore[union-attr]
    assert 0 < width < 100  # a gap inside the bar, not the whole bar
    assert "rescheduled by Fivetran: Rescheduled for" in html  # the reason written on the gap
    assert "selection: new data (mode new_data)" in html


@pytest.mark.timeout(BROWSER_TIMEOUT_S)
def test_the_page_with_waits_loads_in_headless_chromium_and_its_script_counts_the_gaps(page: Path) -> None:
    chromium = ensure_chromium()

    loaded = load(chromium, page)

    root = dict(Elements(loaded.dom).tags)["html"]
    assert loaded.console == []
    assert "data-js-error" not in root
    assert root["data-bars"] == "3"
    gaps = Elements(loaded.dom).with_class("wait")
    assert int(root["data-waits"]) == len(gaps) >= 2  # the reschedule, and at least one budget wait
