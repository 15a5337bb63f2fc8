"""``show --html FILE``: one self-contained page with the run's timeline (pure: a ``RunView`` in, HTML out).

One row per connection with one bar for its sync (its Map iteration's or child execution's
start to end; the free waits of rescheduled syncs are hatched inside it), skipped connections
without a bar, then a bar for dbt, over a labelled time axis (time since the run started).
Below: the details table. CSS and the little JavaScript (tooltips) are inline: the page makes
no request.

Past ``GROUP_AFTER`` syncs (a distributed run may have 10,000), every connection that did not
succeed keeps its own bar and cause, and the succeeded ones share one row (``.row.group``): a
histogram of their end times; their details are in a ``<details>`` below the main table.
A distributed run whose full list could not be read has a ``.row.summary`` counting the rest,
and one still syncing a ``.row.progress`` with the map run's counts.

Structure the tests and the headless browser rely on: ``.bar.sync`` per synced connection,
``.bar.dbt`` when dbt ran, ``.axis .tick`` per axis label, ``<html data-bars="N">`` set by the
script once it has run (N = sync bars), ``data-js-error`` set if any script error occurs.
"""

from __future__ import annotations

import json
from datetime import datetime
from html import escape

from ops.display import (
    SAFETY_NET_HINT,
    dbt_text,
    duration,
    headline_cause,
    progress_text,
    resolved_without_sync_id,
    stamp,
)
from ops.runview import RunView, SyncView

__all__ = ["bar_summary", "grouped", "nice_step", "render_timeline", "tick_label"]

STEPS = (
    0.1,
    0.2,
    0.5,
    1,
    2,
    5,
    10,
    15,
    30,
    60,
    120,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    10800,
    21600,
    43200,
    86400,
)
MAX_TICKS = 10
MIN_BAR_PERCENT = 0.4
INSIDE_AFTER_PERCENT = 90.0
DBT_STATE = {"not_run": "did not run"}
GROUP_AFTER = 200  # more syncs than this: the succeeded ones share one histogram row
SKIPPED_ROWS = 200  # skipped connections drawn in the chart (the details table has them all)
HISTOGRAM_BINS = 60

CSS = """
:root { --ok: #2e7d32; --failed: #c62828; --timed_out: #ef6c00; --unfinished: #8d6e63; --running: #0277bd;
  --dbt: #5e35b1; --grid: #e6e6e6; --muted: #6b6b6b; --label: 220px;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f1f1f; }
body { margin: 24px 32px; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 15px; margin: 28px 0 8px; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
.status { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px;
  vertical-align: middle; }
.status.SUCCEEDED { background: var(--ok); } .status.FAILED { background: var(--failed); }
.status.TIMED_OUT, .status.ABORTED { background: var(--timed_out); }
.status.RUNNING { background: var(--running); }
.meta { color: var(--muted); margin: 2px 0; }
.cause { border-left: 4px solid var(--failed); background: #fdecea; padding: 8px 12px; margin: 12px 0;
  white-space: pre-wrap; }
.chart { position: relative; margin-top: 16px; }
.row { display: grid; grid-template-columns: var(--label) 1fr; align-items: center; min-height: 26px; }
.label { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; text-align: right; padding-right: 12px;
  white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.track { position: relative; height: 20px; }
.grid { position: absolute; top: 0; bottom: 0; left: var(--label); right: 0; pointer-events: none; }
.grid span { position: absolute; top: 0; bottom: 0; border-left: 1px solid var(--grid); }
.bar { position: absolute; top: 2px; height: 16px; border-radius: 3px; cursor: default; outline-offset: 2px; }
.bar.succeeded { background: var(--ok); } .bar.failed { background: var(--failed); }
.bar.timed_out { background: var(--timed_out); } .bar.unfinished { background: var(--unfinished); }
.bar.running, .bar.queued { background: repeating-linear-gradient(45deg, var(--running), var(--running) 6px,
  #4fc3f7 6px, #4fc3f7 12px); }
.bar.dbt.succeeded { background: var(--dbt); }
.wait { position: absolute; top: 0; bottom: 0; background: repeating-linear-gradient(-45deg,
  rgba(255,255,255,.75), rgba(255,255,255,.75) 3px, transparent 3px, transparent 6px); }
.after { position: absolute; top: 2px; font-size: 12px; color: var(--muted); white-space: nowrap;
  padding-left: 6px; }
.inside { position: absolute; right: 6px; top: 0; font-size: 11px; line-height: 16px; color: #fff;
  white-space: nowrap; }
.skipped .track { color: var(--muted); font-size: 12px; font-style: italic; padding-top: 2px; }
.row.dbt-row { border-top: 1px dashed #bdbdbd; margin-top: 6px; padding-top: 6px; }
.axis .track { height: 22px; border-top: 1px solid #9e9e9e; }
.axis .tick { position: absolute; top: 3px; transform: translateX(-50%); font-size: 11px; color: var(--muted);
  white-space: nowrap; }
.axis .tick.first { transform: none; }
.axis-title div:last-child { text-align: center; color: var(--muted); font-size: 12px; }
.row.group .track, .row.summary .track, .row.progress .track { color: var(--muted); font-size: 12px; }
.hbin { position: absolute; bottom: 0; background: var(--ok); opacity: .85; border-radius: 1px 1px 0 0; }
.row.group { min-height: 44px; } .row.group .track { height: 40px; }
.row.group .note { position: absolute; top: 0; right: 0; font-size: 11px; }
details { margin: 12px 0; } summary { cursor: pointer; }
.rerun { margin: 8px 0; }
.legend { margin: 10px 0 0 var(--label); font-size: 12px; color: var(--muted); }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin: 0 4px -2px 12px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { text-align: left; padding: 4px 10px; border-bottom: 1px solid #eee; vertical-align: top; }
td.cause-cell { max-width: 560px; color: var(--failed); overflow-wrap: anywhere; }
td code { white-space: nowrap; }
#tip { position: absolute; background: #212121; color: #fff; padding: 6px 9px; border-radius: 4px;
  font-size: 12px; max-width: 480px; pointer-events: none; white-space: pre-wrap; z-index: 2; }
"""

