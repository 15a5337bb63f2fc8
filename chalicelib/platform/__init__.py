"""What every flow stands on: settings (``config``), secrets, logging, errors, metrics, time
(``timeutil``), and ``dependencies``, the one place the AWS and Fivetran clients are built."""
