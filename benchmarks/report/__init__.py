"""The Markdown of ``results.md``: one module per benchmark, its results in, its section's text out.

``latency`` (section 1), ``webhook`` (2), ``scale`` (3), ``cost`` (4, and 8: the distributed run
re-priced), ``sidebyside`` (5: wall time at scale, 6: Fivetran trouble), ``attribution`` (7). Tables and
number formats come from ``benchmarks.tables``.
"""