# The first script only records errors (so a headless browser can see them); the second adds tooltips.
ERROR_TRAP = (
    'window.addEventListener("error",function(e){document.documentElement.setAttribute('
    '"data-js-error",String(e.message||e));});'
)
SCRIPT = """
(function () {
  "use strict";
  var tip = document.getElementById("tip");
  var bars = document.querySelectorAll(".bar");
  function show(event) {
    var bar = event.currentTarget, box = bar.getBoundingClientRect();
    tip.textContent = bar.getAttribute("data-tip");
    tip.hidden = false;
    tip.style.left = Math.max(8, box.left + window.scrollX) + "px";
    tip.style.top = (box.bottom + window.scrollY + 6) + "px";
  }
  function hide() { tip.hidden = true; }
  for (var i = 0; i < bars.length; i++) {
    bars[i].addEventListener("mouseenter", show);
    bars[i].addEventListener("focus", show);
    bars[i].addEventListener("mouseleave", hide);
    bars[i].addEventListener("blur", hide);
  }
  document.documentElement.setAttribute("data-bars", String(document.querySelectorAll(".bar.sync").length));
})();
"""


def nice_step(span_s: float) -> float:
    """The smallest round step (0.1 s … 1 day) that labels the span with at most ``MAX_TICKS`` intervals."""
    for step in STEPS:
        if span_s / step <= MAX_TICKS:
            return step
    return STEPS[-1] * (int(span_s // (STEPS[-1] * MAX_TICKS)) + 1)


def tick_label(offset_s: float, step: float) -> str:
    """``0.5 s``, ``10 s``, ``1:30``, ``5 min``, ``2 h 30``: as precise as the step needs."""
    if step < 1:
        return f"{offset_s:.1f} s"
    seconds = round(offset_s)
    if step < 60:
        return f"{seconds} s" if seconds < 60 else f"{seconds // 60}:{seconds % 60:02d}"
    if seconds < 3600:
        return f"{seconds // 60} min"
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h" if not rest else f"{hours} h {rest // 60:02d}"


class _Scale:
    """Times to percentages of the chart's width."""

    def __init__(self, start: datetime, end: datetime) -> None:
        self.start = start
        self.span = max((end - start).total_seconds(), 1.0)

    def pct(self, moment: datetime) -> float:
        return min(100.0, max(0.0, (moment - self.start).total_seconds() / self.span * 100))

    def offset(self, moment: datetime | None) -> str:
        return "—" if moment is None else f"+{(moment - self.start).total_seconds():.1f} s"


def _end_of(view: RunView, now: datetime | None) -> datetime:
    ends = [m for s in view.syncs for m in (s.started, s.ended) if m]
    ends += [m for m in (view.dbt.started, view.dbt.ended, view.stopped, now) if m]
    return max([view.started, *ends])


def _bar(classes: str, start: datetime, end: datetime, scale: _Scale, tip: str, inner: str = "") -> str:
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


def _sync_row(sync: SyncView, scale: _Scale, end: datetime) -> str:
    label = f'<div class="label" title="{escape(sync.connector_id)}">{escape(sync.connector_id)}</div>'
    if sync.started is None:
        return f'<div class="row queued">{label}<div class="track">{escape(sync.outcome)}</div></div>'
    stop = sync.ended or end
    tip = f"{sync.connector_id} · {sync.outcome} · {duration((stop - sync.started).total_seconds())}"
    if sync.sync_id:
        tip += f" · sync {sync.sync_id}"
    if sync.cause:
        tip += f"\n{sync.cause}"
    inner = ""
    bar_scale = _Scale(sync.started, stop)
    for wait_start, wait_end in sync.waits:
        left, right = bar_scale.pct(wait_start), bar_scale.pct(wait_end or stop)
        inner += f'<span class="wait" style="left:{left:.3f}%;width:{right - left:.3f}%"></span>'
    bar = _bar(f"sync {sync.outcome}", sync.started, stop, scale, tip, inner)
    connector = escape(sync.connector_id)
    return f'<div class="row" data-connector="{connector}">{label}<div class="track">{bar}</div></div>'


def _dbt_row(view: RunView, scale: _Scale, end: datetime) -> str:
    dbt = view.dbt
    label = f'<div class="label">dbt {escape(dbt.command)}</div>'
    if dbt.started is None:
        return f'<div class="row dbt-row skipped">{label}<div class="track">did not run</div></div>'
    tip = dbt_text(dbt) + (f"\n{dbt.cause}" if dbt.cause else "")
    bar = _bar(f"dbt {dbt.state}", dbt.started, dbt.ended or end, scale, tip)
    return f'<div class="row dbt-row">{label}<div class="track">{bar}</div></div>'


def _axis(scale: _Scale) -> tuple[str, str]:
    """The axis row and the grid lines (one per tick); the caption goes below the chart, out of the grid."""
    step = nice_step(scale.span)
    ticks, lines = [], []
    for i in range(int(scale.span / step + 1e-9) + 1):
        offset = i * step
        left = offset / scale.span * 100
        edge = " first" if i == 0 else ""
        ticks.append(f'<span class="tick{edge}" style="left:{left:.3f}%">{tick_label(offset, step)}</span>')
        lines.append(f'<span style="left:{left:.3f}%"></span>')
    axis = f'<div class="row axis"><div class="label"></div><div class="track">{"".join(ticks)}</div></div>'
    return axis, f'<div class="grid" aria-hidden="true">{"".join(lines)}</div>'


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


def _group_row(succeeded: list[SyncView], scale: _Scale) -> str:
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


def _succeeded_details(succeeded: list[SyncView], scale: _Scale) -> str:
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


def _details(view: RunView, scale: _Scale) -> str:
    rows = []
    for sync in view.syncs:
        if grouped(view) and sync.outcome == "succeeded":
            continue
        hint = ""
        if resolved_without_sync_id(sync):
            hint = f'<span class="meta">{escape(SAFETY_NET_HINT)}</span>'
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
        f'<td class="cause-cell">{escape(view.dbt.cause or "")}</td></tr>'
    )
    head = "".join(f"<th>{h}</th>" for h in ("connection", "outcome", "sync id", "started", "took", "detail"))
    head = f"<tr>{head}</tr>"
    table = f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
    if grouped(view):
        table += _succeeded_details([s for s in view.syncs if s.outcome == "succeeded"], scale)
    return table


AXIS_TITLE = (
    '<div class="row axis-title"><div class="label"></div><div>time since the run started</div></div>'
)
LEGEND = (
    '<p class="legend"><i style="background:var(--ok)"></i>succeeded'
    '<i style="background:var(--failed)"></i>failed'
    '<i style="background:var(--timed_out)"></i>timed out<i style="background:var(--running)"></i>running'
    '<i style="background:var(--dbt)"></i>dbt</p>'
)


def render_timeline(view: RunView, *, now: datetime | None = None, rerun: str | None = None) -> str:
    """The whole page. ``now`` closes the bars of a run still in progress; ``rerun``: the command
    that re-runs what failed (``display.rerun_command``), shown under the cause."""
    end = _end_of(view, now)
    scale = _Scale(view.started, end)
    axis, grid = _axis(scale)
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
<p class="meta">input <code>{escape(json.dumps(view.input, sort_keys=True))}</code></p>
<p class="meta"><code>{escape(view.arn)}</code></p>
{cause}
<h2>timeline</h2>
<div class="chart" role="figure" aria-label="timeline of the run">
{grid}
{"".join(rows)}
{axis}
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
