"""The parts of the dbt image's entrypoint (``../entrypoint.py``), one concept a module.

- ``events``: the entrypoint's own JSON log lines on stderr
- ``settings``: the run's settings, read and checked from the environment
- ``command_line``: the dbt command lines (deps when needed, the command) and dbt's environment
- ``options``: DBT_VARS, DBT_FULL_REFRESH and DBT_STEPS, read and checked
- ``run_steps``: the run's dbt commands in order (one, or each step), a failing step stopping the rest
- ``selection``: the run's dbt selection re-checked, passed as --select=<selector>, and the selectors
  that matched no node
- ``process``: running the dbt commands in one child process (the dbt session), and stopping them on
  SIGTERM/SIGINT
- ``dbt_session``: the dbt session itself: dbt imported once, each command run by dbt's programmatic
  runner
- ``artifacts``: reading dbt's results, keeping its artifacts in S3
- ``new_data``: selection by new data, the rule (pure: which nodes a run must build, the build state)
- ``new_data_run``: a build that selects by new data (source freshness, row counts, the rule, the build,
  the state)
- ``row_counts``: the row count of each judged source table, one ``dbt show`` query
- ``build_state``: the build state and the run's connections in S3
- ``retry_state``: a retry's ``--state``, the retried run's artifacts from S3
- ``s3``: the S3 client the settings and the artifacts use
- ``warehouses``: the adapters, the warehouse secret's keys each one's managed profile reads, their check
- ``source_contract``: which dbt sources belong to which Fivetran connection, and the mismatches
- ``project_sources``: the dbt sources a project's YAML (and its packages') declares, read before dbt
- ``contract_check``: the run's connections against the project's sources at the start of the run:
  warnings, and the failed connections' sources mapped by meta excluded

Only the standard library at import time (boto3 is imported when S3 is used).
"""
