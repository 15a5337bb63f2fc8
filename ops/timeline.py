"""``show --html FILE``: one self-contained page with the run's timeline (pure: a ``RunView`` in, HTML out).

One row per connection with one bar for its sync (its Map iteration's or child execution's
start to end; each free wait, a reschedule or a rate limit, is a hatched gap in it, ``.wait``
with ``data-kind`` and its reason written on it and in the bar's tip), skipped connections
without a bar, then a bar for dbt, over a labelled time axis (time since the run started).
Below: the details table. CSS and the little JavaScript (tooltips, ``ops.timeline_assets``) are
inline: the page makes no request. The time axis and its scale are ``ops.timeline_axis``.

Past ``GROUP_AFTER`` syncs (a distributed run may have 10,000), every connection that did not
succeed keeps its own bar and cause, and the succeeded ones share one row (``.row.group``): a
histogram of their end times; their details are in a ``<details>`` below the main table.
A distributed run whose full list could not be read has a ``.row.summary`` counting the rest,
and one still syncing a ``.row.progress`` with the map run's counts.

Structure the tests and the headless browser rely on: ``.bar.sync`` per synced connection,
``.bar.dbt`` when dbt ran, ``.axis .tick`` per axis label, ``.bar .wait`` per wait gap,
``<html data-bars="N" data-waits="W">`` set by the script once it has run (N = sync bars, W = wait
gaps), ``data-js-error`` set if any script error occurs.
"""

from __future__ import annotations

import json
from datetime import datetime
from html import escape

from ops.dbt_build import build_lines
from ops.display import (
    SAFETY_NET_HINT,
    dbt_text,
    duration,
    headline_cause,
    progress_text,
    resolved_without_sync_id,
    stamp,
)
from ops.run_model import RunView, SyncView
from ops.timeline_assets import AXIS_TITLE, CSS, ERROR_TRAP, LEGEND, SCRIPT
from ops.timeline_axis import Scale, axis
from ops.waits_display import KIND_WORDS, wait_line, waits_text

__all__ = ["bar_summary", "grouped", "render_timeline"]

MIN_BAR_PERCENT = 0.4
INSIDE_AFTER_PERCENT = 90.0
DBT_STATE = {"not_run": "did not run"}
GROUP_AFTER = 200  # more syncs than this: the succeeded ones share one histogram row
SKIPPED_ROWS = 200  # skipped connections drawn in the chart (the details table has them all)
HISTOGRAM_BINS = 60


def _end_of(view: RunView, now: datetime | None) -> datetime:
    ends = [m for s in view.syncs for m in (s.started, s.ended) if m]
    ends += [m for m in (view.dbt.started, view.dbt.ended, view.stopped, now) if m]
    return max([view.started, *ends])


def _bar(classes: str, start: datetime, end: datetime, scale: Scale, tip: str, inner: str = "") -> str:
    """A bar from ``start`` to ``end``, its duration written after it (inside it near the right edge)."""
    left, right = scale.pct(start), scale.pct(end)
    width = max(right - left, MIN_BAR_PERCENT)
    took = escape(duration((end - start).total_seconds()))
    inside = left + width > INSIDE_AFTER_PERCENT
    if inside:
        inner += f'<span class="inside">{took}</span>'
    bar = (
        f'<div class="bar {classes}" style="left:{left:.3f}%;width:{width:.3f}%" tabindex="0" '
        f'aria-label="{escape(tip)}" data-tip="{escape(tip)}">{inner}</div>'
    )
    return bar if inside else bar + f'<span class="after" style="left:{left + width:.3f}%">{took}</span>'


def _sync_row(sync: SyncView, scale: Scale, end: datetime) -> str:
    label = f'<div class="label" title="{escape(sync.connector_id)}">{escape(sync.connector_id)}</div>'
    if sync.started is None:
        return f'<div class="row queued">{label}<div class="track">{escape(sync.outcome)}</div></div>'
    stop = sync.ended or end
    tip = f"{sync.connector_id} · {sync.outcome} · {duration((stop - sync.started).total_seconds())}"
    if sync.sync_id:
        tip += f" · sync {sync.sync_id}"
    if sync.cause:
        tip += f"\n{sync.cause}"
    if sync.waited:
        tip += "\n" + "\n".join([waits_text(sync), *(wait_line(w) for w in sync.waits)])
    bar = _bar(f"sync {sync.outcome}", sync.started, stop, scale, tip, _gaps(sync, stop))
    connector = escape(sync.connector_id)
    return f'<div class="row" data-connector="{connector}">{label}<div class="track">{bar}</div></div>'


def _gaps(sync: SyncView, stop: datetime) -> str:
    """The sync's free waits as gaps in its bar, each with its reason (a wait whose start is unknown,
    as in ``CollectOutcomes``' bounded list, has no place on the bar)."""
    assert sync.started is not None
    bar_scale = Scale(sync.started, stop)
    inner = ""
    for wait in sync.waits:
        if wait.start is None:
            continue
        left, right = bar_scale.pct(wait.start), bar_scale.pct(wait.end or stop)
        line = escape(wait_line(wait))
        why = escape(KIND_WORDS.get(wait.kind, "waited") + (f": {wait.reason}" if wait.reason else ""))
        inner += (
            f'<span class="wait" data-kind="{escape(wait.kind)}" title="{line}" '
            f'style="left:{left:.3f}%;width:{right - left:.3f}%"><span class="why">{why}</span></span>'
        )
    return inner


def _dbt_row(view: RunView, scale: Scale, end: datetime) -> str:
    dbt = view.dbt
    label = f'<div class="label">dbt {escape(dbt.command)}</div>'
    if dbt.started is None:
        return f'<div class="row dbt-row skipped">{label}<div class="track">did not run</div></div>'
    tip = "\n".join([dbt_text(dbt), *([dbt.cause] if dbt.cause else []), *build_lines(dbt.build)])
    bar = _bar(f"dbt {dbt.state}", dbt.started, dbt.ended or end, scale, tip)
    return f'<div class="row dbt-row">{label}<div class="track">{bar}</div></div>'


def grouped(view: RunView) -> bool:
    """Too many syncs for a bar each: the succeeded ones share one row."""
    return len(view.syncs) > GROUP_AFTER


def bar_summary(view: RunView) -> str:
    """What the page draws, for ``show --html``'s message: ``3 connection sync bar(s), then dbt``."""
    drawn = [s for s in view.syncs if s.started and not (grouped(view) and s.outcome == "succeeded")]
    text = f"{len(drawn)} connection sync bar(s)"
    if grouped(view):
        text += f", {sum(1 for s in view.syncs if s.outcome == 'succeeded'):,} succeeded in one histogram row"
    return text + (", then dbt" if view.dbt.started else "")


def _group_row(succeeded: list[SyncView], scale: Scale) -> str:
    """One row for many succeeded syncs: how many ended in each of ``HISTOGRAM_BINS`` intervals."""
    bins = [0] * HISTOGRAM_BINS
    for sync in succeeded:
        if sync.ended is not None:
            bins[min(HISTOGRAM_BINS - 1, int(scale.pct(sync.ended) / 100 * HISTOGRAM_BINS))] += 1
    tallest = max(bins) or 1
    width = 100 / HISTOGRAM_BINS
    spans = []
    for i, count in enumerate(bins):
        if not count:
            continue
        start, end = i * width / 100 * scale.span, (i + 1) * width / 100 * scale.span
        title = f"{count:,} succeeded sync(s) ended between +{start:.1f} s and +{end:.1f} s"
        height = max(count / tallest * 100, 4)
        spans.append(
            f'<span class="hbin" data-count="{count}" title="{title}" '
            f'style="left:{i * width:.3f}%;width:{width * 0.9:.3f}%;height:{height:.1f}%"></span>'
        )
    label = f"{len(succeeded):,} succeeded"
    note = '<span class="note">end times (see the list below)</span>'
    return (
        f'<div class="row group" data-succeeded="{len(succeeded)}"><div class="label">{label}</div>'
        f'<div class="track">{"".join(spans)}{note}</div></div>'
    )


