"""The timeline page's fixed parts: its stylesheet, its two scripts and its legend (no request made).

``ERROR_TRAP`` runs first and only records script errors on ``<html data-js-error>`` (so a
headless browser can see them); ``SCRIPT`` adds the bars' tooltips and sets
``<html data-bars="N" data-waits="W">`` (N = sync bars, W = wait gaps in them) once it has run.
``ops.timeline`` writes them inline into the page.
"""

from __future__ import annotations

__all__ = ["AXIS_TITLE", "CSS", "ERROR_TRAP", "LEGEND", "SCRIPT"]

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
.wait { position: absolute; top: 0; bottom: 0; overflow: hidden; background: repeating-linear-gradient(-45deg,
  #fff, #fff 3px, rgba(255,255,255,.6) 3px, rgba(255,255,255,.6) 6px); border-left: 1px dashed #5d4037;
  border-right: 1px dashed #5d4037; }
.wait .why { display: inline-block; max-width: 100%; overflow: hidden; text-overflow: ellipsis;
  font-size: 10px; line-height: 16px; color: #3e2723; white-space: nowrap; padding: 0 3px;
  background: rgba(255,255,255,.85); }
.waits-note { display: block; color: #5d4037; }
.dbt-build { display: block; color: #1f1f1f; }
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
  document.documentElement.setAttribute("data-waits", String(document.querySelectorAll(".bar .wait").length));
})();
"""


AXIS_TITLE = (
    '<div class="row axis-title"><div class="label"></div><div>time since the run started</div></div>'
)
LEGEND = (
    '<p class="legend"><i style="background:var(--ok)"></i>succeeded'
    '<i style="background:var(--failed)"></i>failed'
    '<i style="background:var(--timed_out)"></i>timed out<i style="background:var(--running)"></i>running'
    '<i style="background:var(--dbt)"></i>dbt'
    '<i style="background:repeating-linear-gradient(-45deg,#fff,#fff 3px,#bbb 3px,#bbb 6px)"></i>'
    "a gap in a bar: a free wait (rescheduled by Fivetran, or a rate limit), its reason on it</p>"
)
