"""The Fivetran simulator's contract, over HTTP: clock, Date header, triggers and 409, sync ids in
``sync_start``/``sync_end``, sync history, and every scenario fault (outage, already syncing,
scheduled syncs, resume after a reschedule, mid-run changes, refused triggers, webhook
redelivery). No timed assertions: tests wait for what they expect, with a generous bound."""

from __future__ import annotations

import email.utils
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from chalicelib.webhook.signature import SIGNATURE_HEADER, sign
from local import warehouse
from local.fivetran_sim import FivetranSimulator, simulator
from local.scenario import ScenarioError, parse_scenario
from local.scenario.model import KNOWN_SERVICES
from tests.conftest import PATIENCE_S

KEY, SECRET, HOOK_SECRET = "k", "s", "hook-secret"
AUTH = (KEY, SECRET)
HISTORY = "GET /v1/connections/{id}/sync-history"


class Receiver:
    """A webhook receiver on 127.0.0.1 that records every delivery and answers ``statuses`` in turn
    (then 200)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.statuses = list(statuses or [])
        self.received: list[dict[str, Any]] = []
        self.answered: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.received.append(
                        {"body": json.loads(raw), "raw": raw, "signature": self.headers.get(SIGNATURE_HEADER)}
                    )
                    receiver.answered.append(status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        return [r["body"] for r in list(self.received) if event is None or r["body"]["event"] == event]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def eventually(check: Callable[[], Any], timeout: float = PATIENCE_S) -> Any:
    """Poll ``check`` until it returns something truthy (its value), or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still not true after {timeout} s: {check}")
        time.sleep(0.02)


class Sim:
    def __init__(
        self, sim: FivetranSimulator, receiver: Receiver | None, writes: list[dict[str, Any]]
    ) -> None:
        self.sim, self.receiver, self.writes = sim, receiver, writes
        self.url = sim.url

    def get(self, path: str, **params: Any) -> requests.Response:
        return requests.get(self.url + path, params=params, auth=AUTH, timeout=10)

    def trigger(self, cid: str) -> requests.Response:
        return requests.post(
            f"{self.url}/v1/connections/{cid}/sync", json={"force": False}, auth=AUTH, timeout=10
        )

    def history(self, cid: str, **params: Any) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        params.setdefault("start_time", (now - timedelta(days=1)).isoformat())
        params.setdefault("end_time", (now + timedelta(days=1)).isoformat())
        answer = self.get(f"/v1/connections/{cid}/sync-history", **params)
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]["items"]

    def events(self, event: str | None = None, cid: str | None = None) -> list[dict[str, Any]]:
        assert self.receiver is not None
        return [e for e in self.receiver.events(event) if cid is None or e["connector_id"] == cid]


@pytest.fixture
def make_sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Sim]]:
    """``make_sim(scenario_dict, receiver_statuses=None, webhooks=True, begin=True)``; the warehouse
    writes are recorded, not made (``local/warehouse.py`` has its own tests)."""
    writes: list[dict[str, Any]] = []
    monkeypatch.setattr(warehouse, "write_sync", lambda path, **kw: writes.append(kw) or 1)
    started: list[Any] = []

    def make(
        raw: dict[str, Any],
        receiver_statuses: list[int] | None = None,
        webhooks: bool = True,
        begin: bool = True,
    ) -> Sim:
        receiver = Receiver(receiver_statuses) if webhooks else None
        if receiver:
            started.append(receiver)
        sim = FivetranSimulator(
            parse_scenario(raw),
            api_key=KEY,
            api_secret=SECRET,
            webhook_secret=HOOK_SECRET,
            webhook_url=receiver.url if receiver else None,
            duckdb_path=tmp_path / "w.duckdb",
        )
        sim.start()
        started.append(sim)
        if begin:
            sim.begin_run()
        return Sim(sim, receiver, writes)

    yield make
    for part in reversed(started):
        part.stop()


def conn(cid: str = "c1", **extra: Any) -> dict[str, Any]:
    return {"id": cid, "service": "stripe", **extra}


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def date_header(answer: requests.Response) -> datetime:
    return email.utils.parsedate_to_datetime(answer.headers["Date"])


# -- clock and Date ----------------------------------------------------------------------------


def test_every_answer_carries_a_date_header_on_fivetrans_clock(make_sim):
    s = make_sim({"fivetran": {"clock_offset_s": -3600}, "connectors": [conn()]})
    answers = [
        s.get("/v1/connections/c1"),
        s.get("/v1/groups/demo_group/connections"),
        s.get("/v1/connections/c1/sync-history"),
        s.trigger("c1"),
        s.trigger("c1"),  # 409
        s.get("/v1/connections/nope"),  # 404
        s.get("/v1/nowhere"),  # no route
        requests.get(s.url + "/v1/connections/c1", auth=("k", "wrong"), timeout=10),  # 401
        s.get("/v1/webhooks"),
    ]
    for answer in answers:
        shown = date_header(answer)
        assert abs((shown - (datetime.now(UTC) - timedelta(hours=1))).total_seconds()) < 30, answer.headers
        assert answer.headers["Date"].endswith(" GMT")


