"""The shape of what the demo connections land: each service's tables and columns (``TABLES``, which the dbt
project's sources in ``dbt_container/project/models/staging`` mirror), the generic table of a service
nobody modelled, the schema each demo connection syncs into, and how ids look (numbers, or a prefix and a
zero-padded number) and which table's rows point at which parent."""

from __future__ import annotations

Columns = list[tuple[str, str]]

SYNCED = ("_fivetran_synced", "TIMESTAMP")

# service -> table -> [(column, duckdb type)]; parents come before the children that reference them.
TABLES: dict[str, dict[str, Columns]] = {
    "stripe": {
        "customers": [
            ("id", "VARCHAR"),
            ("email", "VARCHAR"),
            ("name", "VARCHAR"),
            ("created", "TIMESTAMP"),
            SYNCED,
        ],
        "charges": [
            ("id", "VARCHAR"),
            ("customer_id", "VARCHAR"),
            ("amount", "BIGINT"),
            ("currency", "VARCHAR"),
            ("status", "VARCHAR"),
            ("created", "TIMESTAMP"),
            SYNCED,
        ],
    },
    "hubspot": {
        "contacts": [
            ("id", "BIGINT"),
            ("email", "VARCHAR"),
            ("first_name", "VARCHAR"),
            ("last_name", "VARCHAR"),
            ("lifecycle_stage", "VARCHAR"),
            SYNCED,
        ],
        "deals": [
            ("id", "BIGINT"),
            ("contact_id", "BIGINT"),
            ("amount", "DOUBLE"),
            ("stage", "VARCHAR"),
            ("close_date", "DATE"),
            SYNCED,
        ],
    },
    "salesforce": {
        "account": [("id", "VARCHAR"), ("name", "VARCHAR"), ("industry", "VARCHAR"), SYNCED],
        "opportunity": [
            ("id", "VARCHAR"),
            ("account_id", "VARCHAR"),
            ("amount", "DOUBLE"),
            ("stage_name", "VARCHAR"),
            ("is_won", "BOOLEAN"),
            ("close_date", "DATE"),
            SYNCED,
        ],
    },
    "postgres": {
        "users": [("id", "BIGINT"), ("email", "VARCHAR"), ("signed_up_at", "TIMESTAMP"), SYNCED],
        "orders": [
            ("id", "BIGINT"),
            ("user_id", "BIGINT"),
            ("total", "DECIMAL(12,2)"),
            ("ordered_at", "TIMESTAMP"),
            SYNCED,
        ],
    },
    "zendesk": {
        "tickets": [
            ("id", "BIGINT"),
            ("requester_email", "VARCHAR"),
            ("status", "VARCHAR"),
            ("priority", "VARCHAR"),
            ("created_at", "TIMESTAMP"),
            SYNCED,
        ],
    },
}

# What a connection of a service nobody modelled lands: one generic table.
GENERIC_TABLES: dict[str, Columns] = {"records": [("id", "BIGINT"), ("payload", "VARCHAR"), SYNCED]}

# The schema (== the dbt source's name) each demo connection syncs into.
DEMO_SCHEMAS: dict[str, str] = {
    "stripe": "stripe",
    "hubspot": "hubspot",
    "salesforce": "salesforce",
    "postgres": "app_db",
    "zendesk": "zendesk",
}


# Tables whose ids are strings: prefix and zero-padded width of the number after it.
STRING_IDS: dict[tuple[str, str], tuple[str, int]] = {
    ("stripe", "customers"): ("cus_", 10),
    ("stripe", "charges"): ("ch_", 12),
    ("salesforce", "account"): ("001", 15),
    ("salesforce", "opportunity"): ("006", 15),
}


# child table -> (parent table, column holding the parent's id)
PARENTS: dict[tuple[str, str], str] = {
    ("stripe", "charges"): "customers",
    ("hubspot", "deals"): "contacts",
    ("salesforce", "opportunity"): "account",
    ("postgres", "orders"): "users",
}


def tables_for(service: str) -> dict[str, Columns]:
    """The tables a connection of ``service`` lands (the generic one for a service nobody modelled)."""
    return TABLES.get(service, GENERIC_TABLES)


def format_id(service: str, table: str, n: int) -> str | int:
    """Record ``n``'s id in ``service``'s ``table``: ``n`` itself, or the string id (``cus_0000000007``)."""
    if (service, table) not in STRING_IDS:
        return n
    prefix, width = STRING_IDS[(service, table)]
    return f"{prefix}{n:0{width}d}"
