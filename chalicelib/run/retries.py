"""A retried run and its retry, linked both ways through the runs' files in S3.

A run started with ``retry_of`` (``orchestrator retry``) leaves two small files, written by
``list_connectors`` once the input is valid:

=====================================  =========================================================
key                                    read by
=====================================  =========================================================
``runs/<retry>/retry_of.json``         the dbt task (``dbt_container/task/retry_state.py``): the
                                       retried run's artifacts, ``dbt-runs/<retried>/``, are dbt's
                                       ``--state`` for ``result:`` and ``state:`` selectors
``runs/<retried>/retried_by.json``     ``orchestrator show <retried>``: its latest retry
=====================================  =========================================================

Both are ``{"retry_of": <retried run's name>, "retry": <retry's name>}``. A second retry of the same run
overwrites ``retried_by.json`` (the latest retry is named; each retry names what it retries, so a chain of
retries stays linked). Errors: ``RunFilesError`` from ``RunFiles``.
"""

from __future__ import annotations

from chalicelib.run.run_files import RunFiles

__all__ = ["RETRIED_BY_FILE", "RETRY_OF_FILE", "note_retry"]

RETRY_OF_FILE = "retry_of.json"
RETRIED_BY_FILE = "retried_by.json"


def note_retry(retry: RunFiles, retried: RunFiles) -> None:
    """Write the link between ``retry`` (this run's files) and ``retried`` (the run it retries)."""
    link = {"retry_of": retried.run_name, "retry": retry.run_name}
    retry.put_json(RETRY_OF_FILE, link)
    retried.put_json(RETRIED_BY_FILE, link)
