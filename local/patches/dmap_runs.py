"""What the Distributed Map patches know of a map run and of each of its children (``dmap_*.py``).

moto 5.2.6 runs a ``Map`` with ``ProcessorConfig.Mode: DISTRIBUTED`` as threads inside the parent
execution and keeps no record of a child. The ``dmap_*`` patches make what the rest of the project
can observe match AWS: each child's record and counts (``dmap_children``), the ``ResultWriter``
files (``dmap_result_writer``) and the default concurrency (``dmap_concurrency``). This module
holds the state they share: a ``Run`` per map run record, its ``Child`` per item, and which of
those patches are applied (``ENABLED``).

AWS facts relied on (AWS Step Functions Developer Guide):

- "Using Map state in Distributed mode": each iteration is a child workflow execution with its own
  execution history.
- "Viewing a Distributed Map Run execution": children run under the state machine ARN
  ``arn:...:stateMachine:<name>/<MapRunLabel or UUID>`` (and so a child's ARN is
  ``execution:<name>/<label>:<uuid>``: "ResultWriter (Map)", in ``dmap_result_writer``).
"""

from __future__ import annotations

import datetime
import threading
import uuid
from typing import Any

__all__ = ["ENABLED", "Child", "Run", "iso", "run_of"]

ENABLED: set[str] = set()  # the Distributed Map patches applied (a patch checks another's name)
_runs_lock = threading.Lock()


def iso(moment: datetime.datetime) -> str:
    """A date as AWS writes it in a child's record: ISO 8601, UTC, milliseconds, ``Z``."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Child:
    """What AWS knows of one child execution (a record of a ResultWriter file)."""

    def __init__(self, run: Run, index: int, item: Any) -> None:
        self.index = index
        self.item = item
        self.name = str(uuid.uuid4())
        self.arn = f"{run.child_prefix}:{self.name}"
        self.input: Any = item
        self.output: Any = None
        self.status = "PENDING"
        self.error: str | None = None
        self.cause: str | None = None
        self.start: datetime.datetime | None = None
        self.stop: datetime.datetime | None = None


class Run:
    """Per map run: its children, by item index."""

    def __init__(self, record: Any) -> None:
        self.record = record
        self.lock = threading.Lock()
        self.children: dict[int, Child] = {}
        self.child_prefix = record.map_state_machine_arn.replace(":stateMachine:", ":execution:", 1)

    def child(self, index: int, item: Any) -> Child:
        with self.lock:
            if index not in self.children:
                self.children[index] = Child(self, index, item)
            return self.children[index]


def run_of(record: Any) -> Run:
    """The ``Run`` of moto's map run record (made on first use, kept on the record)."""
    with _runs_lock:
        run = getattr(record, "_dmap_run", None)
        if run is None:
            run = Run(record)
            record._dmap_run = run
        return run