def test_every_timestamp_is_on_fivetrans_clock(make_sim):
    s = make_sim({"fivetran": {"clock_offset_s": 7200}, "connectors": [conn(sync={"duration_s": 0.1})]})
    answer = s.trigger("c1")
    end = eventually(lambda: s.events("sync_end"))[0]
    start = s.events("sync_start")[0]
    row = s.history("c1", start_time=(datetime.now(UTC) + timedelta(hours=1)).isoformat())[0]
    detail = s.get("/v1/connections/c1").json()["data"]
    ahead = datetime.now(UTC) + timedelta(hours=2)
    for stamp in (
        start["created"],
        end["created"],
        row["start_time"],
        row["end_time"],
        detail["succeeded_at"],
    ):
        assert abs((parse(stamp) - ahead).total_seconds()) < 30, stamp
    # The trigger's Date (whole seconds) is the moment Fivetran accepted it: the sync starts then.
    accepted = date_header(answer)
    assert accepted <= parse(row["start_time"]) < accepted + timedelta(seconds=1)


def test_a_trigger_is_dated_when_it_arrives_so_its_sync_never_starts_before_that_second(
    make_sim, monkeypatch
):
    s = make_sim({"connectors": [conn(sync={"duration_s": 60})]}, webhooks=False)
    base = datetime(2026, 1, 1, 12, 0, 0, 500_000, tzinfo=UTC)
    ticks = iter(range(100_000))
    # Each reading of Fivetran's clock is a second after the last.
    monkeypatch.setattr(simulator, "utc_now", lambda: base + timedelta(seconds=next(ticks)))

    answer = s.trigger("c1")

    assert answer.status_code == 200
    assert date_header(answer) <= s.sim.connections["c1"].syncs[-1].started


# -- trigger and sync ids ----------------------------------------------------------------------


def test_a_trigger_while_a_sync_runs_is_a_conflict_and_starts_nothing(make_sim):
    s = make_sim({"connectors": [conn(sync={"duration_s": 0.3})]})
    first = s.trigger("c1")
    second = s.trigger("c1")

    assert first.status_code == 200
    assert first.json() == {
        "code": "Success",
        "message": "Sync has been successfully triggered for connection with id 'c1'",
    }
    assert second.status_code == 409
    assert second.json() == {
        "code": "Conflict",
        "message": "Cannot start sync: a sync is already in progress for connection 'c1'",
    }
    assert len(s.history("c1")) == 1
    eventually(lambda: s.events("sync_end"))
    assert s.trigger("c1").status_code == 200
    rows = s.history("c1")
    assert len(rows) == 2 and rows[0]["sync_id"] != rows[1]["sync_id"]


def test_each_sync_sends_sync_start_and_sync_end_with_its_own_sync_id(make_sim):
    s = make_sim({"connectors": [conn(sync={"duration_s": 0.1, "outcome": "failure", "reason": "boom"})]})
    s.trigger("c1")
    eventually(lambda: s.events("sync_end"))
    s.trigger("c1")
    eventually(lambda: len(s.events("sync_end")) == 2)

    starts, ends = s.events("sync_start"), s.events("sync_end")
    assert [e["sync_id"] for e in starts] == [e["sync_id"] for e in ends]
    assert len({e["sync_id"] for e in starts}) == 2
    assert starts[0] == {
        "event": "sync_start",
        "created": starts[0]["created"],
        "connector_type": "stripe",
        "connector_id": "c1",
        "connector_name": "c1",
        "sync_id": starts[0]["sync_id"],
        "destination_group_id": "demo_group",
        "data": {},
    }
    assert ends[0]["data"] == {"status": "FAILURE", "reason": "boom"}
    raw = s.receiver.received[0]
    assert b", " not in raw["raw"] and raw["signature"] == sign(raw["raw"], HOOK_SECRET)
    rows = {r["sync_id"]: r for r in s.history("c1")}
    for start, end in zip(starts, ends, strict=True):
        row = rows[start["sync_id"]]
        assert row["start_time"][:23] == start["created"][:23]
        assert row["end_time"][:23] == end["created"][:23]
        assert (row["status"], row["reason"], row["rescheduled_for"]) == ("FAILURE", "boom", None)


def test_webhook_events_can_be_limited_to_sync_end(make_sim):
    s = make_sim(
        {"fivetran": {"webhook_events": ["sync_end"]}, "connectors": [conn(sync={"duration_s": 0.1})]}
    )
    s.trigger("c1")
    eventually(lambda: s.events("sync_end"))
    s.trigger("c1")
    eventually(lambda: len(s.events("sync_end")) == 2)

    assert [e["event"] for e in s.events()] == ["sync_end", "sync_end"]


# -- group listing -----------------------------------------------------------------------------


