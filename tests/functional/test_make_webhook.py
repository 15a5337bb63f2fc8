"""`make webhook`: configurable ports, a busy port fails fast in one line, SIGTERM to make leaves nothing.

Every port here is a free one picked at run time (or one this test holds on purpose).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from chalicelib.webhook.signature import SIGNATURE_HEADER, sign
from local.chalice_local import free_port, wait_for_port

# Real servers in subprocesses (seconds each): `make test` runs them, `make check` does not.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "webhooks" / "sync_end_success.json"
SECRET = "local-webhook-secret"  # the local stage's (.chalice/config.json)


def make_webhook(port: int, moto_port: int, **options: object) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.Popen(
        ["make", "--no-print-directory", "-s", "webhook", f"PORT={port}", f"MOTO_PORT={moto_port}"],
        cwd=ROOT,
        env=env,
        text=True,
        **options,  # type: ignore[call-overload]
    )


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port another process holds (listening on 127.0.0.1)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def processes() -> dict[int, tuple[int, str]]:
    """Every live process (Linux /proc): pid -> (parent pid, command line)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if fields[0] != "Z":
                found[int(entry.name)] = (
                    int(fields[1]),
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(),
                )
        except (OSError, ValueError):
            continue
    return found


def descendants(pid: int) -> dict[int, str]:
    table = processes()
    found: dict[int, str] = {}
    parents = {pid}
    while parents:
        children = {
            child: cmd for child, (parent, cmd) in table.items() if parent in parents and child not in found
        }
        found.update(children)
        parents = set(children)
    return found


@pytest.mark.parametrize(("busy", "variable"), [("port", "PORT"), ("moto_port", "MOTO_PORT")])
def test_a_busy_port_is_one_line_and_a_non_zero_exit_within_seconds(
    held_port: int, busy: str, variable: str
) -> None:
    ports = {"port": free_port(), "moto_port": free_port(), busy: held_port}
    process = make_webhook(ports["port"], ports["moto_port"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    out, err = process.communicate(timeout=10)

    assert process.returncode != 0
    (line,) = [line for line in err.splitlines() if not re.match(r"make(\[\d+\])?: \*\*\* ", line)]
    assert line == (
        f"Error: port {held_port} for {'moto' if busy == 'moto_port' else 'chalice local'} on 127.0.0.1 is "
        f"already in use: stop what holds it, or choose another port with `make webhook {variable}=NNNN`"
    )
    assert out == ""
    assert is_free(ports["moto_port" if busy == "port" else "port"])


def sigterm_to_make(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)  # to make only, as `kill $!` after `make webhook &` does


def ctrl_c(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGINT)  # what a terminal does: SIGINT to the foreground group


@pytest.mark.parametrize("stop", [sigterm_to_make, ctrl_c], ids=["sigterm-to-make", "ctrl-c"])
def test_stopping_make_stops_everything_it_started(
    tmp_path: Path, stop: Callable[[subprocess.Popen], None]
) -> None:
    port, moto_port = free_port(), free_port()
    log = (tmp_path / "webhook.log").open("w")
    # Its own session: the cleanup below can kill the whole group should the test fail half-way.
    process = make_webhook(port, moto_port, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, 60, process)
        wait_for_port(moto_port, 10, process)
        body = SAMPLE.read_bytes()
        answer = requests.post(
            f"http://127.0.0.1:{port}/webhooks/fivetran",
            data=body,
            headers={"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, SECRET)},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        assert json.loads(answer.text)["status"] == "ok"
        started = descendants(process.pid)
        commands = list(started.values())
        assert any("local webhook" in c for c in commands) and any("chalice" in c for c in commands), commands

        stop(process)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()

    # make's child (the exec'd server) stopped its chalice local child and moto before exiting.
    alive = processes()
    assert [cmd for pid, cmd in started.items() if pid in alive and alive[pid][1] == cmd] == []
    assert is_free(port) and is_free(moto_port)
    assert (tmp_path / "webhook.log").read_text().rstrip().endswith("stopped")
