"""``python -m local``: the local runtime's commands.

- ``demo [--scenario FILE] [--report FILE] [--dbt-project PATH]``: one whole run with live progress
  (``make demo``); ``--dbt-project`` runs your dbt project instead of the bundled one.
- ``serve [--scenario FILE] [--state-file PATH] [--runs-dir DIR]``: keep the runtime up for
  ``orchestrator --local``; each run's files stay in ``DIR/<run>/``.
- ``webhook [--port 8000] [--moto-port 5055]``: moto with the token table, plus
  ``chalice local --stage local`` serving the webhook route, until Ctrl-C (``make webhook``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from local.scenario import ScenarioError, load_scenario

DEFAULT_SCENARIO = Path(__file__).with_name("scenarios") / "demo.yaml"


scenario_option = click.option(
    "--scenario",
    "scenario_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=DEFAULT_SCENARIO,
    show_default=True,
    help="Scenario YAML: the simulated Fivetran group and its connections (format: local/README.md).",
)


@click.group()
def cli() -> None:
    """The orchestrator on one machine: no AWS account, no Fivetran account."""


@cli.command()
@scenario_option
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the run report (JSON) here.",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the DuckDB file and logs here (default: a new temporary folder, kept: the output names it).",
)
@click.option(
    "--dbt-project",
    "dbt_project",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Run this dbt project (a folder with dbt_project.yml) instead of the bundled one, staged as the "
    "image build stages it, on DuckDB (docs/your-dbt-project.md).",
)
def demo(
    scenario_path: Path, report_path: Path | None, workdir: Path | None, dbt_project: Path | None
) -> None:
    """Run one execution of the real state machine against a simulated Fivetran, then dbt on DuckDB."""
    from local.demo import run_demo

    try:
        scenario = load_scenario(scenario_path)
    except ScenarioError as exc:
        raise click.ClickException(f"{scenario_path}: {exc}") from exc
    sys.exit(run_demo(scenario, report_path, Console(), workdir, dbt_project))


@cli.command()
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="chalice local's port (PORT=).",
)
@click.option(
    "--moto-port",
    default=5055,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="moto's port, the token table's endpoint (MOTO_PORT=).",
)
def webhook(port: int, moto_port: int) -> None:
    """Serve the webhook route (chalice local --stage local) with a moto token table, until Ctrl-C."""
    from local.webhook_server import WebhookServerError, serve_webhook

    try:
        code = serve_webhook(port, moto_port, click.echo, lambda line: click.echo(line, err=True))
    except WebhookServerError as exc:
        raise click.ClickException(str(exc)) from exc
    sys.exit(code)


@cli.command()
@scenario_option
@click.option(
    "--state-file",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the state file `orchestrator --local` reads "
    "(default: .local-runtime.json in the repo root, or $ORCHESTRATOR_STATE_FILE).",
)
@click.option(
    "--runs-dir",
    "runs_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep each run's files (outcomes, dbt artifacts, logs) in DIR/<run>/, after the runtime stops too "
    "(default: .local-runs beside the state file, or $ORCHESTRATOR_LOCAL_RUNS_DIR).",
)
def serve(scenario_path: Path, state_path: Path | None, runs_dir: Path | None) -> None:
    """Keep the local runtime running for `orchestrator --local` until Ctrl-C or SIGTERM."""
    import os

    from contracts.state_file import state_file_path
    from local.serve import ServeError
    from local.serve import serve as run_serve

    try:
        code = run_serve(scenario_path, state_file_path(state_path), click.echo, os.getpid(), runs_dir)
    except (ServeError, ScenarioError) as exc:
        raise click.ClickException(str(exc)) from exc
    sys.exit(code)


if __name__ == "__main__":
    cli()
