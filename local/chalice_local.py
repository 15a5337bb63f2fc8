"""Starts ``chalice local --stage local --no-autoreload`` for the webhook route, and stops it by PID.

``chalice local`` puts the stage's environment variables from ``.chalice/config.json``
into its process, overriding anything inherited. To point it at this run's free ports it
is started in a throw-away project directory: links to ``app.py`` and ``chalicelib/`` (and to
``local/`` and ``infra/``, where the stage's wiring ``ORCHESTRATOR_LOCAL_WIRING`` lives), and a copy
of the real config whose ``local`` stage carries this run's endpoints.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

__all__ = ["ChaliceLocal", "free_port"]

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening on {port}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


# Chalice's CLI, with botocore's INFO lines ("Found credentials in environment variables.", "Found endpoint
# for dynamodb via: ...") held back: they say nothing about the webhook and fill the server's log.
QUIET_CHALICE = (
    "import logging, sys; "
    "logging.getLogger('botocore').setLevel(logging.WARNING); "
    "from chalice.cli import main; "
    "sys.exit(main())"
)


class ChaliceLocal:
    def __init__(
        self,
        env_overrides: dict[str, str],
        *,
        port: int | None = None,
        log: IO[str] | None = None,
        popen_options: dict[str, Any] | None = None,
    ):
        self.port = port or free_port()
        self._overrides = env_overrides
        self._log = log
        self._popen_options = popen_options or {}
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _project_dir(self) -> Path:
        self._tmp = tempfile.TemporaryDirectory(prefix="chalice-local-")
        project = Path(self._tmp.name)
        for name in ("app.py", "chalicelib", "requirements.txt", "local", "infra"):
            (project / name).symlink_to(ROOT / name)
        (project / ".chalice").mkdir()
        config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
        config["stages"]["local"]["environment_variables"].update(self._overrides)
        (project / ".chalice" / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        return project

    def start(self, timeout: float = 60.0) -> str:
        self.launch()
        self.wait_until_listening(timeout)
        return self.url

    def wait_until_listening(self, timeout: float = 60.0) -> None:
        wait_for_port(self.port, timeout, self.process)

    def launch(self) -> None:
        """Start the process; ``wait_until_listening`` waits for its port."""
        project = self._project_dir()
        command = [sys.executable, "-c", QUIET_CHALICE]
        env = {k: v for k, v in os.environ.items() if k not in ("MOTO_PORT",)}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.process = subprocess.Popen(  # noqa: S603 - fixed command line, no shell
            [
                *command,
                "--project-dir",
                str(project),
                "local",
                "--stage",
                "local",
                "--no-autoreload",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            env=env,
            stdout=self._log or subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            **self._popen_options,
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
