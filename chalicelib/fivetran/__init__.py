"""The Fivetran REST API: ``transport`` (session, bounded retries, the per-thread deadline, errors
from answers) under ``client`` (one method per endpoint, typed records)."""
