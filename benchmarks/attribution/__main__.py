"""``python -m benchmarks.attribution``: the attribution benchmark on its own, its tallies printed."""

from benchmarks.attribution.run import main

if __name__ == "__main__":
    raise SystemExit(main())
