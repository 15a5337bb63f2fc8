"""Operator scripts run from a checkout (never shipped to Lambda). ``python -m scripts.deploy`` forwards to
``python -m deploy`` (the ``deploy/`` package).
"""
