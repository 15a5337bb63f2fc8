"""Markdown output: tables, number formatting and the machine header every results file opens with."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["fmt", "machine", "machine_line", "markdown_table", "money"]


def fmt(value: float | int | None, digits: int = 2) -> str:
    """A number for a table cell: thousands separators for integers, ``digits`` decimals otherwise."""
    if value is None:
        return "—"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def money(value: float) -> str:
    """Dollars with enough decimals to show sub-cent amounts."""
    if value == 0:
        return "$0"
    if abs(value) >= 1:
        return f"${value:,.2f}"
    if abs(value) >= 0.01:
        return f"${value:.4f}"
    return f"${value:.6f}"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]], align: str = "") -> str:
    """A GitHub Markdown table; ``align`` has one letter per column, ``l`` or ``r`` (default: l, then r)."""
    align = align or "l" + "r" * (len(headers) - 1)
    if len(align) != len(headers):
        raise ValueError("align needs one letter per column")
    marks = [":---" if a == "l" else "---:" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(marks) + " |"]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row {row!r} has {len(row)} cells, expected {len(headers)}")
        lines.append("| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |")
    return "\n".join(lines)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict[str, str]:
    return {
        "cpus": str(os.cpu_count()),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "executable": sys.executable,
    }


def machine_where(info: dict[str, str] | None = None) -> str:
    """``2 CPUs (<cpu>), Python <version>, <os>``: the machine, without the date."""
    info = info or machine()
    return f"{info['cpus']} CPUs ({info['cpu']}), Python {info['python']}, {info['os']}"


def machine_line(info: dict[str, str] | None = None) -> str:
    info = info or machine()
    return f"{machine_where(info)}, run {info['date']}"
