"""Code shipped to Lambda, in one package per flow; ``app.py`` wires the handlers to them.

- ``platform``: what every flow stands on (settings, secrets, logs, errors, metrics, time) and
  ``dependencies``, the one place the clients are built.
- ``fivetran``: the Fivetran REST API (``transport``: session, retries, deadline; ``client``: endpoints).
- ``tokens``: a parked task token from park to callback (the table, the identity rule, the resolver).
- ``webhook``: a Fivetran webhook from its signed body to the tokens it completes.
- ``run``: one orchestrator run, state by state (input, listing, syncs, fan-out, collect, safety net).
"""