def test_the_group_listing_pages_with_a_cursor_as_fivetran_does_and_refuses_a_bad_limit(make_sim):
    s = make_sim({"connectors": [conn("c1"), conn("c2"), conn("c3")]})
    path = "/v1/groups/demo_group/connections"

    pages, cursor = [], None
    while True:
        data = s.get(path, limit=2, **({"cursor": cursor} if cursor else {})).json()["data"]
        pages.append([item["id"] for item in data["items"]])
        cursor = data.get("next_cursor")
        if not cursor:
            break
    default = s.get(path).json()["data"]

    assert pages == [["c1", "c2"], ["c3"]]
    assert [item["id"] for item in default["items"]] == ["c1", "c2", "c3"]
    assert "next_cursor" not in default  # absent on the last page
    for params in ({"limit": 0}, {"limit": 1001}, {"limit": "many"}, {"cursor": "not-a-cursor"}):
        answer = s.get(path, **params)
        assert answer.status_code == 400, params
        assert set(answer.json()) == {"code", "message"}


# -- sync history ------------------------------------------------------------------------------


def test_sync_history_validates_its_window_limit_and_cursor(make_sim):
    s = make_sim({"connectors": [conn()]})
    now = datetime.now(UTC)
    path = "/v1/connections/c1/sync-history"
    bad = [
        {"start_time": now.isoformat(), "end_time": now.isoformat()},
        {"start_time": now.isoformat(), "end_time": (now - timedelta(hours=1)).isoformat()},
        {"start_time": (now - timedelta(days=7, seconds=1)).isoformat(), "end_time": now.isoformat()},
        {"start_time": "yesterday"},
        {"limit": 0},
        {"limit": 1001},
        {"cursor": "not-a-cursor"},
    ]
    for params in bad:
        answer = s.get(path, **params)
        assert answer.status_code == 400, params
        assert set(answer.json()) == {"code", "message"}
    week = s.get(path, start_time=(now - timedelta(days=7)).isoformat(), end_time=now.isoformat(), limit=1000)
    assert week.status_code == 200
    assert week.json() == {"code": "Success", "data": {"items": []}}
    assert s.sim.api_calls()["by_endpoint"][HISTORY] == len(bad) + 1


def test_sync_history_lists_overlapping_syncs_newest_first_with_cursor_pages(make_sim):
    s = make_sim({"connectors": [conn(sync={"duration_s": 0.1}), conn("c2")]})
    ids = []
    for n in range(1, 4):
        s.trigger("c1")
        eventually(lambda n=n: len(s.events("sync_end")) == n)
        ids.append(s.events("sync_end")[-1]["sync_id"])

    pages, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        data = s.get(
            "/v1/connections/c1/sync-history",
            start_time=(datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            end_time=datetime.now(UTC).isoformat(),
            **params,
        ).json()["data"]
        pages.append(data["items"])
        cursor = data.get("next_cursor")
        if not cursor:
            break
    assert [len(p) for p in pages] == [2, 1]
    assert [row["sync_id"] for page in pages for row in page] == ids[::-1]
    assert set(pages[0][0]) == {"sync_id", "start_time", "end_time", "status", "reason", "rescheduled_for"}
    assert s.history("c2") == []
    # A window that ends before the first sync started sees none of them.
    first_start = parse(pages[1][0]["start_time"])
    assert (
        s.history(
            "c1",
            start_time=(first_start - timedelta(hours=1)).isoformat(),
            end_time=(first_start - timedelta(seconds=1)).isoformat(),
        )
        == []
    )


def test_a_running_sync_has_no_end_time(make_sim):
    s = make_sim({"connectors": [conn(sync={"outcome": "never_ends"})]})
    s.trigger("c1")

    [row] = s.history("c1")
    assert (row["status"], row["end_time"], row["reason"]) == ("RUNNING", None, None)
    assert s.history("c1", start_time=datetime.now(UTC).isoformat())  # running syncs overlap "now"


# -- API outage and refused triggers -----------------------------------------------------------


def test_an_api_outage_answers_every_call_with_its_status(make_sim):
    s = make_sim(
        {"fivetran": {"api_outage": {"start_s": 0, "duration_s": 30, "status": 429}}, "connectors": [conn()]}
    )
    answers = [
        s.get("/v1/connections/c1"),
        s.trigger("c1"),
        s.get("/v1/groups/demo_group/connections"),
        s.get("/v1/connections/c1/sync-history"),
        s.get("/v1/webhooks"),
    ]
    for answer in answers:
        assert answer.status_code == 429
        assert answer.json()["code"] == "TooManyRequests"
        assert 29 <= int(answer.headers["Retry-After"]) <= 30
    assert s.sim.connections["c1"].syncs == []  # the trigger started nothing
    assert s.sim.api_calls()["total"] == 5


def test_an_api_outage_ends_and_a_5xx_outage_has_no_retry_after(make_sim):
    s = make_sim(
        {"fivetran": {"api_outage": {"start_s": 0, "duration_s": 0.3, "status": 503}}, "connectors": [conn()]}
    )
    during = s.get("/v1/connections/c1")
    assert during.status_code == 503 and "Retry-After" not in during.headers
    assert during.json()["code"] == "ServiceUnavailable"
    eventually(lambda: s.get("/v1/connections/c1").status_code == 200)


def test_an_api_outage_later_in_the_run_leaves_earlier_calls_alone(make_sim):
    s = make_sim(
        {"fivetran": {"api_outage": {"start_s": 60, "duration_s": 10, "status": 500}}, "connectors": [conn()]}
    )
    assert s.get("/v1/connections/c1").status_code == 200


@pytest.mark.parametrize(("status", "retry_after"), [(403, None), (429, "1"), (500, None)])
def test_trigger_status_answers_every_trigger_and_starts_nothing(make_sim, status, retry_after):
    s = make_sim({"connectors": [conn(api={"trigger_status": status})]})
    for _ in range(2):
        answer = s.trigger("c1")
        assert answer.status_code == status
        assert set(answer.json()) == {"code", "message"}
        assert answer.headers.get("Retry-After") == retry_after
    assert s.history("c1") == []
    assert s.get("/v1/connections/c1").status_code == 200


def test_rate_limit_and_server_error_faults_still_come_first(make_sim):
    s = make_sim({"connectors": [conn(api={"rate_limit_first": 1, "server_error_first": 1})]})
    assert [s.get("/v1/connections/c1").status_code for _ in range(3)] == [429, 500, 200]


# -- syncs Fivetran starts by itself -----------------------------------------------------------


def test_already_syncing_runs_from_before_the_run_and_blocks_triggers(make_sim):
    s = make_sim(
        {"connectors": [conn(already_syncing={"remaining_s": 0.4, "outcome": "failure", "reason": "old"})]}
    )
    assert s.get("/v1/connections/c1").json()["data"]["status"]["sync_state"] == "syncing"
    assert s.trigger("c1").status_code == 409
    [start] = eventually(lambda: s.events("sync_start"))
    assert parse(start["created"]) < datetime.now(UTC) - timedelta(seconds=30)

    [end] = eventually(lambda: s.events("sync_end"))
    assert end["sync_id"] == start["sync_id"]
    assert end["data"] == {"status": "FAILURE", "reason": "old"}
    assert s.trigger("c1").status_code == 200
    rows = s.history("c1")
    assert rows[-1]["sync_id"] == start["sync_id"] and rows[0]["sync_id"] != start["sync_id"]


def test_scheduled_syncs_start_by_themselves_and_are_skipped_while_a_sync_runs(make_sim):
    s = make_sim(
        {
            "connectors": [
                conn(
                    schema="sched",
                    sync={"duration_s": 0.5, "rows": 7},
                    scheduled_syncs=[
                        {"start_s": 0.1, "duration_s": 0.1, "outcome": "success"},
                        {
                            "start_s": 0.6,
                            "duration_s": 0.2,
                            "outcome": "failure",
                            "reason": "scheduled broke",
                        },
                        {"start_s": 0.9, "duration_s": 0.1},
                    ],
                )
            ]
        }
    )
    [first] = eventually(lambda: s.events("sync_end"))
    assert first["data"] == {"status": "SUCCESSFUL"}
    assert s.writes == [{"schema": "sched", "service": "stripe", "rows": 7, "seed": 0}]
    eventually(lambda: len(s.events("sync_end")) == 2)
    # The one due at 0.9 s found the 0.6 s one running (it ends at 0.8 s at the earliest; if the
    # machine is slow it may have started after it): either way every sync is announced and ended.
    rows = s.history("c1")
    assert [r["status"] for r in rows][-2:] == ["FAILURE", "SUCCESSFUL"]
    assert rows[-2]["reason"] == "scheduled broke"
    assert {e["sync_id"] for e in s.events("sync_start")} == {r["sync_id"] for r in rows}


def test_a_scheduled_sync_is_skipped_while_a_triggered_one_runs(make_sim):
    s = make_sim(
        {"connectors": [conn(sync={"duration_s": 1}, scheduled_syncs=[{"start_s": 0.2}])]}, begin=False
    )
    s.sim.begin_run()
    s.trigger("c1")
    eventually(lambda: s.events("sync_end"))
    time.sleep(0.1)
    assert len(s.history("c1")) == 1


# -- reschedule and resume ---------------------------------------------------------------------


def test_an_auto_connection_resumes_a_rescheduled_sync_by_itself(make_sim):
    sync = {"duration_s": 0.1, "outcome": "rescheduled", "rescheduled_for_s": 0.3, "resume_duration_s": 0.2}
    s = make_sim({"connectors": [conn(sync=sync)]})
    s.trigger("c1")
    ends = eventually(lambda: s.events("sync_end") if len(s.events("sync_end")) == 2 else None)

    assert ends[0]["data"]["status"] == "RESCHEDULED" and ends[1]["data"] == {"status": "SUCCESSFUL"}
    assert ends[0]["sync_id"] != ends[1]["sync_id"]
    assert [e["sync_id"] for e in s.events("sync_start")] == [e["sync_id"] for e in ends]
    resumed, rescheduled = s.history("c1")
    assert rescheduled["rescheduled_for"] == ends[0]["data"]["rescheduledAt"]
    assert parse(resumed["start_time"]) >= parse(rescheduled["rescheduled_for"])
    assert (parse(resumed["end_time"]) - parse(resumed["start_time"])).total_seconds() >= 0.2


def test_a_manual_connection_never_resumes_by_itself(make_sim):
    sync = {"duration_s": 0.1, "outcome": "rescheduled", "rescheduled_for_s": 0.1}
    s = make_sim({"connectors": [conn(schedule_type="manual", sync=sync)]})
    s.trigger("c1")
    eventually(lambda: s.events("sync_end"))
    assert s.get("/v1/connections/c1").json()["data"]["status"]["sync_state"] == "rescheduled"
    time.sleep(0.3)  # past rescheduled_for: still nothing
    assert len(s.history("c1")) == 1

    assert s.trigger("c1").status_code == 200
    eventually(lambda: len(s.events("sync_end")) == 2)
    assert s.events("sync_end")[1]["data"] == {"status": "SUCCESSFUL"}


# -- mid-run changes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "shown", "trigger_status"),
    [
        ({"paused": True}, ("paused", True, "connected"), 400),
        ({"setup_state": "broken"}, ("scheduled", False, "broken"), 400),
        ({"setup_state": "incomplete"}, ("scheduled", False, "incomplete"), 400),
    ],
)
def test_a_connection_that_changes_mid_run_drops_its_sync(make_sim, change, shown, trigger_status):
    s = make_sim(
        {"connectors": [conn(sync={"duration_s": 0.6}, mid_run={"at_s": 0.2, **change})]}, begin=False
    )
    s.sim.begin_run()
    assert s.trigger("c1").status_code == 200

    def changed() -> bool:
        data = s.get("/v1/connections/c1").json()["data"]
        return (data["status"]["sync_state"], data["paused"], data["status"]["setup_state"]) == shown

    eventually(changed)
    time.sleep(0.6)  # past the sync's end: it was dropped, no sync_end
    assert s.events("sync_end") == []
    [row] = s.history("c1")
    assert (row["status"], row["end_time"]) == ("RUNNING", None)
    answer = s.trigger("c1")
    assert answer.status_code == trigger_status
    assert answer.json()["code"] == "BadRequest"
    assert len(s.history("c1")) == 1


ALL_EVENTS = ["sync_start", "sync_end", "pause_connector", "delete_connector", "connection_failure"]


@pytest.mark.parametrize(
    ("change", "event", "data"),
    [
        ({"paused": True}, "pause_connector", {}),
        ({"deleted": True}, "delete_connector", {}),
        (
            {"setup_state": "broken"},
            "connection_failure",
            {"reason": "simulated connection test failure: the connection's setup is broken"},
        ),
    ],
)
def test_a_change_mid_run_posts_its_signed_connection_event_when_the_webhook_sends_it(
    make_sim, change, event, data
):
    s = make_sim(
        {"fivetran": {"webhook_events": ALL_EVENTS}, "connectors": [conn(mid_run={"at_s": 0.1, **change})]}
    )

    eventually(lambda: s.events(event))

    [sent] = s.events(event)
    assert sent == {
        "event": event,
        "created": sent["created"],
        "connector_type": "stripe",
        "connector_id": "c1",
        "connector_name": "c1",
        "destination_group_id": "demo_group",
        "data": data,
    }
    raw = next(r for r in s.receiver.received if event.encode() in r["raw"])
    assert raw["signature"] == sign(raw["raw"], HOOK_SECRET)


def test_by_default_a_change_mid_run_posts_no_connection_event(make_sim):
    s = make_sim(
        {"connectors": [conn(sync={"duration_s": 0.1}), conn("c2", mid_run={"at_s": 0.1, "paused": True})]}
    )
    s.trigger("c1")

    eventually(lambda: s.events("sync_end"))
    eventually(lambda: s.get("/v1/connections/c2").json()["data"]["paused"])
    time.sleep(0.3)  # time for a delivery that must not come

    assert {e["event"] for e in s.events()} == {"sync_start", "sync_end"}


def test_a_pause_and_resume_mid_sync_drops_the_sync_and_a_new_one_follows(make_sim):
    changes = [{"at_s": 0.2, "paused": True}, {"at_s": 0.4, "paused": False}]
    s = make_sim({"connectors": [conn(sync={"duration_s": 0.6}, mid_run=changes)]}, begin=False)
    s.sim.begin_run()
    assert s.trigger("c1").status_code == 200

    [end] = eventually(lambda: s.events("sync_end"))

    [first_start, second_start] = s.events("sync_start")
    assert end["sync_id"] == second_start["sync_id"] != first_start["sync_id"]
    assert end["data"] == {"status": "SUCCESSFUL"}
    newest, dropped = s.history("c1")
    assert (dropped["sync_id"], dropped["status"], dropped["end_time"]) == (
        first_start["sync_id"],
        "RUNNING",
        None,
    )
    assert (newest["sync_id"], newest["status"]) == (second_start["sync_id"], "SUCCESSFUL")
    assert s.get("/v1/connections/c1").json()["data"]["paused"] is False


def test_a_connection_moved_to_another_group_mid_sync_leaves_the_group_and_syncs_there(make_sim):
    s = make_sim(
        {
            "connectors": [
                conn(sync={"duration_s": 0.6}, mid_run=[{"at_s": 0.2, "group_id": "other"}]),
                conn("c2"),
            ]
        },
        begin=False,
    )
    s.sim.begin_run()
    s.trigger("c1")

    eventually(lambda: s.get("/v1/connections/c1").json()["data"]["group_id"] == "other")

    listed = s.get("/v1/groups/demo_group/connections").json()["data"]["items"]
    assert [c["id"] for c in listed] == ["c2"]
    [end] = eventually(lambda: s.events("sync_end"))
    newest, dropped = s.history("c1")
    assert (dropped["status"], dropped["end_time"]) == ("RUNNING", None)
    assert end["sync_id"] == newest["sync_id"]


def test_an_api_key_rotation_puts_the_new_pair_in_the_secret_first_then_refuses_the_old_one(make_sim):
    s = make_sim({"fivetran": {"api_key_rotation": {"at_s": 0.3}}, "connectors": [conn()]}, begin=False)
    told: list[tuple[str, str]] = []
    s.sim.on_api_key_rotated = lambda key, secret: told.append((key, secret))
    s.sim.begin_run()
    assert s.get("/v1/connections/c1").status_code == 200  # before the rotation

    eventually(lambda: told)

    refused = s.get("/v1/connections/c1")
    assert (refused.status_code, refused.json()["code"]) == (401, "AuthFailed")
    [(key, secret)] = told
    assert (key, secret) == s.sim.rotated_credentials
    answer = requests.get(f"{s.url}/v1/connections/c1", auth=(key, secret), timeout=10)
    assert answer.status_code == 200


def test_a_connection_deleted_mid_run_is_not_found_everywhere(make_sim):
    s = make_sim(
        {"connectors": [conn(sync={"duration_s": 0.5}, mid_run={"at_s": 0.1, "deleted": True}), conn("c2")]}
    )
    s.trigger("c1")
    eventually(lambda: s.get("/v1/connections/c1").status_code == 404)
    for answer in (s.trigger("c1"), s.get("/v1/connections/c1/sync-history")):
        assert answer.status_code == 404
        assert answer.json()["code"] == "NotFound_Connection"
    listed = s.get("/v1/groups/demo_group/connections").json()["data"]["items"]
    assert [c["id"] for c in listed] == ["c2"]
    time.sleep(0.5)
    assert s.events("sync_end") == []


# -- webhook delivery --------------------------------------------------------------------------


def test_fail_first_answers_fail_then_the_webhook_is_redelivered(make_sim):
    s = make_sim({"connectors": [conn(sync={"duration_s": 0.1}, webhook={"fail_first": 2})]})
    s.trigger("c1")
    eventually(lambda: s.sim.webhooks.to_dict()["accepted"] == 2)  # logged once the answer is read

    assert s.sim.webhooks.to_dict() == {
        "sent": 4,
        "accepted": 2,
        "rejected": 2,
        "by_status": {"200": 2, "503": 2},
    }
    assert len(s.receiver.received) == 2  # the failing answers never reached the receiver


def test_a_failing_or_absent_receiver_gets_redeliveries(make_sim):
    s = make_sim(
        {"fivetran": {"webhook_events": ["sync_end"]}, "connectors": [conn(sync={"duration_s": 0.1})]},
        [500, 502],
    )
    s.trigger("c1")
    eventually(lambda: s.sim.webhooks.sent == 3)

    assert s.receiver.answered == [500, 502, 200]
    bodies = {r["raw"] for r in s.receiver.received}
    assert len(bodies) == 1  # the same delivery, redelivered
    assert s.sim.webhooks.to_dict()["by_status"] == {"200": 1, "500": 1, "502": 1}
    times = [d["at"] for d in s.sim.webhooks.deliveries]
    assert times[1] - times[0] >= 0.5 and times[2] - times[1] >= 1.0


def test_an_unreachable_receiver_is_retried(make_sim):
    s = make_sim(
        {"fivetran": {"webhook_events": ["sync_end"]}, "connectors": [conn(sync={"duration_s": 0.1})]}
    )
    s.sim.webhook_url = "http://127.0.0.1:9/nothing-listens"
    s.trigger("c1")
    eventually(lambda: s.sim.webhooks.sent >= 2)
    assert all(str(k).startswith("error:") for k in s.sim.webhooks.by_status)


def test_bad_signature_deliveries_stop_after_two_attempts(make_sim):
    s = make_sim(
        {
            "fivetran": {"webhook_events": ["sync_end"]},
            "connectors": [conn(sync={"duration_s": 0.1}, webhook={"bad_signature": True})],
        },
        [401, 401, 401],
    )
    s.trigger("c1")
    eventually(lambda: len(s.receiver.received) == 2)
    time.sleep(1.2)  # the third attempt would have come 1.0 s after the second
    assert s.sim.webhooks.to_dict() == {"sent": 2, "accepted": 0, "rejected": 2, "by_status": {"401": 2}}
    raw = s.receiver.received[0]
    assert raw["signature"] != sign(raw["raw"], HOOK_SECRET)


def test_no_redelivery_after_the_simulator_stopped(make_sim):
    s = make_sim(
        {"fivetran": {"webhook_events": ["sync_end"]}, "connectors": [conn(sync={"duration_s": 0.1})]},
        [500] * 5,
    )
    s.trigger("c1")
    eventually(lambda: len(s.receiver.received) == 1)
    s.sim.stop()
    time.sleep(0.7)
    assert len(s.receiver.received) == 1


def test_drop_duplicate_and_delay_apply_to_the_runs_syncs_only(make_sim):
    s = make_sim(
        {
            "connectors": [
                conn(
                    sync={"duration_s": 0.1},
                    webhook={"drop": True},
                    scheduled_syncs=[{"start_s": 0.5, "duration_s": 0.1, "outcome": "failure"}],
                ),
                conn("c2", sync={"duration_s": 0.1}, webhook={"duplicate": 1}),
            ]
        }
    )
    s.trigger("c1")
    s.trigger("c2")
    eventually(lambda: s.events("sync_end", "c1"))
    eventually(lambda: len(s.events("sync_end", "c2")) == 2)
    [end] = s.events("sync_end", "c1")
    assert end["data"]["status"] == "FAILURE"  # the scheduled sync's, the run's was dropped
    assert len(s.history("c1")) == 2
    assert len({e["sync_id"] for e in s.events("sync_end", "c2")}) == 1


# -- schema names ------------------------------------------------------------------------------


def test_schema_table_names_pass_through_unchanged(make_sim):
    s = make_sim(
        {
            "connectors": [
                conn("sheets", service="google_sheets", schema="sheets.sales", sync={"duration_s": 0.1})
            ]
        }
    )
    assert s.get("/v1/connections/sheets").json()["data"]["schema"] == "sheets.sales"
    s.trigger("sheets")
    [end] = eventually(lambda: s.events("sync_end"))
    assert end["connector_name"] == "sheets.sales"
    assert s.writes[-1]["schema"] == "sheets.sales"


def test_the_readme_format_block_is_a_valid_scenario():
    readme = (Path(__file__).resolve().parents[2] / "local" / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Scenario format (YAML)", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    scenario = parse_scenario(yaml.safe_load(block))
    [spec] = scenario.connectors
    assert scenario.fivetran.api_outage is not None and spec.mid_run
    assert spec.already_syncing is not None and spec.scheduled_syncs and spec.api.trigger_status == 0


def test_an_empty_webhook_events_list_is_an_account_without_a_webhook(make_sim):
    s = make_sim({"fivetran": {"webhook_events": []}, "connectors": [conn(sync={"duration_s": 0.1})]})

    s.trigger("c1")
    eventually(lambda: s.history("c1") and s.history("c1")[0]["status"] == "SUCCESSFUL")

    assert s.sim.fivetran.webhook_events == ()
    assert s.sim.webhooks.to_dict()["sent"] == 0
    assert s.events() == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"fivetran": {"clock_offset": 3}}, "unknown key fivetran.clock_offset"),
        ({"fivetran": {"clock_offset_s": "3"}}, "fivetran.clock_offset_s must be a number"),
        (
            {"fivetran": {"webhook_events": ["status"]}},
            "fivetran.webhook_events must be a list of sync_start",
        ),
        ({"fivetran": {"webhook_events": "sync_end"}}, "[] for no webhook"),
        ({"fivetran": {"api_outage": {"start_s": 1, "status": 200}}}, "fivetran.api_outage.status"),
        ({"fivetran": {"api_outage": {"until_s": 1}}}, "unknown key fivetran.api_outage.until_s"),
        ({"fivetran": {"api_key_rotation": {"at": 1}}}, "unknown key fivetran.api_key_rotation.at"),
        ({"fivetran": {"api_key_rotation": {"at_s": -1}}}, "fivetran.api_key_rotation.at_s must not"),
        (
            {"c": {"already_syncing": {"remaining_s": -1}}},
            "connectors[0].already_syncing.remaining_s must not",
        ),
        ({"c": {"scheduled_syncs": {"start_s": 1}}}, "connectors[0].scheduled_syncs must be a list"),
        (
            {"c": {"scheduled_syncs": [{"start_s": 1, "outcome": "ok"}]}},
            "connectors[0].scheduled_syncs[0].outcome",
        ),
        ({"c": {"mid_run": {"at_s": 1}}}, "connectors[0].mid_run needs exactly one of"),
        ({"c": {"mid_run": {"at_s": 1, "paused": True, "deleted": True}}}, "needs exactly one of"),
        ({"c": {"mid_run": {"at_s": 1, "setup_state": "connected"}}}, "mid_run.setup_state must be broken"),
        (
            {"c": {"mid_run": {"at_s": 1, "paused": False}}},
            "connectors[0].mid_run needs exactly one of paused: true,",
        ),
        ({"c": {"mid_run": {"at_s": 1, "group_id": "g2"}}}, "connectors[0].mid_run needs exactly one of"),
        ({"c": {"mid_run": []}}, "connectors[0].mid_run must not be an empty list"),
        ({"expect": {"causes": {"nope": "dropped"}}}, "expect.causes.nope is not a connector"),
        ({"expect": {"causes": {"c1": ""}}}, "expect.causes.c1 must be the text"),
        (
            {"c": {"mid_run": [{"at_s": 1}]}},
            "connectors[0].mid_run[0] needs exactly one of paused: true|false",
        ),
        ({"c": {"mid_run": [{"at_s": 1, "paused": "yes"}]}}, "connectors[0].mid_run[0].paused must be true"),
        ({"c": {"mid_run": [{"at_s": 1, "moved": "g"}]}}, "unknown key connectors[0].mid_run[0].moved"),
        ({"c": {"api": {"trigger_status": 200}}}, "connectors[0].api.trigger_status must be an HTTP error"),
        ({"c": {"webhook": {"fail_first": True}}}, "connectors[0].webhook.fail_first must be a number"),
        (
            {"c": {"sync": {"resume_duration_s": "soon"}}},
            "connectors[0].sync.resume_duration_s must be float",
        ),
    ],
)
def test_new_scenario_keys_are_validated_with_errors_naming_the_key(raw, message):
    connector = {"id": "c1", **raw.pop("c", {})}
    with pytest.raises(ScenarioError) as caught:
        parse_scenario({**raw, "connectors": [connector]})
    assert message in str(caught.value)


