"""The whole pipeline on one machine: moto (AWS), the Fivetran simulator, ``chalice local``,
the reconcile safety net on a short interval, and dbt as a local process on DuckDB.

``LocalRuntime`` is a context manager: entering starts everything, ``run()`` starts one
execution of the real state machine and waits for it, leaving stops every process it
started. Lambda invocations run the real handlers in-process (see ``moto_patches``);
webhooks reach the real route served by ``chalice local``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import requests
from botocore.config import Config
from moto.server import ThreadedMotoServer

from chalicelib.platform import metrics
from chalicelib.platform.config import Settings
from chalicelib.platform.log import logger as app_logger
from chalicelib.platform.timeutil import utcnow
from chalicelib.safety_net.reconcile import reconcile
from chalicelib.safety_net.webhook_watchdog import WebhookWatch, watch_webhook
from chalicelib.wiring import Dependencies, reset_dependencies, set_dependencies
from local import dbt_project, moto_patches
from local.chalice_local import ChaliceLocal, free_port
from local.ecs_runner import DbtProcessRunner, dbt_choice
from local.fivetran_sim import FivetranSimulator
from local.handler_wiring import LOCAL_POOL, REGION, api_secret, budget_settings, dependencies, local_session
from local.iam import enforce
from local.iam.enforce import Enforcer
from local.iam.stage import Policies, stage_enforcer
from local.patches import billing
from local.patches.pace import in_process_client
from local.provision import Stack, provision
from local.run_folders import RunFolders
from local.run_notifier import RunNotifier
from local.run_reads import RunReads
from local.safety_net_pace import PASS_IDLE_FACTOR, PASS_SECONDS, local_heartbeat_seconds, pass_budget
from local.scenario import Scenario

__all__ = ["API_KEY", "API_SECRET", "WEBHOOK_SECRET", "LocalRuntime"]

API_KEY = "local-api-key"
API_SECRET = "local-api-secret"  # noqa: S105 - the documented local-only credentials
WEBHOOK_SECRET = "local-webhook-secret"  # noqa: S105


@dataclass
class RunResult:
    execution_arn: str
    described: dict[str, Any]
    history: list[dict[str, Any]]
    duration_s: float
    notification: dict[str, Any] | None = None  # notify_run's answer (local/run_notifier.py)


def _log_handler() -> logging.StreamHandler[IO[str]]:
    """The handlers' logger's own handler (Powertools registers a ``StreamHandler``)."""
    return cast("logging.StreamHandler[IO[str]]", app_logger.registered_handler)


class LocalRuntime(RunReads):
    def __init__(
        self,
        scenario: Scenario,
        *,
        workdir: Path | None = None,
        iam_variant: Callable[[Policies], None] | None = None,
        dbt_project: Path | None = None,
        dbt: str | None = None,
        runs_dir: Path | None = None,
        pace: bool | None = None,
    ) -> None:
        """``dbt``: ``real`` or ``stand-in`` (default: ``$LOCAL_DBT``, else ``real``; see ``ecs_runner``).
        ``pace``: apply moto's pace patches (``local/patches/pace.py``: for thousands of connections;
        default: the scenario's ``settings.pace``, else off). Once applied they stay for the process.
        ``runs_dir``: keep each run's files there (``local.run_folders``): copied when the runtime
        stops, and whenever ``run_folders.refresh()`` is called (``serve`` does, every second); None
        keeps none."""
        self.scenario = scenario
        # IAM as deployed, enforced (local/iam): ``iam_variant`` may change the policies first (a test's
        # broken variant); ``self.iam`` holds the principals, the decisions and the refusals.
        self.iam_variant = iam_variant
        self.iam: Enforcer | None = None
        self.dbt_project_source = dbt_project  # --dbt-project: staged and parsed before the run
        self.dbt_choice = dbt_choice(dbt)
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="orchestrator-local-")
        self.workdir = Path(workdir or self._tmp.name)  # type: ignore[union-attr]
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.duckdb_path = self.workdir / "warehouse.duckdb"
        self.settings_overrides = scenario.settings
        self.pace = bool(scenario.settings.get("pace", False)) if pace is None else pace
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.heartbeat_seconds = local_heartbeat_seconds(scenario)
        self.server: ThreadedMotoServer | None = None
        self.simulator: FivetranSimulator | None = None
        self.chalice: ChaliceLocal | None = None
        self.dbt: DbtProcessRunner | None = None
        self.stack: Stack | None = None
        self.clients: dict[str, Any] = {}
        self.aws_endpoint = ""  # moto server's URL, once started
        self.deps: Dependencies | None = None
        self.reconcile_deps: Dependencies | None = None
        self.reconcile_runs = 0
        self.notifier: RunNotifier | None = None  # the stack's RunEndedRule, locally
        self._reconcile_lock = threading.Lock()
        self._chalice_log: IO[str] | None = None
        self._handler_log: IO[str] | None = None
        self._previous_stream: IO[str] | None = None
        self.runs_dir = runs_dir
        self.run_folders: RunFolders | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> LocalRuntime:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        moto_patches.install(pace=self.pace)
        # In-process handler logs (JSON lines) go to the run's log file, not over the progress display.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # moto logs every Fail state it evaluates at ERROR; the run report carries those causes.
        logging.getLogger("moto").setLevel(logging.CRITICAL)
        self._handler_log = (self.workdir / "handlers.log").open("a", encoding="utf-8")
        self._previous_stream = _log_handler().setStream(self._handler_log)
        # Their EMF metric lines too (on AWS: the function's log stream, which CloudWatch reads).
        metrics.set_stream(self._handler_log)
        port = free_port()
        # moto's ASL interpreter calls Lambda and ECS at localhost:$MOTO_PORT.
        os.environ["MOTO_PORT"] = str(port)
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.server.start()
        endpoint = f"http://127.0.0.1:{port}"
        # moto's backends live in this process: start from a clean account every time.
        requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
        requests.post(
            f"{endpoint}/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}}, timeout=10
        ).raise_for_status()
        session = local_session()
        self.aws_endpoint = endpoint  # for the other processes: chalice local, dbt, the operator CLI
        self.clients = {
            # This process's clients (the handlers', the runtime's) hand their calls to moto directly.
            name: in_process_client(session, name, config=Config(max_pool_connections=LOCAL_POOL))
            for name in ("dynamodb", "lambda", "iam", "ecs", "ec2", "stepfunctions", "s3")
        }
        settings = self.scenario.settings
        self.stack = provision(
            self.clients,
            stage="local",
            tunables={
                "MaxConcurrency": settings.get("max_concurrency", 0),
                "HeartbeatSeconds": self.heartbeat_seconds,
            },
        )
        chalice_port = free_port()
        self.simulator = FivetranSimulator(
            self.scenario,
            api_key=API_KEY,
            api_secret=API_SECRET,
            webhook_secret=WEBHOOK_SECRET,
            webhook_url=f"http://127.0.0.1:{chalice_port}/webhooks/fivetran",
            duckdb_path=self.duckdb_path,
        )
        self.simulator.seed_history()
        sim_url = self.simulator.start()
        self.iam = self._enforcer()
        secret_name = None
        if self.scenario.fivetran.api_key_rotation:
            self.clients["secretsmanager"] = in_process_client(session, "secretsmanager")
            secret_name = api_secret(self.clients["secretsmanager"], self.simulator, API_KEY, API_SECRET)
        settings_for_handlers = Settings(
            token_table=self.stack.table_name,
            fivetran_api_url=sim_url,
            fivetran_api_key=None if secret_name else API_KEY,
            fivetran_api_secret=None if secret_name else API_SECRET,
            fivetran_api_secret_arn=secret_name,
            webhook_secret=WEBHOOK_SECRET,
            reconcile_after_seconds=int(settings.get("reconcile_after_s", 2)),
            # The webhook watchdog checks only when the scenario asks (its GET /v1/webhooks would
            # otherwise count in every report's API calls); the stage's URL is the route's.
            webhook_watchdog_seconds=int(settings.get("webhook_watchdog_s", 0)),
            webhook_url=self.simulator.webhook_url,
            http_max_retries=6,
            notify_slack_webhook_url=settings.get("notify_slack_url")
            or os.environ.get("LOCAL_NOTIFY_SLACK_URL"),
            **budget_settings(settings),
        )
        # The operator's view (reports, tests) uses the runtime's own clients; the handlers and the safety
        # net call AWS as their own roles, each through clients the enforcer checks.
        self.deps = dependencies(settings_for_handlers, self.clients, None)
        handler_deps = dependencies(settings_for_handlers, self.clients, enforce.ACTING_AS)
        handler_deps.notify_retry_backoff = 0.1  # a receiver that is down costs a run's end < 1 s here
        set_dependencies(handler_deps)
        self.reconcile_deps = dependencies(settings_for_handlers, self.clients, "reconcile_syncs")
        if secret_name:
            # Warm, as Lambdas that ran before: their caches hold the pair about to be rotated.
            with enforce.acting_as("list_connectors"):
                handler_deps.fivetran()
            self.reconcile_deps.fivetran()
        # The dbt process keeps its artifacts in moto's S3, as the task does in the stack's bucket.
        aws_env = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": self.iam.principals["dbt_task"].access_key,
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }
        self.dbt = DbtProcessRunner(self.duckdb_path, self.workdir, aws_env=aws_env, dbt=self.dbt_choice)
        if self.dbt_project_source is not None:  # as the image build stages it; must parse on DuckDB
            project = dbt_project.prepare(self.dbt_project_source, self.workdir, self.dbt.python)
            dbt_project.parse(project, self.dbt.python, self.duckdb_path, self.workdir)
            self.dbt.project_env = project.env()
        moto_patches.set_ecs_task_runner(self.dbt)
        self._chalice_log = (self.workdir / "chalice-local.log").open("w", encoding="utf-8")
        self.chalice = ChaliceLocal(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "FIVETRAN_API_URL": sim_url,
                "TOKEN_TABLE": self.stack.table_name,
                # the route's delivery notes keep pace with the watchdog's checks (note_every)
                "WEBHOOK_WATCHDOG_SECONDS": str(settings_for_handlers.webhook_watchdog_seconds),
                "AWS_ACCESS_KEY_ID": self.iam.principals["api_handler"].access_key,
                **({"FIVETRAN_API_SECRET_ARN": secret_name} if secret_name else {}),
            },
            port=chalice_port,
            log=self._chalice_log,
        )
        self.chalice.start()
        self._spawn(self._reconcile_loop, "reconcile")
        if settings_for_handlers.notify_slack_webhook_url:  # as the stack makes its rule only when asked
            self.notifier = RunNotifier(
                self.clients["stepfunctions"],
                self.clients["lambda"],
                function_arn=self.stack.function_arns["notify_run"],
                state_machine_arn=self.stack.state_machine_arn,
                bucket=self.stack.artifacts_bucket,
            )
            self._spawn(lambda: self.notifier.watch(self._stop) if self.notifier else None, "run-notifier")
        if self.runs_dir is not None:
            self.run_folders = RunFolders(
                self.clients,
                self.stack.artifacts_bucket,
                self.stack.state_machine_arn,
                self.runs_dir,
                self.workdir,
            )
        # The scenario's clock (start_s, at_s, remaining_s) starts now that everything is up, and
        # so do the counts AWS would bill (provisioning is not part of a run).
        billing.reset()
        self.simulator.begin_run()

    def _enforcer(self) -> Enforcer:
        """The stage's principals with their policies as a dev deploy attaches them, made active."""
        assert self.stack is not None
        enforcer = stage_enforcer(self.stack, region=REGION, variant=self.iam_variant)
        enforce.set_active(enforcer)
        return enforcer

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def reconcile_once(self) -> None:
        """One pass of ``reconcile_syncs``'s logic, as the schedule would run it."""
        deps = self.reconcile_deps
        assert deps is not None
        with self._reconcile_lock:
            report = reconcile(
                deps.store,
                deps.fivetran(),
                deps.resolver(),
                now=utcnow(),
                older_than_seconds=deps.settings.reconcile_after_seconds,
                max_connections=deps.settings.reconcile_max_tokens,
                remaining_ms=pass_budget(PASS_SECONDS),
                read_timeout=PASS_SECONDS,
            )
            watch_webhook(
                WebhookWatch(deps.store.table_name, deps.store.client),
                deps.fivetran(),
                now=time.time(),
                found_ends=report.resolution.completed,
                url=deps.settings.webhook_url,
                interval_seconds=deps.settings.webhook_watchdog_seconds,
            )
            self.reconcile_runs += 1

    def _reconcile_loop(self) -> None:
        """A pass every ``reconcile_interval_s``, or longer after a long pass (at most a third of
        the heartbeat): on AWS the pass runs in its own Lambda, here it shares the machine with
        everything it watches."""
        interval = float(self.scenario.settings.get("reconcile_interval_s", 1.0))
        wait = interval
        while not self._stop.wait(wait):
            started = time.monotonic()
            with contextlib.suppress(Exception):  # the safety net keeps running, like the scheduled Lambda
                self.reconcile_once()
            took = time.monotonic() - started
            # Never so long that a token misses its heartbeat (a pass heartbeats every token).
            wait = max(interval, min(took * PASS_IDLE_FACTOR, self.heartbeat_seconds / 3))

    def close(self) -> None:
        self._stop.set()
        if self.run_folders is not None and self.server is not None:
            with contextlib.suppress(Exception):  # best effort: the last copy of every run's files
                self.run_folders.keep_all()
            self.run_folders = None
        for part in (self.chalice, self.dbt, self.simulator):
            if part is not None:
                with contextlib.suppress(Exception):  # best-effort teardown
                    part.stop()
        moto_patches.set_ecs_task_runner(None)
        enforce.set_active(None)
        reset_dependencies()
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self._handler_log is not None:
            _log_handler().setStream(self._previous_stream or sys.stdout)
            metrics.set_stream(None)
            self._handler_log.close()
            self._handler_log = None
        if self._chalice_log is not None:
            self._chalice_log.close()
            self._chalice_log = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # -- runs ----------------------------------------------------------------------------

    def start_execution(self, run_input: dict[str, Any] | None = None) -> str:
        assert self.stack is not None
        payload = run_input if run_input is not None else self.scenario.execution_input()
        return self.clients["stepfunctions"].start_execution(
            stateMachineArn=self.stack.state_machine_arn, input=json.dumps(payload)
        )["executionArn"]

    def describe(self, arn: str) -> dict[str, Any]:
        return self.clients["stepfunctions"].describe_execution(executionArn=arn)

    def wait(self, arn: str, timeout: float, on_tick: Any = None) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            described = self.describe(arn)
            if on_tick is not None:
                on_tick(arn, described)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {arn} still RUNNING after {timeout} s")
            time.sleep(0.25)

    def run(
        self, run_input: dict[str, Any] | None = None, *, timeout: float | None = None, on_tick: Any = None
    ) -> RunResult:
        started = time.monotonic()
        arn = self.start_execution(run_input)
        return self.finish(arn, started, timeout=timeout, on_tick=on_tick)

    def finish(
        self, arn: str, started: float, *, timeout: float | None = None, on_tick: Any = None
    ) -> RunResult:
        """Wait for the execution ``arn`` (started at ``started``, ``time.monotonic()``) to end."""
        described = self.wait(arn, timeout or float(self.scenario.settings.get("timeout_s", 120)), on_tick)
        # Let in-flight webhooks (duplicates, late ones) land, and give the safety net its next pass
        # (it deletes the token of a sync that timed out) before the report is taken.
        time.sleep(0.3)
        self.reconcile_once()
        notification = self.notifier.notify(arn) if self.notifier is not None else None
        return RunResult(arn, described, self.history(arn), time.monotonic() - started, notification)
