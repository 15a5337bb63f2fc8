"""One orchestrator run, in the state machine's order: ``run_input`` (the execution input),
``listing`` (ListConnectors), ``fanout`` and ``run_files`` (the Distributed Map's items in, its
results out, in S3), ``syncs`` (each child's StartSyncAndWait: park, trigger, arm), ``collect``
(CollectOutcomes: outcomes counted and bounded) and ``reconcile`` (the scheduled safety net)."""
