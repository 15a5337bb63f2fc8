"""Hypothesis profiles: ``ci``, what ``make test`` runs (the default), and ``thorough``, for a
deliberate run (``HYPOTHESIS_PROFILE=thorough pytest ...`` or ``pytest --hypothesis-profile thorough``).

``thorough`` runs each property at its full size: the example counts the properties name (400 for
the attribution property, 500 for the strange-events fuzzer ...), 400 for a property that names
none. ``ci`` runs a quarter of each (at least ``MIN_EXAMPLES``): every property still meets
random input on every run, and a failure hypothesis finds is printed with the seed that replays it.
Neither has a per-example deadline: a deadline measures the machine (a loaded CI runner), not the
code; the fuzzers bound their answers' time themselves.
"""

from __future__ import annotations

import os

from hypothesis import settings

__all__ = ["MIN_EXAMPLES", "PROFILE_ENV", "examples", "load"]

PROFILE_ENV = "HYPOTHESIS_PROFILE"
THOROUGH_EXAMPLES = 400
CI_EXAMPLES = 100
MIN_EXAMPLES = 25

settings.register_profile("thorough", max_examples=THOROUGH_EXAMPLES, deadline=None, print_blob=True)
settings.register_profile("ci", max_examples=CI_EXAMPLES, deadline=None, print_blob=True)


def load() -> str:
    """Load ``$HYPOTHESIS_PROFILE`` (default ``ci``); its name."""
    name = os.environ.get(PROFILE_ENV) or "ci"
    settings.load_profile(name)
    return name


def examples(thorough: int) -> int:
    """A property's example count under the loaded profile: ``thorough`` under ``thorough``, the
    same share of it as the profile's ``max_examples`` of thorough's under another (``ci``: a quarter),
    at least ``MIN_EXAMPLES``."""
    share = settings.default.max_examples / THOROUGH_EXAMPLES
    return max(MIN_EXAMPLES, min(thorough, round(thorough * share)))
