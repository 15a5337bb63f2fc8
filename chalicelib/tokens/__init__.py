"""A parked task token, from park to callback.

``StartSyncAndWait`` parks the Map child's task token in the token table (``records``: the items;
``store``: DynamoDB), together with what Fivetran said of the trigger. Whoever learns how a sync
ended (a webhook, or the safety net reading the sync history) asks the ``resolver``, which applies
the ``identity`` rule (which sync is this token's?), words the ``outcomes`` and sends them through
``callbacks`` (Step Functions). ``api_budget`` spreads the run's triggers over the account's quota
with a counter in the same table (``budget_slots``). Each kind of item has its own class over the
table (``table.TableItems``): ``store`` (parked tokens), ``syncs_seen``, ``pass_lease`` (the safety
net's lease and marks), ``budget_slots``.
"""
