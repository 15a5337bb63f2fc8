"""A real Postgres server for the entrypoint's tests: a fresh cluster (``initdb``) in a temporary folder,
started with ``pg_ctl`` on a free port, trust authentication on 127.0.0.1 only. Debian's ``postgresql``
package provides the binaries (.ci/run installs it). Postgres refuses to run as root: under root the
cluster belongs to, and runs as, the package's ``postgres`` user."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "dbt"
DATABASE = "postgres"


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int
    host: str = "127.0.0.1"

    def psql(self, sql: str) -> str:
        where = ["-h", self.host, "-p", str(self.port), "-U", SUPERUSER, "-d", DATABASE]
        done = subprocess.run(
            [str(self.bindir / "psql"), *where, "-v", "ON_ERROR_STOP=1", "-q", "-A", "-t", "-c", sql],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql failed: {done.stderr}")
        return done.stdout

    def env(self, schema: str) -> dict[str, str]:
        """The warehouse secret's keys for the postgres target (trust auth: any password does)."""
        return {
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_USER": SUPERUSER,
            "POSTGRES_PASSWORD": "unused-with-trust-auth",
            "POSTGRES_DATABASE": DATABASE,
            "POSTGRES_SCHEMA": schema,
            "POSTGRES_SSLMODE": "disable",
        }


def find_bindir() -> Path | None:
    """The newest installed Postgres's bin folder (Debian: /usr/lib/postgresql/<major>/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_owner(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


def start(bindir: Path) -> PostgresServer:
    root = Path(tempfile.mkdtemp(prefix="orchestrator-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(root, owner.pw_uid, owner.pw_gid)
    data = root / "data"
    subprocess.run(
        _as_owner([str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "-A", "trust", "--no-sync"]),
        capture_output=True,
        check=True,
        timeout=120,
    )
    port = _free_port()
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    log = str(root / "server.log")
    subprocess.run(
        _as_owner(
            [str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", log, "-w", "-t", "60", "start"]
        ),
        capture_output=True,
        check=True,
        timeout=90,
    )
    return PostgresServer(bindir, root, port)


def stop(server: PostgresServer) -> None:
    data = str(server.root / "data")
    subprocess.run(
        _as_owner([str(server.bindir / "pg_ctl"), "-D", data, "-m", "immediate", "stop"]),
        capture_output=True,
        check=False,
        timeout=60,
    )
    shutil.rmtree(server.root, ignore_errors=True)
