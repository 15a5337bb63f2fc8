"""A retry's dbt ``--state``: the retried run's artifacts, so ``result:`` and ``state:`` selectors work.

``orchestrator retry`` starts a run whose ``dbt.select`` resumes the retried run's dbt
(``result:error+ result:skipped+``: dbt's own way to resume from a failure, "About state in dbt",
docs.getdbt.com). Those selectors need the retried run's ``run_results.json`` (and ``manifest.json``)
in a folder passed as ``--state``. The run's first state wrote ``runs/<RUN_ID>/retry_of.json`` (``{"retry_of":
<retried run>}``, ``chalicelib/run/retries.py``); the retried run's artifacts are under
``ARTIFACTS_PREFIX/<retried run>/`` in the same bucket, where its entrypoint kept them.

Read only when ``DBT_SELECT`` uses ``result:`` or ``state:`` (one GET, else none). A run that is not a
retry (no ``retry_of.json``) gets no ``--state``, as before: dbt then says what it lacks. A retry whose
files cannot be read is a ``ConfigError``: dbt must not build a selection it cannot resolve.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from task.events import log_event
from task.s3 import s3_client
from task.settings import ConfigError, Settings, artifacts_key_prefix, safe_run_id

STATE_FILES = ("run_results.json", "manifest.json")
RETRY_OF_KEY = "runs/{run_id}/retry_of.json"
_STATE_METHODS = ("result:", "state:")
_MISSING = {"NoSuchKey", "404", "NotFound"}


def needs_state(select: str) -> bool:
    """Whether a selection (space-separated selectors, ``,`` intersections) uses ``result:`` or ``state:``."""
    criteria = (part for token in select.split() for part in token.split(","))
    return any(c.lstrip("@+0123456789").startswith(_STATE_METHODS) for c in criteria)


def _code(exc: Exception) -> str:
    response: Any = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def retry_state(settings: Settings) -> Path | None:
    """The folder holding the retried run's artifacts (dbt's ``--state``), or None when this run needs none.

    Raises ``ConfigError`` when this run is a retry and the retried run's files cannot be read."""
    if not settings.bucket or not needs_state(settings.select):
        return None
    client = s3_client()
    key = RETRY_OF_KEY.format(run_id=settings.run_id)
    try:
        link = json.loads(client.get_object(Bucket=settings.bucket, Key=key)["Body"].read())
    except Exception as exc:  # botocore's errors: a missing file means "not a retry"
        if _code(exc) in _MISSING:
            return None
        raise ConfigError(f"cannot read s3://{settings.bucket}/{key}: {exc}") from exc
    retried = str(link.get("retry_of") or "") if isinstance(link, dict) else ""
    if not retried:
        raise ConfigError(f"s3://{settings.bucket}/{key} names no retried run: {link!r}")
    folder = settings.target_path.parent / "retry-state"
    folder.mkdir(parents=True, exist_ok=True)
    prefix = artifacts_key_prefix(settings.prefix, retried)
    for name in STATE_FILES:
        try:
            client.download_file(settings.bucket, prefix + name, str(folder / name))
        except Exception as exc:  # botocore's errors, the disk
            raise ConfigError(
                f"the retried run {retried} left no readable {name} at s3://{settings.bucket}/{prefix}{name} "
                f"({_code(exc) or exc}): its dbt artifacts are needed for DBT_SELECT={settings.select!r}"
            ) from exc
    log_event("retry_state", retry_of=safe_run_id(retried), state=str(folder))
    return folder
