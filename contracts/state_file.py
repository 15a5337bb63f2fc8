"""The local runtime's state file: what ``python -m local serve`` writes and ``orchestrator --local`` reads.

One JSON object (``.local-runtime.json`` in the repo root unless ``--state-file`` or
``ORCHESTRATOR_STATE_FILE`` says otherwise) with the moto endpoint and region, the state
machine and token table, the Fivetran simulator's URL and its local-only credentials, and
the webhook URL and secret, and (optional) the folders of its log files and of its runs' files.
It is written atomically with mode 0600 once everything is up, and removed when the runtime
stops. This module is the format's only definition.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

__all__ = [
    "DEFAULT_STATE_FILE",
    "STATE_FILE_ENV",
    "LocalState",
    "StateFileError",
    "process_alive",
    "read_state",
    "remove_state",
    "state_file_path",
    "write_state",
]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATE_FILE = ROOT / ".local-runtime.json"
STATE_FILE_ENV = "ORCHESTRATOR_STATE_FILE"
START_HINT = "start one with `python -m local serve` in another shell"


class StateFileError(Exception):
    """The state file is missing, unreadable, or its runtime is gone; the message says what to do."""


@dataclass(frozen=True)
class LocalState:
    """Everything a CLI command needs to reach the local runtime (all values are local-only)."""

    aws_endpoint_url: str
    region: str
    state_machine_arn: str
    token_table: str
    fivetran_api_url: str
    fivetran_api_key: str
    fivetran_api_secret: str
    webhook_url: str
    webhook_secret: str
    group_id: str
    pid: int
    # Optional (a file written before them lacks them): where the runtime's log files are, and the
    # folder that keeps each run's files after the runtime stops (``<runs_dir>/<run name>/``).
    log_dir: str = ""
    runs_dir: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: object, where: Path) -> LocalState:
        if not isinstance(data, dict):
            raise StateFileError(f"{where} is not a local runtime state file (not a JSON object)")
        required = [f for f in fields(cls) if f.default is MISSING]
        missing = sorted(f.name for f in required if f.name not in data)
        if missing:
            raise StateFileError(f"{where} lacks {', '.join(missing)}: {START_HINT} to rewrite it")
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values["pid"] = int(values["pid"])
        return cls(**values)


def state_file_path(explicit: Path | None = None) -> Path:
    """``--state-file``, else ``$ORCHESTRATOR_STATE_FILE``, else ``.local-runtime.json`` in the repo root."""
    if explicit is not None:
        return Path(explicit)
    from_env = os.environ.get(STATE_FILE_ENV)
    return Path(from_env) if from_env else DEFAULT_STATE_FILE


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it is just not ours
    return True


def write_state(path: Path, state: LocalState) -> None:
    """Write atomically (a reader never sees half a file), readable by this user only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(state.to_json())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_state(path: Path, *, check_alive: bool = True) -> LocalState:
    """The state of a running local runtime, or a ``StateFileError`` that says how to get one."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StateFileError(f"no local runtime: {path} does not exist ({START_HINT})") from None
    except OSError as exc:
        raise StateFileError(f"cannot read {path}: {exc.strerror}") from None
    try:
        state = LocalState.from_dict(json.loads(raw), path)
    except (ValueError, TypeError) as exc:
        raise StateFileError(f"{path} is not a valid local runtime state file ({exc})") from None
    if check_alive and not process_alive(state.pid):
        raise StateFileError(
            f"the local runtime that wrote {path} (pid {state.pid}) is no longer running: {START_HINT}"
        )
    return state


def remove_state(path: Path, pid: int) -> None:
    """Remove the file if it is still the one this process wrote."""
    try:
        current = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if isinstance(current, dict) and current.get("pid") == pid:
        path.unlink(missing_ok=True)
