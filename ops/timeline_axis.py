"""The timeline's time axis: times as percentages of the chart's width, and round labelled ticks.

``Scale`` maps a moment between the run's start and the chart's end to a percentage;
``nice_step`` picks the smallest round step (0.1 s … 1 day) giving at most ``MAX_TICKS``
intervals, ``tick_label`` writes an offset as precisely as that step needs, and ``axis``
draws the ticks and the grid lines behind the bars.
"""

from __future__ import annotations

from datetime import datetime

__all__ = ["MAX_TICKS", "STEPS", "Scale", "axis", "nice_step", "tick_label"]

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


class Scale:
    """Times to percentages of the chart's width."""

    def __init__(self, start: datetime, end: datetime) -> None:
        self.start = start
        self.span = max((end - start).total_seconds(), 1.0)

    def pct(self, moment: datetime) -> float:
        return min(100.0, max(0.0, (moment - self.start).total_seconds() / self.span * 100))

    def offset(self, moment: datetime | None) -> str:
        return "—" if moment is None else f"+{(moment - self.start).total_seconds():.1f} s"


def axis(scale: Scale) -> tuple[str, str]:
    """The axis row and the grid lines (one per tick); the caption goes below the chart, out of the grid."""
    step = nice_step(scale.span)
    ticks, lines = [], []
    for i in range(int(scale.span / step + 1e-9) + 1):
        offset = i * step
        left = offset / scale.span * 100
        edge = " first" if i == 0 else ""
        ticks.append(f'<span class="tick{edge}" style="left:{left:.3f}%">{tick_label(offset, step)}</span>')
        lines.append(f'<span style="left:{left:.3f}%"></span>')
    row = f'<div class="row axis"><div class="label"></div><div class="track">{"".join(ticks)}</div></div>'
    return row, f'<div class="grid" aria-hidden="true">{"".join(lines)}</div>'
