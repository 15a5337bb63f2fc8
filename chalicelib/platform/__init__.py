"""What every flow stands on, importing nothing of ours: settings (``config``), secrets, logging,
errors (every typed error), metrics, time (``timeutil``: timestamps and a Lambda's time budget) and
the table of AWS calls (``aws_calls``). The clients are built above every flow: ``chalicelib/wiring.py``."""