def _extra_rows(view: RunView) -> list[str]:
    """What the view counts but has no row for: a run still syncing, or a partial outcome list."""
    rows = []
    if view.progress is not None and not view.collected:
        rows.append(
            f'<div class="row progress"><div class="label">syncs</div>'
            f'<div class="track">{escape(progress_text(view.progress))}</div></div>'
        )
    listed_ok = sum(1 for s in view.syncs if s.outcome == "succeeded")
    listed_not_ok = len(view.syncs) - listed_ok
    missing_ok, missing_not_ok = max(0, view.ok - listed_ok), max(0, view.failed - listed_not_ok)
    if view.counts is not None and (missing_ok or missing_not_ok):
        where = f" (full list: {view.outcomes_uri})" if view.outcomes_uri else ""
        text = f"{missing_ok:,} succeeded and {missing_not_ok:,} not succeeded not listed here{where}"
        if view.outcomes_problem:
            text += f"; {view.outcomes_problem}"
        rows.append(
            f'<div class="row summary" data-missing="{missing_ok + missing_not_ok}"><div class="label">'
            f'not listed</div><div class="track">{escape(text)}</div></div>'
        )
    return rows


def _succeeded_details(succeeded: list[SyncView], scale: Scale) -> str:
    """The grouped succeeded syncs, one short row each, folded away."""
    rows = "".join(
        f"<tr><td>{escape(s.connector_id)}</td><td>{escape(s.sync_id or '—')}</td>"
        f"<td>{scale.offset(s.started)}</td><td>{escape(duration(s.duration_s))}</td></tr>"
        for s in succeeded
    )
    head = "<tr><th>connection</th><th>sync id</th><th>started</th><th>took</th></tr>"
    return (
        f'<details class="succeeded"><summary>{len(succeeded):,} succeeded connection(s)</summary>'
        f"<table><thead>{head}</thead><tbody>{rows}</tbody></table></details>"
    )


def _build_meta(view: RunView) -> str:
    """Under the headline: what dbt built and why, on one line (empty without dbt's summary)."""
    lines = build_lines(view.dbt.build)
    return f'<p class="meta build">dbt {escape(" · ".join(lines))}</p>\n' if lines else ""


def _build_notes(view: RunView) -> str:
    """What dbt built and why, one ``.dbt-build`` line each (``ops.dbt_build``)."""
    return "".join(f'<span class="dbt-build">{escape(line)}</span>' for line in build_lines(view.dbt.build))


