"""Code shipped to Lambda, in floors that import only downwards (``tests/unit/test_house_rules.py``);
``app.py`` wires the handlers to them. Bottom first:

1. ``platform``: what every flow stands on (settings, secrets, logs, errors, metrics, time, the AWS
   calls table); it imports nothing of ours.
2. ``fivetran``: the Fivetran REST API (``transport``: session, retries, time budget; ``client``:
   endpoints; ``syncs``: one sync as Fivetran reports it).
3. ``tokens``: a parked task token from park to callback (the table, the identity rule, the resolver).
4. The flows: ``webhook`` (a Fivetran webhook from its signed body to the tokens it completes),
   ``run`` (one orchestrator run, state by state), ``safety_net`` (the scheduled pass that resolves
   what no webhook did) and ``notify`` (a run's end, to Slack and SNS).
5. ``wiring``: the composition root, where every client is built (a local stage's extra wiring is
   named by its environment and lives outside this package).
"""
