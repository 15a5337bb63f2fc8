"""``python -m scripts.deploy`` (the older spelling) forwards to ``python -m deploy`` (``deploy/``)."""

from __future__ import annotations

import sys

from deploy.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
