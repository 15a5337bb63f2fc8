"""The polling peer, run in its own interpreter: ``dagster-fivetran``'s ``FivetranClient.sync_and_poll``.

Started by ``benchmarks.peer_run`` (for ``latency`` and ``sidebyside``) as
``<peer python> benchmarks/peer_driver.py ...`` (the peer's venv, ``.venv-bench``, not the app's). It
syncs-and-polls every given connection at once, one thread each (Dagster would run one step per
connection), and prints one JSON document: for each connection when ``sync_and_poll`` returned, i.e.
when the peer's poll loop saw the sync complete.

Pointing the peer at the simulator: ``FivetranClient.api_base_url`` is a property that hard-codes
``https://api.fivetran.com/v1``. ``LocalFivetranClient`` below is a subclass that overrides that one
property and nothing else; it is built with the same defaults ``FivetranWorkspace`` gives it
(``request_max_retries``, ``disable_schedule_on_trigger``...), read from the package at run time.
Its requests go to ``benchmarks.peer_proxy``, which speaks the legacy ``/v1/connectors/...`` paths the
peer calls and forwards them to the simulator's ``/v1/connections/...`` ones.

``--mode reimplementation`` is the fallback when the package cannot be installed: the same HTTP
calls in the same order as ``sync_and_poll`` in dagster-fivetran 0.29.27 (read from its source),
clearly labelled as such in the results. Only the standard library and ``requests`` are needed then.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

import requests

REIMPLEMENTED_VERSION = "0.29.27"
REIMPLEMENTED_DEFAULT_POLL_INTERVAL = 10.0


def _real_client(base_url: str, api_key: str, api_secret: str) -> tuple[Any, str, float]:
    import dagster_fivetran
    from dagster_fivetran import FivetranWorkspace
    from dagster_fivetran.resources import DEFAULT_POLL_INTERVAL, FivetranClient

    class LocalFivetranClient(FivetranClient):
        """``FivetranClient`` with its base URL pointed at the benchmark's proxy; nothing else changes."""

        @property
        def api_base_url(self) -> str:
            return f"{base_url.rstrip('/')}/v1"

    workspace = FivetranWorkspace(account_id="benchmark", api_key=api_key, api_secret=api_secret)
    client = LocalFivetranClient(
        api_key=workspace.api_key,
        api_secret=workspace.api_secret,
        request_max_retries=workspace.request_max_retries,
        request_retry_delay=workspace.request_retry_delay,
        request_backoff_factor=workspace.request_backoff_factor,
        disable_schedule_on_trigger=workspace.disable_schedule_on_trigger,
        retry_on_reschedule=workspace.retry_on_reschedule,
    )
    return client, f"dagster-fivetran {dagster_fivetran.__version__}", float(DEFAULT_POLL_INTERVAL)


class ReimplementedClient:
    """What ``FivetranClient.sync_and_poll`` (dagster-fivetran 0.29.27) sends, call for call."""

    def __init__(self, base_url: str, api_key: str, api_secret: str) -> None:
        self.base = f"{base_url.rstrip('/')}/v1"
        self.auth = (api_key, api_secret)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = requests.request(
            method,
            f"{self.base}/{path}",
            auth=self.auth,
            headers={"Content-Type": "application/json;version=2"},
            data=json.dumps(body) if body is not None else None,
            timeout=60,
        )
        response.raise_for_status()
        payload = response.json()
        return payload.get("data", payload)

    @staticmethod
    def _completed_at(details: dict[str, Any]) -> datetime:
        stamps = [details.get("succeeded_at"), details.get("failed_at")]
        parsed = [datetime.fromisoformat(s.replace("Z", "+00:00")) for s in stamps if s]
        return max(parsed, default=datetime.min.replace(tzinfo=UTC))

    def sync_and_poll(self, connector_id: str, poll_interval: float) -> dict[str, Any]:
        self._call("GET", f"connectors/{connector_id}/schemas")
        details = self._call("GET", f"connectors/{connector_id}")
        previous = self._completed_at(details)
        self._call("GET", f"connectors/{connector_id}")  # _start_sync: validate_syncable
        self._call("PATCH", f"connectors/{connector_id}", {"schedule_type": "manual"})
        self._call("POST", f"connectors/{connector_id}/force")
        while True:
            details = self._call("GET", f"connectors/{connector_id}")
            if self._completed_at(details) > previous:
                return details
            time.sleep(poll_interval)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--api-secret", required=True)
    parser.add_argument("--connector", action="append", required=True)
    parser.add_argument("--poll-interval", type=float, default=None, help="default: the package's")
    parser.add_argument("--mode", choices=("real", "reimplementation"), default="real")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # the peer's per-poll INFO logs would drown the JSON

    if args.mode == "real":
        client, label, default_interval = _real_client(args.base_url, args.api_key, args.api_secret)

        def run_one(cid: str, interval: float) -> Any:
            return client.sync_and_poll(connector_id=cid, poll_interval=interval)
    else:
        reimpl = ReimplementedClient(args.base_url, args.api_key, args.api_secret)
        label = f"re-implementation of dagster-fivetran {REIMPLEMENTED_VERSION} sync_and_poll"
        default_interval = REIMPLEMENTED_DEFAULT_POLL_INTERVAL

        def run_one(cid: str, interval: float) -> Any:
            return reimpl.sync_and_poll(cid, interval)

    interval = args.poll_interval if args.poll_interval is not None else default_interval
    results: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()

    def worker(cid: str) -> None:
        started = time.time()
        try:
            run_one(cid, interval)
            entry: dict[str, Any] = {"started_at": started, "seen_at": time.time(), "ok": True}
        except Exception as exc:  # a Dagster Failure is reported in the results, not raised
            entry = {"started_at": started, "seen_at": time.time(), "ok": False, "error": repr(exc)[:300]}
        with lock:
            results[cid] = entry

    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in args.connector]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + args.timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    json.dump(
        {
            "peer": label,
            "default_poll_interval_s": default_interval,
            "poll_interval_s": interval,
            "results": results,
            "unfinished": [c for c in args.connector if c not in results],
        },
        sys.stdout,
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
