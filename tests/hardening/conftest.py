"""Fixtures of the hardening tests, and the figures they report (hypothesis example counts, burst load).

Figures are printed by the test that measures them and repeated in pytest's terminal summary
under "hardening figures", so ``make test`` shows them without ``-s``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

_FIGURES: list[str] = []


@pytest.fixture
def figure() -> Callable[[str], None]:
    """Report a figure: printed now, and listed again at the end of the run."""

    def report(line: str) -> None:
        print(line)
        _FIGURES.append(line)

    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES:
        terminalreporter.section("hardening figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)
