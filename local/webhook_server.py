"""``python -m local webhook`` (``make webhook``): the webhook route with a token table you can inspect.

One process owns everything it starts, so nothing outlives it:

- moto on ``127.0.0.1:MOTO_PORT`` (a thread of this process) holding the ``local`` stage's token
  table, created from ``infra/template.yaml``;
- ``chalice local --stage local --no-autoreload`` on ``127.0.0.1:PORT`` (a child process) with
  ``AWS_ENDPOINT_URL`` pointing at that moto.

Both ports are checked before anything starts: a busy one is a one-line error and exit 1.
SIGINT (Ctrl-C), SIGTERM (what ``make`` forwards when it is killed) and SIGHUP stop the child and
moto, then exit. The child runs in its own session, so a terminal's Ctrl-C reaches only this
process (which stops it cleanly), and on Linux it gets SIGTERM if this process dies without
cleaning up (``PR_SET_PDEATHSIG``): no orphan keeps a port.
"""

from __future__ import annotations

import ctypes
import json
import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["WebhookServerError", "port_problem", "serve_webhook"]

ROOT = Path(__file__).resolve().parent.parent
PR_SET_PDEATHSIG = 1


class WebhookServerError(Exception):
    """Something stops the webhook server from starting; the message is one line."""


def port_problem(port: int, what: str, variable: str) -> str | None:
    """Why ``port`` cannot be used on 127.0.0.1 (as the servers bind it), or None if it is free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as http.server and werkzeug do
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            reason = "already in use" if exc.errno == 98 else exc.strerror
            return (
                f"port {port} for {what} on 127.0.0.1 is {reason}: stop what holds it, "
                f"or choose another port with `make webhook {variable}=NNNN`"
            )
    return None


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` giving the child SIGTERM when this process dies (Linux), else None.

    ``prctl`` is looked up here, in the parent: the child, forked while moto's thread runs, only
    makes that one C call before exec.
    """
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return preexec


class _Moto:
    """moto's server in a thread; unlike ``ThreadedMotoServer`` it binds in the caller's thread,
    so a port taken between the check and the start is an error here, not a hang."""

    def __init__(self, port: int) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        self.server = make_server(
            "127.0.0.1",
            port,
            DomainDispatcherApplication(create_backend_app),
            threaded=True,
            request_handler=MotoRequestHandler,
        )
        self.thread = threading.Thread(target=self.server.serve_forever, name="moto", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=10)


def _stage() -> dict[str, str]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    return config["stages"]["local"]["environment_variables"]


def _create_table(endpoint: str, stage: dict[str, str]) -> None:
    import boto3

    from infra.template import token_table_spec

    boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=stage["AWS_DEFAULT_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto
    ).create_table(TableName=stage["TOKEN_TABLE"], BillingMode="PAY_PER_REQUEST", **token_table_spec())


def serve_webhook(port: int, moto_port: int, say: Callable[[str], Any], warn: Callable[[str], Any]) -> int:
    """Serve until a signal or until ``chalice local`` stops; the exit code for the command."""
    from local.chalice_local import ChaliceLocal

    if port == moto_port:
        raise WebhookServerError(f"PORT and MOTO_PORT are both {port}: give them different ports")
    for number, what, variable in ((port, "chalice local", "PORT"), (moto_port, "moto", "MOTO_PORT")):
        problem = port_problem(number, what, variable)
        if problem:
            raise WebhookServerError(problem)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)

    stage = _stage()
    endpoint = f"http://127.0.0.1:{moto_port}"
    chalice = ChaliceLocal(
        {"AWS_ENDPOINT_URL": endpoint},
        port=port,
        log=sys.stdout,
        popen_options={"start_new_session": True, "preexec_fn": _die_with_parent()},
    )
    moto: _Moto | None = None
    try:
        try:
            # The table before the route: chalice's port opens only once the webhook can answer.
            moto = _Moto(moto_port)
            _create_table(endpoint, stage)
            chalice.launch()
            chalice.wait_until_listening(60)
        except OSError as exc:
            raise WebhookServerError(f"could not start: {exc}") from exc
        except (RuntimeError, TimeoutError) as exc:
            raise WebhookServerError(f"chalice local did not start: {exc} (its output is above)") from exc
        say(f"moto (token table {stage['TOKEN_TABLE']}) on {endpoint}")
        say(f"webhook: POST {chalice.url}/webhooks/fivetran (secret: {stage['FIVETRAN_WEBHOOK_SECRET']})")
        say("Ctrl-C stops both.")
        assert chalice.process is not None
        code = chalice.process.wait()
        warn(f"error: chalice local stopped by itself with exit code {code} (its output is above)")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        chalice.stop()
        if moto is not None:
            moto.stop()
        say("stopped")
