"""Fixtures of the hardening tests, and the figures they report (hypothesis example counts, burst load).

Figures are printed by the test that measures them and repeated in pytest's terminal summary
under "hardening figures" (tests/conftest.py), so ``make test`` shows them without ``-s``, from
whichever pytest-xdist worker ran the test.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import FIGURE


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Report a figure: printed now, and listed again at the end of the run."""

    def report(line: str) -> None:
        print(line)
        request.node.user_properties.append((FIGURE, line))

    return report
