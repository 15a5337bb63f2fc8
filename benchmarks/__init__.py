"""Benchmarks: scripts that print figures, never timed assertions in the test suite.

``python -m benchmarks`` (``make bench``) runs them and writes ``benchmarks/results.md``, the one place
their figures live (docs/design.md sums them up and links it):

- ``latency``: how fast a run learns a sync ended and what it spends of the Fivetran API budget,
  against ``dagster-fivetran`` polling the same simulated syncs (``peer_env`` builds its venv,
  ``peer_driver`` runs it there, ``peer_proxy`` maps its legacy API paths onto the simulator)
- ``webhook``: requests per second of the webhook receiver, in ``chalice local`` and in-process
- ``scale``: runs of 10 to 1,000 connections: wall time, memory, history and payload sizes, and the
  largest group one execution can hold
- ``cost``: the AWS prices (``RATES``, with their date and source) and a polling design that holds a
  worker; ``measured_cost`` prices a run from the counts the local runtime measured (the run report's
  ``state_transitions``, ``lambda_invocations``, ``deferrals``, ``aws_requests``) and extrapolates to
  10,000 connections from the measured per-connection and per-deferral figures only
- ``largest``: one run of N connections at every default (the API budget included) in ``python -m
  local demo``, with its wall time and peak RSS; ``measured_runs`` renders sections 8 and 11 from the
  wall-time and largest runs, now or from a ``--measurements`` folder, and merges sections into
  ``results.md``
- ``webhook_path`` (a package): section 1's run with timing hooks in the simulator and in ``chalice
  local``: where a webhook's time goes, stage by stage
- ``sidebyside``: wall time at 10 to 1,000 connections and Fivetran trouble (an API outage, a 429
  storm), ours and the peer on the same scenario in one run (``peer_run`` runs the peer for it and
  for ``latency``)
- ``no_webhook`` (run on its own: ``python -m benchmarks.no_webhook``): detection with no webhook at all,
  the safety net at its production cadence against polling every 10 s, at 10 and 100 connections
- ``attribution`` (a package): seeded random event streams through our real ``start_sync`` and
  webhook handler and through dagster-fivetran's completion rule: runs given another sync's outcome
- ``new_data_week``: a week of hourly runs of the dbt task (the real entrypoint, the demo project on
  DuckDB) under ``mode: new_data`` and ``mode: all``: models built, dbt seconds, ECS task starts, and
  false skips checked against the warehouse (``new_data_pattern``: the seeded rows and the check)

``measurements/<date>/`` keeps the raw figures behind ``results.md``'s re-measured sections (what
``--measurements DIR`` wrote, and a person's notes): ``python -m benchmarks --walltime --largest
--webhookpath --from-measurements benchmarks/measurements/2026-12-06 --merge`` renders them again.

``hooks`` is what the runs switch off in the local runtime; ``child`` starts a run in its own process;
``report`` renders each benchmark's section of the Markdown.
The pure helpers (``stats``, ``tables``, ``history``, ``cost``) have a smoke test in
``tests/unit/test_bench_helpers.py``, the measured cost, the merge and the webhook path's stages in
``tests/unit/test_bench_measured_cost.py``, the attribution generator and the peer's rule in
``tests/unit/test_bench_attribution.py``, the new-data week's pattern and check in
``tests/unit/test_bench_new_data_week.py``; everything else needs the local runtime.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository
