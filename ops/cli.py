"""``orchestrator``: the operator's command-line tool (click).

- ``register-webhook --group G``: the Fivetran group webhook for ``sync_start``, ``sync_end``,
  ``pause_connector``, ``delete_connector`` and ``connection_failure`` (idempotent, ``--dry-run``).
- ``rotate-webhook-secret``: a new webhook secret in Secrets Manager, then in Fivetran; no delivery lost.
- ``start-run (--group G | --connector ID ...) [--wait | --dry-run]``: validate the input, start a run,
  follow it; ``--dry-run`` lists what would sync, be skipped and why, and dbt's command (``ops.dry_run``).
- ``stop RUN``, ``logs RUN [--connection ID]``: stop a run (its map run, its dbt task); one run's log
  lines from every part in time order (``ops.run_commands``).
- ``retry RUN [--wait]``: a new run that redoes only what RUN did not finish (``ops.retry``).
- ``runs [--limit N]``: recent runs with status, start, duration and connections ok/failed/skipped.
- ``show RUN [--html FILE] [--all]``: a run per connection, dbt and the cause; ``--html`` writes a
  timeline page; past 50 succeeded connections the rest are counted unless ``--all``.
- ``doctor``: check a deployed stage without starting a run (IAM as AWS evaluates it, secrets, the dbt
  image, the network, Fivetran and its webhook, schedule, alarm); one line per check, exit 1 on any ✘.
  ``--local``: the runtime's state machine, webhook secret, Fivetran key and webhook.
- ``sign FILE [--secret S]``: print the ``X-Fivetran-Signature-256`` value for a body file,
  so ``curl`` can post a simulated event to ``chalice local``.

Every command but ``sign`` acts on ``--stage S`` (a deployed stage) or ``--local`` (the runtime of
``python -m local serve``); ``ops.target`` resolves which. Expected failures are one line
(``ops.errors``), never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from chalicelib.run.run_input import DBT_COMMANDS
from chalicelib.webhook.signature import sign as sign_body
from ops.display import make_console, rerun_command, run_report, runs_table
from ops.errors import OpsError, readable
from ops.run_commands import register as register_run_commands
from ops.run_commands import run_files_line
from ops.target import Target, TargetSpec, resolve_target

LOCAL_WEBHOOK_SECRET = "local-webhook-secret"  # noqa: S105 - the documented local stage secret


class OrchestratorGroup(click.Group):
    """Turns expected failures (AWS, Fivetran, the state file) into click's one-line errors."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            error = readable(exc)
            if error is None:
                raise
            raise error from exc


@click.group(cls=OrchestratorGroup, name="orchestrator")
@click.version_option(package_name="fivetran-orchestrator", prog_name="orchestrator")
def cli() -> None:
    """Operate the Fivetran → dbt orchestrator.

    Commands act on a deployed stage (--stage S, e.g. dev; or $ORCHESTRATOR_STAGE) or on the
    local runtime (--local: start it with `python -m local serve`).

    Exit codes: 0 done; 1 error (the message says what to fix); 2 invalid usage or run input;
    3 `start-run --wait` followed a run that did not succeed.
    """


