"""The Fivetran REST API: ``transport`` (session, bounded retries, a caller's time budget, errors
from answers) under ``client`` (one method per endpoint, typed records); ``syncs`` (one sync as
Fivetran reports it)."""
