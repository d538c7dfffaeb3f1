"""One person's interactions and campaign decisions as records (the console's profile page and the GDPR
access export read them; the tables' own modules keep the writes)."""

from __future__ import annotations

from shared.dal import decisions, interactions
from shared.dal.records import DecisionRecord, InteractionRecord, record_of


def interactions_of(customer_id: str) -> list[InteractionRecord]:
    return [record_of(InteractionRecord, item) for item in interactions.for_customer(customer_id)]


def decisions_of(customer_id: str) -> list[DecisionRecord]:
    return [record_of(DecisionRecord, item) for item in decisions.for_customer(customer_id)]
