"""``python -m local.warehouse``: the command line of ``local.warehouse.cli``."""

from local.warehouse.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