def target_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add --stage/--local/--state-file/--region; the command gets ``target()``, which resolves them.

    Resolving is left to the command so that input checks come first (an invalid run input is
    refused even without a runtime) and its errors go through ``OrchestratorGroup``.
    """

    @click.option("--stage", metavar="S", help="A deployed stage (its stack and .chalice/deployed/S.json).")
    @click.option("--local", "use_local", is_flag=True, help="The local runtime (`python -m local serve`).")
    @click.option(
        "--state-file",
        type=click.Path(dir_okay=False, path_type=Path),
        help="The local runtime's state file (implies --local; default .local-runtime.json, "
        "or $ORCHESTRATOR_STATE_FILE).",
    )
    @click.option(
        "--region",
        metavar="REGION",
        help="AWS region of the stage (default: the profile's / AWS_DEFAULT_REGION).",
    )
    @wraps(command)
    def wrapper(
        stage: str | None, use_local: bool, state_file: Path | None, region: str | None, **kwargs: Any
    ) -> Any:
        spec = TargetSpec(stage=stage, local=use_local, state_file=state_file, region=region)
        return command(lambda: resolve_target(spec), **kwargs)

    return wrapper


@cli.command(
    "register-webhook",
    short_help="Register the Fivetran group webhook for sync and connection events (idempotent).",
)
@click.option("--group", "group_id", required=True, metavar="G", help="The Fivetran group whose syncs end.")
@click.option("--dry-run", is_flag=True, help="Print the request (secret masked); send nothing.")
@target_options
def register_webhook_command(target: Callable[[], Target], group_id: str, dry_run: bool) -> None:
    """Create the Fivetran group webhook pointing at this deployment's /webhooks/fivetran.

    Events: sync_start, sync_end, pause_connector, delete_connector, connection_failure.
    With --local it registers the webhook with the local Fivetran simulator: it only demonstrates
    the step you run against Fivetran after a deploy.

    The secret comes from Secrets Manager (the stack's WebhookSecretArn; locally, the state
    file). Idempotent: when the group already has a webhook for that URL, it is reported and
    nothing is created; one Fivetran disabled is re-activated (PATCH active, the stage's URL).
    """
    from ops.webhooks import dry_run_request, register_webhook

    resolved = target()
    resolved.check_group(group_id)
    if dry_run:
        click.echo(dry_run_request(resolved, group_id))
        click.echo("(dry run: nothing was sent)", err=True)
        return
    result = register_webhook(resolved, group_id)
    hook = result.webhook
    events = ", ".join(hook.get("events") or [])
    if result.created or result.reactivated:
        done = "created" if result.created else "re-activated"
        click.echo(
            f"{done} Fivetran webhook {hook.get('id')} for group {group_id}: {events} → {hook.get('url')}"
        )
        click.echo("Fivetran's test delivery reached the route and was accepted.")
    else:
        state = "active" if hook.get("active", True) else "inactive"
        click.echo(
            f"already registered: Fivetran webhook {hook.get('id')} ({hook.get('type', 'group')}, {events}, "
            f"{state}) → {hook.get('url')}; nothing created"
        )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)


@cli.command("rotate-webhook-secret", short_help="Rotate the webhook secret without losing a delivery.")
@click.option(
    "--group", "group_id", metavar="G", help="The group of the webhook (default: any to this route)."
)
@click.option(
    "--window",
    "window_seconds",
    type=click.IntRange(min=600),
    default=3600,
    show_default=True,
    help="Seconds the route still accepts the old secret.",
)
@target_options
def rotate_webhook_secret_command(
    target: Callable[[], Target], group_id: str | None, window_seconds: int
) -> None:
    """Generate a new webhook secret and hand it to Secrets Manager, then to Fivetran.

    The new value becomes AWSCURRENT and the old one AWSPREVIOUS; the route accepts both until the
    window closes. Then PATCH /v1/webhooks/{id} gives Fivetran the new one. If Fivetran refuses, the
    old secret is made current again.
    """
    from ops.rotate_secret import rotate_webhook_secret

    rotation = rotate_webhook_secret(
        target(),
        group_id=group_id,
        window_seconds=window_seconds,
        progress=click.echo,
    )
    click.echo(
        f"rotated: Fivetran webhook {rotation.webhook_id} signs with the new secret; the old one is "
        f"accepted until {rotation.previous_accepted_until:%Y-%m-%d %H:%M:%S} UTC"
    )


@cli.command("start-run", short_help="Start a validated run; --wait follows it to the end.")
@click.option("--group", "group_id", metavar="G", help="Sync every connection of this Fivetran group.")
@click.option(
    "--connector", "connectors", multiple=True, metavar="ID", help="Sync this connection (repeatable)."
)
@click.option("--on-sync-failure", type=click.Choice(["fail", "continue"]), help="Default fail: no dbt.")
@click.option("--paused", type=click.Choice(["skip", "fail"]), help="Paused connections (default skip).")
@click.option("--sync-timeout", type=int, metavar="SECONDS", help="How long one sync may take.")
@click.option("--dbt-command", type=click.Choice(DBT_COMMANDS), help="Default build.")
@click.option("--dbt-select", metavar="SELECTOR", help="dbt --select.")
@click.option("--dbt-exclude", metavar="SELECTOR", help="dbt --exclude.")
@click.option("--name", metavar="NAME", help="Execution name (default: generated).")
@click.option("--wait", is_flag=True, help="Follow the run until it ends; exit 3 unless it succeeded.")
@click.option(
    "--dry-run",
    is_flag=True,
    help="List what would sync, be skipped and why, and dbt's command; start nothing.",
)
@target_options
def start_run_command(
    target: Callable[[], Target], name: str | None, wait: bool, dry_run: bool, **options: Any
) -> None:
    """Validate the run input as the state machine will, start a run and print its ARN."""
    from ops.runs import RunOptions, build_run_input, start_run

    run_input = build_run_input(
        RunOptions(
            group=options["group_id"],
            connectors=tuple(options["connectors"]),
            on_sync_failure=options["on_sync_failure"],
            paused=options["paused"],
            sync_timeout=options["sync_timeout"],
            dbt_command=options["dbt_command"],
            dbt_select=options["dbt_select"],
            dbt_exclude=options["dbt_exclude"],
        )
    )
    resolved = target()
    if options["group_id"]:
        resolved.check_group(options["group_id"])
    if dry_run:
        from ops.dry_run import dry_run as plan

        click.echo("\n".join(plan(resolved, run_input).lines(resolved.label)))
        return
    from ops.follow import report_started

    code = report_started(resolved, start_run(resolved, run_input, name), wait)
    if code:
        sys.exit(code)


@cli.command(short_help="Recent runs: status, duration, connections ok/failed/skipped.")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000), help="How many runs.")
@target_options
def runs(target: Callable[[], Target], limit: int) -> None:
    """Recent runs: status, start, duration, connections ok/failed/skipped and dbt."""
    from ops.runs import recent_runs
    from ops.webhook_health import runs_warning

    resolved = target()
    found = recent_runs(resolved, limit)
    console = make_console()
    if not found:
        console.print(
            f"no runs yet on {resolved.label}: orchestrator start-run {resolved.flag} --group G --wait"
        )
    else:
        console.print(runs_table(found, resolved.label))
    warning = runs_warning(resolved)  # the safety net's webhook watchdog found the webhook unhealthy
    if warning:
        console.print(f"warning: {warning}", markup=False, soft_wrap=True)


@cli.command(short_help="One run per connection, dbt and the cause; --html timeline.")
@click.argument("run")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write a self-contained page with the run's timeline here.",
)
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help="Print every connection (by default, past 50 succeeded ones the rest are counted).",
)
@target_options
def show(target: Callable[[], Target], run: str, html_path: Path | None, show_all: bool) -> None:
    """One run: each connection's outcome, sync id, timing and cause; dbt; the run's error.

    RUN is an execution ARN, a name, or the start of a recent run's name.
    """
    from datetime import UTC, datetime

    from ops.runs import execution_arn, run_view
    from ops.timeline import bar_summary, render_timeline

    resolved = target()
    view = run_view(resolved, execution_arn(resolved, run), links=True)
    console = make_console()
    console.print(run_report(view, resolved.flag, show_all=show_all))
    if files := run_files_line(resolved, view.name):
        console.print(files, soft_wrap=True, highlight=False)
    if html_path is not None:
        try:
            now = datetime.now(UTC) if view.status == "RUNNING" else None
            page = render_timeline(view, now=now, rerun=rerun_command(view, resolved.flag))
            html_path.write_text(page, encoding="utf-8")
        except OSError as exc:
            raise OpsError(f"cannot write {html_path}: {exc.strerror}") from None
        console.print(f"timeline written to {html_path} ({bar_summary(view)})")


@cli.command(short_help="Check a deployed stage without starting a run (✔/✘ per check).")
@target_options
def doctor(target: Callable[[], Target]) -> None:
    """Check a deployed stage: each role's permissions (iam:SimulatePrincipalPolicy over every call
    the code makes), the secrets, the dbt image in ECR, the dbt task's route to the internet, the
    Fivetran API key and webhook, the schedule and the alarm's topic; and lists, as warnings, the
    connections without a dbt source and the dbt sources without a connection of the latest run that
    built with dbt. Starts nothing, changes nothing.

    Exit 1 when any check fails; each failed line says what to do.
    """
    from ops.doctor import check_stage, failed, render, stage_of
    from ops.doctor_checks import (
        check_alarm,
        check_fivetran,
        check_image,
        check_network,
        check_schedule,
        check_secrets,
    )
    from ops.doctor_iam import check_iam
    from ops.doctor_sources import check_source_contract
    from ops.target import StageTarget
    from ops.webhook_health import watchdog_check

    resolved = target()
    if not isinstance(resolved, StageTarget):
        from ops.doctor_local import check_local

        local = check_stage(
            None,
            None,
            [
                ("local runtime", lambda stage, services: check_local(resolved)),
                (
                    "dbt sources",
                    lambda stage, services: check_source_contract(
                        resolved.stepfunctions(), resolved.state_machine_arn
                    ),
                ),
            ],
        )
        local.append(watchdog_check(resolved))
        click.echo(f"doctor: {resolved.label} (IAM, secrets, image and network: on a deployed stage)")
        click.echo(render(local))
        sys.exit(1 if failed(local) else 0)
    services = resolved.services()
    stage = stage_of(resolved, services)
    results = check_stage(
        stage,
        services,
        [
            ("IAM", check_iam),
            ("secrets", check_secrets),
            ("dbt image", check_image),
            ("network", check_network),
            ("Fivetran", check_fivetran),
            ("schedule", check_schedule),
            ("alarm topic", check_alarm),
            (
                "dbt sources",
                lambda stage, services: check_source_contract(
                    services.aws("stepfunctions"), stage.outputs.get("StateMachineArn", "")
                ),
            ),
        ],
    )
    results.append(watchdog_check(resolved))
    click.echo(f"doctor: {resolved.label}, stack {stage.stack}, account {stage.account}")
    click.echo(render(results))
    if failed(results):
        sys.exit(1)


@cli.command()
@click.argument("body_file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--secret",
    envvar="FIVETRAN_WEBHOOK_SECRET",
    default=LOCAL_WEBHOOK_SECRET,
    show_default=True,
    help="Webhook secret (env FIVETRAN_WEBHOOK_SECRET).",
)
def sign(body_file: str, secret: str) -> None:
    """Print the X-Fivetran-Signature-256 value of BODY_FILE's exact bytes ('-' reads stdin)."""
    body = sys.stdin.buffer.read() if body_file == "-" else Path(body_file).read_bytes()
    click.echo(sign_body(body, secret))


register_run_commands(cli, target_options)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
