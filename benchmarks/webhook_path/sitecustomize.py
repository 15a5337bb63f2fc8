"""Timing hooks for ``chalice local`` (``python -m benchmarks.webhook_path``; nothing else loads this).

Put on ``PYTHONPATH`` with ``BENCH_WEBHOOK_PATH_LOG`` set, it is imported by every Python the
local runtime starts; in ``chalice local`` only (its command line holds ``--no-autoreload``) it
wraps, without changing any answer, the request handler (arrival to answer), botocore's API calls
and ``requests``' HTTP calls (the Fivetran sync-history read), and appends one JSON line per call
to the log: ``{"kind", "name", "start", "end"}`` (epoch seconds, this machine's clock).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import threading
import time
from typing import Any

_LOG = os.environ.get("BENCH_WEBHOOK_PATH_LOG")
_lock = threading.Lock()


def _write(kind: str, name: str, start: float, end: float) -> None:
    line = json.dumps({"kind": kind, "name": name, "start": start, "end": end})
    with _lock, open(_LOG or os.devnull, "a", encoding="utf-8") as out:
        out.write(line + "\n")


def _timed(kind: str, name_of: Any) -> Any:
    def wrap(function: Any) -> Any:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.time()
            try:
                return function(*args, **kwargs)
            finally:
                _write(kind, name_of(args, kwargs), start, time.time())

        return timed

    return wrap


def _install() -> None:
    import botocore.client
    import requests
    from chalice import local

    client = botocore.client.BaseClient
    client._make_api_call = _timed(  # type: ignore[attr-defined]
        "aws", lambda a, k: f"{a[0].meta.service_model.service_name}:{a[1]}"
    )(client._make_api_call)  # type: ignore[attr-defined]
    session = requests.Session
    session.request = _timed("http", lambda a, k: f"{a[1]} {a[2]}")(session.request)  # type: ignore[method-assign]
    handler = local.ChaliceRequestHandler
    handler.do_POST = _timed("request", lambda a, k: a[0].path)(handler.do_POST)


if _LOG and "--no-autoreload" in getattr(sys, "orig_argv", []):
    _install()
