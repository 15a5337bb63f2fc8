"""``python -m local``: the local runtime's commands.

- ``demo [--scenario FILE] [--report FILE]``: one whole run with live progress (``make demo``).
- ``serve [--scenario FILE] [--state-file PATH]``: keep the runtime up for ``orchestrator --local``.
- ``webhook [--port 8000]``: moto on 127.0.0.1:5055 with the token table, plus
  ``chalice local --stage local`` serving the webhook route, until Ctrl-C (``make webhook``).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import click
from rich.console import Console

from local.scenario import ScenarioError, load_scenario

DEFAULT_SCENARIO = Path(__file__).with_name("scenarios") / "demo.yaml"
ROOT = Path(__file__).resolve().parent.parent


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
    help="Keep the DuckDB file and logs here (default: a temporary folder).",
)
def demo(scenario_path: Path, report_path: Path | None, workdir: Path | None) -> None:
    """Run one execution of the real state machine against a simulated Fivetran, then dbt on DuckDB."""
    from local.demo import run_demo

    try:
        scenario = load_scenario(scenario_path)
    except ScenarioError as exc:
        raise click.ClickException(f"{scenario_path}: {exc}") from exc
    sys.exit(run_demo(scenario, report_path, Console(), workdir))


@cli.command()
@click.option("--port", default=8000, show_default=True, help="Port for chalice local.")
def webhook(port: int) -> None:
    """Serve the webhook route locally (chalice local --stage local) with a moto token table."""
    import json

    from moto.server import ThreadedMotoServer

    from local.chalice_local import wait_for_port
    from local.infra_schema import token_table_spec

    stage = json.loads((ROOT / ".chalice" / "config.json").read_text())["stages"]["local"][
        "environment_variables"
    ]
    endpoint = stage["AWS_ENDPOINT_URL"]
    moto_port = int(endpoint.rsplit(":", 1)[1])

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # Ctrl-C (and a plain `kill`) stop both, even when started without a terminal.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    server.start()
    chalice = None
    try:
        boto3.client(
            "dynamodb",
            endpoint_url=endpoint,
            region_name=stage["AWS_DEFAULT_REGION"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto
        ).create_table(TableName=stage["TOKEN_TABLE"], BillingMode="PAY_PER_REQUEST", **token_table_spec())
        chalice_bin = Path(sys.executable).with_name("chalice")
        chalice = subprocess.Popen(  # noqa: S603 - fixed command line
            [str(chalice_bin), "local", "--stage", "local", "--no-autoreload", "--port", str(port)], cwd=ROOT
        )
        wait_for_port(port, 60, chalice)
        click.echo(f"moto (token table {stage['TOKEN_TABLE']}) on {endpoint}")
        click.echo(
            f"webhook: POST http://127.0.0.1:{port}/webhooks/fivetran"
            f" (secret: {stage['FIVETRAN_WEBHOOK_SECRET']})"
        )
        click.echo("Ctrl-C stops both.")
        while chalice.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        if chalice is not None and chalice.poll() is None:
            chalice.terminate()
            chalice.wait(timeout=10)
        server.stop()
        click.echo("stopped")


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
def serve(scenario_path: Path, state_path: Path | None) -> None:
    """Keep the local runtime running for `orchestrator --local` until Ctrl-C or SIGTERM."""
    import os

    from local.serve import ServeError
    from local.serve import serve as run_serve
    from ops.state_file import state_file_path

    try:
        code = run_serve(scenario_path, state_file_path(state_path), click.echo, os.getpid())
    except (ServeError, ScenarioError) as exc:
        raise click.ClickException(str(exc)) from exc
    sys.exit(code)


if __name__ == "__main__":
    cli()
