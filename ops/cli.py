"""``orchestrator``: the operator's command-line tool (click).

- ``sign FILE [--secret S]``: print the ``X-Fivetran-Signature-256`` value for a body file,
  so ``curl`` can post a simulated event to ``chalice local``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from chalicelib.signature import sign as sign_body

LOCAL_WEBHOOK_SECRET = "local-webhook-secret"  # noqa: S105 - the documented local stage secret


@click.group()
def cli() -> None:
    """Operate the Fivetran → dbt orchestrator."""


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


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
