"""The sample rows a sync lands: believable values, deterministic for a seed.

Ids continue from what the table already holds (the writer says where to start), children reference
existing parents (a charge's customer exists), and person ``n`` of every service shares one email address,
so the marts can join the sources by email. ``rows_for`` gives one table's rows, without ``_fivetran_synced``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from local.warehouse.tables import format_id

_FIRST = ["ada", "grace", "alan", "edsger", "barbara", "donald", "frances", "ken", "margaret", "linus"]
_LAST = ["lovelace", "hopper", "turing", "dijkstra", "liskov", "knuth", "allen", "thompson", "hamilton"]
_COMPANY = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell", "Cyberdyne"]
_INDUSTRIES = ["Technology", "Finance", "Healthcare", "Retail", "Manufacturing", "Education"]
_LIFECYCLE = ["subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer"]
_DEAL_STAGES = ["appointmentscheduled", "qualifiedtobuy", "contractsent", "closedwon", "closedlost"]
_SF_STAGES = [
    "Prospecting",
    "Qualification",
    "Proposal/Price Quote",
    "Negotiation",
    "Closed Won",
    "Closed Lost",
]
_TICKET_STATUS = ["new", "open", "pending", "hold", "solved", "closed"]
_PRIORITY = ["low", "normal", "normal", "high", "urgent", None]


@dataclass(frozen=True)
class Batch:
    """What the row factory of one table needs: ids to give, the parents to point at, the clock."""

    rng: random.Random
    first_id: int
    count: int
    parent_count: int
    synced_at: datetime

    def ids(self) -> range:
        return range(self.first_id, self.first_id + self.count)

    def past(self, max_days: int = 120) -> datetime:
        """A moment before the sync, at most ``max_days`` earlier, whole seconds."""
        return self.synced_at - timedelta(seconds=self.rng.randint(60, max_days * 86_400))

    def close_date(self) -> date:
        return (self.synced_at - timedelta(days=self.rng.randint(-30, 120))).date()

    def parent(self) -> int:
        return self.rng.randint(1, self.parent_count)


def person_email(n: int) -> str:
    """The email address of person ``n``; every service's record ``n`` belongs to the same person."""
    return f"{_first(n)}.{_last(n)}.{n}@example.com"


def _first(n: int) -> str:
    return _FIRST[n % len(_FIRST)]


def _last(n: int) -> str:
    return _LAST[(n // len(_FIRST)) % len(_LAST)]


def _stripe_customers(b: Batch) -> list[tuple]:
    return [
        (format_id("stripe", "customers", n), person_email(n), f"{_first(n)} {_last(n)}".title(), b.past())
        for n in b.ids()
    ]


def _stripe_charges(b: Batch) -> list[tuple]:
    statuses = ["succeeded"] * 8 + ["failed", "pending"]
    return [
        (
            format_id("stripe", "charges", n),
            format_id("stripe", "customers", b.parent()),
            b.rng.randint(5, 500) * 100 + b.rng.choice([0, 50, 99]),
            "usd",
            b.rng.choice(statuses),
            b.past(60),
        )
        for n in b.ids()
    ]


def _hubspot_contacts(b: Batch) -> list[tuple]:
    # HubSpot keeps whatever case people typed: every third address is capitalised.
    return [
        (n, _typed_email(n), _first(n).title(), _last(n).title(), b.rng.choice(_LIFECYCLE)) for n in b.ids()
    ]


def _typed_email(n: int) -> str:
    return person_email(n).title() if n % 3 == 0 else person_email(n)


def _hubspot_deals(b: Batch) -> list[tuple]:
    return [
        (n, b.parent(), round(b.rng.uniform(500, 50_000), 2), b.rng.choice(_DEAL_STAGES), b.close_date())
        for n in b.ids()
    ]


def _salesforce_accounts(b: Batch) -> list[tuple]:
    return [
        (
            format_id("salesforce", "account", n),
            f"{_COMPANY[n % len(_COMPANY)]} {n}",
            b.rng.choice(_INDUSTRIES),
        )
        for n in b.ids()
    ]


def _salesforce_opportunities(b: Batch) -> list[tuple]:
    return [_opportunity(b, n, b.rng.choice(_SF_STAGES)) for n in b.ids()]


def _opportunity(b: Batch, n: int, stage: str) -> tuple:
    account = format_id("salesforce", "account", b.parent())
    amount = round(b.rng.uniform(1_000, 250_000), 2)
    return (
        format_id("salesforce", "opportunity", n),
        account,
        amount,
        stage,
        stage == "Closed Won",
        b.close_date(),
    )


def _postgres_users(b: Batch) -> list[tuple]:
    return [(n, person_email(n), b.past(365)) for n in b.ids()]


def _postgres_orders(b: Batch) -> list[tuple]:
    return [(n, b.parent(), round(b.rng.uniform(5, 900), 2), b.past(60)) for n in b.ids()]


def _zendesk_tickets(b: Batch) -> list[tuple]:
    # Requesters are people the other services know (person 1 .. the newest ticket's id).
    return [
        (
            n,
            person_email(b.rng.randint(1, n)),
            b.rng.choice(_TICKET_STATUS),
            b.rng.choice(_PRIORITY),
            b.past(90),
        )
        for n in b.ids()
    ]


def _generic_records(b: Batch) -> list[tuple]:
    return [(n, json.dumps({"value": b.rng.randint(0, 10_000)})) for n in b.ids()]


_FACTORIES: dict[tuple[str, str], Callable[[Batch], list[tuple]]] = {
    ("stripe", "customers"): _stripe_customers,
    ("stripe", "charges"): _stripe_charges,
    ("hubspot", "contacts"): _hubspot_contacts,
    ("hubspot", "deals"): _hubspot_deals,
    ("salesforce", "account"): _salesforce_accounts,
    ("salesforce", "opportunity"): _salesforce_opportunities,
    ("postgres", "users"): _postgres_users,
    ("postgres", "orders"): _postgres_orders,
    ("zendesk", "tickets"): _zendesk_tickets,
}


def rows_for(service: str, table: str, batch: Batch) -> list[tuple]:
    """The rows of ``service``'s ``table`` for ``batch`` (generic records for a table nobody modelled)."""
    return _FACTORIES.get((service, table), _generic_records)(batch)
