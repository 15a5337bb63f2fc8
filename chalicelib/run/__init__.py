"""One orchestrator run, in the state machine's order: ``run_input`` (the execution input),
``listing`` (ListConnectors), ``fanout`` and ``run_files`` (the Distributed Map's items in, its
results out, in S3), ``syncs`` (each child's StartSyncAndWait: park, trigger, arm), ``collect``
(CollectOutcomes: outcomes counted and bounded) and ``transform_lease`` (one dbt at a time). The
scheduled safety net is its own flow: ``chalicelib/safety_net/``."""