def _details(view: RunView, scale: Scale) -> str:
    rows = []
    for sync in view.syncs:
        if grouped(view) and sync.outcome == "succeeded":
            continue
        hint = ""
        if resolved_without_sync_id(sync):
            hint = f'<span class="meta">{escape(SAFETY_NET_HINT)}</span>'
        if sync.waited:
            lines = [waits_text(sync), *(wait_line(w) for w in sync.waits[:-1])]
            hint += "".join(f'<span class="waits-note">{escape(line)}</span>' for line in lines)
        rows.append(
            "<tr>"
            f"<td><code>{escape(sync.connector_id)}</code></td><td>{escape(sync.outcome)}</td>"
            f"<td><code>{escape(sync.sync_id or '—')}</code></td><td>{scale.offset(sync.started)}</td>"
            f"<td>{escape(duration(sync.duration_s))}</td>"
            f'<td class="cause-cell">{escape(sync.cause or "")}{hint}</td>'
            "</tr>"
        )
    for skipped in view.skipped:
        rows.append(
            f"<tr><td><code>{escape(skipped.connector_id)}</code></td><td>skipped</td><td>—</td><td>—</td>"
            f"<td>—</td><td>{escape(skipped.reason)}</td></tr>"
        )
    dbt_state = DBT_STATE.get(view.dbt.state, view.dbt.state)
    rows.append(
        f"<tr><td><b>dbt {escape(view.dbt.command)}</b></td><td>{escape(dbt_state)}</td><td>—</td>"
        f"<td>{scale.offset(view.dbt.started)}</td><td>{escape(duration(view.dbt.duration_s))}</td>"
        f'<td class="cause-cell">{escape(view.dbt.cause or "")}{_build_notes(view)}</td></tr>'
    )
    head = "".join(f"<th>{h}</th>" for h in ("connection", "outcome", "sync id", "started", "took", "detail"))
    head = f"<tr>{head}</tr>"
    table = f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
    if grouped(view):
        table += _succeeded_details([s for s in view.syncs if s.outcome == "succeeded"], scale)
    return table


def render_timeline(view: RunView, *, now: datetime | None = None, rerun: str | None = None) -> str:
    """The whole page. ``now`` closes the bars of a run still in progress; ``rerun``: the command
    that re-runs what failed (``display.rerun_command``), shown under the cause."""
    end = _end_of(view, now)
    scale = Scale(view.started, end)
    axis_row, grid = axis(scale)
    many = grouped(view)
    rows = [_sync_row(sync, scale, end) for sync in view.syncs if not (many and sync.outcome == "succeeded")]
    if many:
        rows.insert(0, _group_row([s for s in view.syncs if s.outcome == "succeeded"], scale))
    rows += _extra_rows(view)
    rows += [
        f'<div class="row skipped"><div class="label">{escape(s.connector_id)}</div>'
        f'<div class="track">skipped: {escape(s.reason)}</div></div>'
        for s in view.skipped[:SKIPPED_ROWS]
    ]
    if view.skipped_total > SKIPPED_ROWS:
        more = view.skipped_total - min(SKIPPED_ROWS, len(view.skipped))
        rows.append(
            f'<div class="row skipped"><div class="label">…</div>'
            f'<div class="track">and {more:,} more skipped (see the details)</div></div>'
        )
    rows.append(_dbt_row(view, scale, end))
    took = duration(view.duration_s) if view.stopped else "still running"
    cause = ""
    if view.error:
        cause = f'<div class="cause"><b>{escape(view.error)}</b>: {escape(headline_cause(view) or "")}</div>'
    if rerun:
        cause += f'<p class="rerun">re-run: <code>{escape(rerun)}</code></p>'
    title = f"run {view.name} · {view.status}"
    dbt_summary = "dbt did not run" if view.dbt.state == "not_run" else dbt_text(view.dbt)
    status = escape(view.status)
    return f"""<!doctype html>
<html lang="en" data-bars="0">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<script>{ERROR_TRAP}</script>
<style>{CSS}</style>
</head>
<body>
<h1>run <code>{escape(view.name)}</code> <span class="status {status}">{status}</span></h1>
<p class="meta">started {escape(stamp(view.started))} · took {escape(took)} ·
{view.ok:,} ok, {view.failed:,} failed, {view.skipped_total:,} skipped · {escape(dbt_summary)}</p>
{_build_meta(view)}<p class="meta">input <code>{escape(json.dumps(view.input, sort_keys=True))}</code></p>
<p class="meta"><code>{escape(view.arn)}</code></p>
{cause}
<h2>timeline</h2>
<div class="chart" role="figure" aria-label="timeline of the run">
{grid}
{"".join(rows)}
{axis_row}
</div>
{AXIS_TITLE}
{LEGEND}
<h2>details</h2>
{_details(view, scale)}
<div id="tip" hidden></div>
<script>{SCRIPT}</script>
</body>
</html>
"""
