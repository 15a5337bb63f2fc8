"""Operator tooling: the ``orchestrator`` command-line tool."""
