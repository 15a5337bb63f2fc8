"""Where a webhook's time goes: a sync's end to its task's completion, stage by stage (issue 23).

``run_path(n)`` plays section 1's scenario (``n`` connections, syncs of 2-6 s, production safety-net
cadence, dbt's task exiting at once) in the local runtime, with timing hooks that change no answer:

- in this process, the simulator's side: when a sync ended (``sync_ended_at``), when its
  ``sync_end`` was handed to the webhook sender (``WebhookSender.send``) and when the POST left and
  came back (``requests.post`` to the webhook URL);
- in ``chalice local`` (``sitecustomize.py`` here, put on its ``PYTHONPATH``): when the request
  handler ran, and every AWS call (botocore) and HTTP call (the Fivetran sync-history read) it made.

``stages`` joins them per ``sync_end`` (pure): the simulator's dispatch, the POST until the handler
runs (HTTP, ``chalice local``'s accept), each AWS operation, the Fivetran read, the handler's own
Python (signature, parsing, routing, logging) and the answer's way back. Section 1's latency is
the sum (its "knew" is when the POST came back).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Call", "Delivery", "Stages", "run_path", "stages"]

HERE = Path(__file__).resolve().parent
LOG_ENV = "BENCH_WEBHOOK_PATH_LOG"


@dataclass(frozen=True)
class Call:
    kind: str  # "request" (the handler), "aws", "http"
    name: str
    start: float
    end: float


@dataclass(frozen=True)
class Delivery:
    connector_id: str
    ended: float  # the simulator ended the sync
    handed: float  # WebhookSender.send
    posted: float  # requests.post started
    answered: float  # requests.post returned
    status: int


@dataclass
class Stages:
    """Per ``sync_end``, milliseconds by stage (``parts``), and their sum (``total``); ``calls``: how
    many AWS or HTTP calls a stage holds."""

    connector_id: str
    parts: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    # from the sync's end until Step Functions answered SendTaskSuccess/Failure: what section 1
    # measured until 2026-11-27 (the TaskSucceeded event), before the route's answer was its mark
    to_callback: float | None = None

    @property
    def total(self) -> float:
        return sum(self.parts.values())


def _served(call: Call, moto: Sequence[Call]) -> Call | None:
    """moto's handling of ``call``: the same operation, within the call's time."""
    return next(
        (m for m in moto if m.name == call.name and call.start <= m.start and m.end <= call.end), None
    )


def stages(deliveries: Sequence[Delivery], calls: Sequence[Call]) -> list[Stages]:
    """Each accepted ``sync_end`` split into stages, with the handler request that served it (the one
    that started after the POST left and ended before it came back, latest start first) and the AWS
    and HTTP calls made inside that request; an AWS call moto served (kind ``moto``) is split into
    moto's own work and the rest (HTTP, waiting for the runtime process). A delivery with no
    matching request is left out."""
    requests = sorted((c for c in calls if c.kind == "request"), key=lambda c: c.start)
    moto = [c for c in calls if c.kind == "moto"]
    inner = [c for c in calls if c.kind in ("aws", "http")]
    result: list[Stages] = []
    for d in deliveries:
        if not 200 <= d.status < 300:
            continue
        served = [r for r in requests if d.posted <= r.start and r.end <= d.answered]
        if not served:
            continue
        request = served[-1]
        made = [c for c in inner if request.start <= c.start and c.end <= request.end]
        parts = {
            "simulator: sync end to the sender": d.handed - d.ended,
            "simulator: sender to POST": d.posted - d.handed,
            "POST to the handler (HTTP, chalice local)": request.start - d.posted,
        }
        counts: dict[str, int] = {}
        for call in made:
            key = f"AWS {call.name}" if call.kind == "aws" else "Fivetran sync-history read"
            answered = _served(call, moto) if call.kind == "aws" else None
            spent = call.end - call.start
            if answered is not None:
                work = answered.end - answered.start
                parts[f"{key}: moto's work"] = parts.get(f"{key}: moto's work", 0.0) + work
                counts[f"{key}: moto's work"] = counts.get(f"{key}: moto's work", 0) + 1
                spent -= work
                key = f"{key}: HTTP and waiting for the runtime"
            parts[key] = parts.get(key, 0.0) + spent
            counts[key] = counts.get(key, 0) + 1
        inside = sum(c.end - c.start for c in made)
        parts["handler's own Python (verify, parse, route, log)"] = (request.end - request.start) - inside
        parts["answer back to the simulator"] = d.answered - request.end
        callback = next((c for c in made if c.name.startswith("stepfunctions:SendTask")), None)
        to_callback = (callback.end - d.ended) * 1000 if callback is not None else None
        result.append(Stages(d.connector_id, {k: v * 1000 for k, v in parts.items()}, counts, to_callback))
    return result


def read_calls(log: Path) -> list[Call]:
    if not log.exists():
        return []
    lines = log.read_text(encoding="utf-8").splitlines()
    return [Call(**json.loads(line)) for line in lines if line.strip()]


@contextmanager
def _hooks(
    log: Path, seen: dict[str, list[float]], posts: list[dict[str, Any]], moto: list[Call]
) -> Iterator[None]:
    """The simulator's timing hooks in this process, and chalice local's through the environment."""
    import requests
    from moto.core.responses import BaseResponse

    from local.fivetran_sim import webhooks

    send, post = webhooks.WebhookSender.send, webhooks.requests.post
    call_action = BaseResponse.call_action

    def timed_action(self: Any) -> Any:
        start = time.time()
        try:
            return call_action(self)
        finally:
            try:
                name = f"{self.service_name}:{self._get_action()}"
            except Exception:  # a request moto could not name: not one of the webhook's
                name = "?"
            moto.append(Call("moto", name, start, time.time()))

    def timed_send(self: Any, state: Any, sync: Any, event: str, *args: Any, **kwargs: Any) -> None:
        if event == "sync_end":
            seen.setdefault(state.spec.id, []).append(time.time())
        send(self, state, sync, event, *args, **kwargs)

    def timed_post(url: str, *args: Any, **kwargs: Any) -> Any:
        start = time.time()
        response = post(url, *args, **kwargs)
        body = json.loads(kwargs.get("data") or b"{}")
        posts.append({**body, "posted": start, "answered": time.time(), "status": response.status_code})
        return response

    old = {k: os.environ.get(k) for k in (LOG_ENV, "PYTHONPATH")}
    os.environ[LOG_ENV] = str(log)
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE), old["PYTHONPATH"]) if p)
    webhooks.WebhookSender.send = timed_send  # type: ignore[method-assign]
    BaseResponse.call_action = timed_action  # type: ignore[method-assign]
    webhooks.requests = _Requests(timed_post)  # type: ignore[assignment]
    try:
        yield
    finally:
        webhooks.WebhookSender.send = send  # type: ignore[method-assign]
        BaseResponse.call_action = call_action  # type: ignore[method-assign]
        webhooks.requests = requests
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _Requests:
    """``requests`` as the simulator's sender sees it, with ``post`` timed."""

    def __init__(self, post: Any) -> None:
        import requests

        self.post = post
        self.RequestException = requests.RequestException


