"""Formats two parts of the repository share and neither owns.

- ``contracts.state_file``: the local runtime's state file, written by ``python -m local serve``
  (``local/serve.py``) and read by ``orchestrator --local`` (``ops/``).
"""
