"""``orchestrator register-webhook --help`` names every event the webhook is registered for, and says
that with ``--local`` it only demonstrates the real step."""

from __future__ import annotations

from click.testing import CliRunner

from ops.cli import cli
from ops.webhooks import EVENTS


def test_register_webhook_help_names_every_registered_event() -> None:
    shown = CliRunner().invoke(cli, ["register-webhook", "--help"], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    missing = [event for event in EVENTS if event not in shown.output]
    assert missing == []
    assert "only demonstrates" in shown.output


def test_the_command_list_does_not_say_sync_end_only() -> None:
    listed = CliRunner().invoke(cli, ["--help"], terminal_width=200)
    assert "sync_end webhook" not in listed.output