def run_path(n: int, workdir: Path) -> tuple[list[Stages], list[float], Mapping[str, Any]]:
    """(stages per accepted sync_end, section 1's latencies in s, the run's facts) of one run."""
    from benchmarks.hooks import skip_dbt
    from benchmarks.latency import accepted_sync_ends, durations, latency_scenario
    from local.runtime import LocalRuntime

    log = workdir / "chalice-calls.jsonl"
    seen: dict[str, list[float]] = {}
    posts: list[dict[str, Any]] = []
    moto: list[Call] = []
    with (
        _hooks(log, seen, posts, moto),
        LocalRuntime(latency_scenario(durations(n)), workdir=workdir) as runtime,
    ):
        skip_dbt()
        result = runtime.run(timeout=300)
        assert runtime.simulator is not None
        ended = {
            cid: [t.timestamp() for t in times] for cid, times in runtime.simulator.sync_ended_at.items()
        }
        delivered = list(runtime.simulator.webhooks.deliveries)
    accepted = accepted_sync_ends(delivered)
    latencies = [(accepted[c][0].timestamp() - ended[c][0]) for c in sorted(accepted) if ended.get(c)]
    deliveries = [
        Delivery(
            p["connector_id"],
            ended[p["connector_id"]][0],
            seen[p["connector_id"]][0],
            p["posted"],
            p["answered"],
            p["status"],
        )
        for p in posts
        if p.get("event") == "sync_end" and ended.get(p["connector_id"]) and seen.get(p["connector_id"])
    ]
    facts = {"status": result.described["status"], "requests": len(read_calls(log))}
    return stages(deliveries, [*read_calls(log), *moto]), latencies, facts