def test_new_scenario_keys_default_to_todays_behaviour():
    scenario = parse_scenario({"connectors": [{"id": "c1", "sync": {"duration_s": 2}}]})
    [spec] = scenario.connectors
    assert scenario.fivetran.clock_offset_s == 0 and scenario.fivetran.api_outage is None
    assert scenario.fivetran.webhook_events == ("sync_start", "sync_end")
    assert (spec.already_syncing, spec.scheduled_syncs, spec.mid_run) == (None, (), ())
    assert (spec.api.trigger_status, spec.webhook.fail_first, spec.sync.resume_s) == (0, 0, 2.0)


def _sim_without_webhooks(scenario: Any, warehouse_path: Path) -> FivetranSimulator:
    """A simulator of ``scenario`` writing its real warehouse at ``warehouse_path``, sending no webhook."""
    return FivetranSimulator(
        scenario,
        api_key=KEY,
        api_secret=SECRET,
        webhook_secret=HOOK_SECRET,
        webhook_url=None,
        duckdb_path=warehouse_path,
    )


def _list_group(sim: FivetranSimulator, limit: int) -> tuple[list[dict[str, Any]], int]:
    """Every connection of the group through the listing's cursor pages, and how many pages it took."""
    listed: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        answer = requests.get(
            f"{sim.url}/v1/groups/demo_group/connections", params=params, auth=AUTH, timeout=30
        )
        assert answer.status_code == 200, answer.text
        data = answer.json()["data"]
        listed += data["items"]
        pages += 1
        cursor = data.get("next_cursor")
        if cursor is None:
            return listed, pages


def test_twenty_five_hundred_generated_connections_are_all_listed_page_by_page(tmp_path: Path) -> None:
    """Scale: ``generate`` 2,500 connections, every one listed once through the group listing's cursor
    pages of 1,000 (Fivetran's largest limit). Their historical load is the next test's subject, on
    fewer connections: DuckDB takes about 25 s of CPU to write 2,500 schemas, the same one batch at
    any count. No timing assertion (see the README)."""
    scenario = parse_scenario({"generate": {"count": 2500, "duration_s": [4, 6], "rows": 1, "seed": 1}})
    sim = _sim_without_webhooks(scenario, tmp_path / "w.duckdb")
    sim.start()
    try:
        listed, pages = _list_group(sim, limit=1000)
    finally:
        sim.stop()
    assert pages == 3  # 1,000 + 1,000 + 500
    assert [c["id"] for c in listed] == [c.id for c in scenario.connectors]
    assert listed[0]["id"] == "stripe_0000" and listed[-1]["id"] == "zendesk_2499"
    assert all(c["status"]["setup_state"] == "connected" for c in listed)


def test_every_generated_connection_is_seeded_with_its_historical_load_in_one_batch(tmp_path: Path) -> None:
    """``generate``d connections start with a historical load: every table of every connection's schema
    holds at least 20 rows, written in one batch, and the listing shows each one's last success."""
    import duckdb

    scenario = parse_scenario({"generate": {"count": 25, "duration_s": [4, 6], "rows": 1, "seed": 1}})
    sim = _sim_without_webhooks(scenario, tmp_path / "w.duckdb")
    sim.seed_history()
    sim.start()
    try:
        listed, pages = _list_group(sim, limit=10)
    finally:
        sim.stop()
    assert pages == 3 and [c["id"] for c in listed] == [c.id for c in scenario.connectors]
    assert all(c["succeeded_at"] and c["status"]["setup_state"] == "connected" for c in listed)
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        counts = {
            # The scenario's own schema and table names, quoted: no outside input.
            (c.schema, table): con.execute(f'SELECT count(*) FROM "{c.schema}"."{table}"').fetchone()  # noqa: S608
            for c in scenario.connectors
            for table in warehouse.tables_for(c.service)
        }
    finally:
        con.close()
    assert {schema for schema, _ in counts} == {c.schema for c in scenario.connectors}
    assert {c.service for c in scenario.connectors} == set(KNOWN_SERVICES)  # every service's tables
    assert all(count is not None and count[0] >= 20 for count in counts.values()), counts
