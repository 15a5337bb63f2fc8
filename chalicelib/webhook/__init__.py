"""A Fivetran webhook, from its signed body to the tokens it completes: ``signature`` (HMAC
check against the current and previous secret), ``events`` (the body parsed into a sync record),
``handler`` (record the sync, settle the connection's parked tokens through the resolver) and
``route`` (one delivery with its stage: the answer, and the watchdog's proof of life)."""
