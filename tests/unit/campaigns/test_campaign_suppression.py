"""Issue 13: an email campaign skips a suppressed address (permanent bounce or complaint), and only that
address: a new address on the profile is mailable again; other channels are not affected."""

from __future__ import annotations

from shared.campaigns.catalogue import Catalogue
from shared.campaigns.rules import Trigger, decide

from ._support import NOON, customer_id_in
from .conftest import CustomerFactory

TRIGGER = Trigger(trigger_id="segment:At risk:run-1", occurred_at=NOON)


def _decide(
    catalogue: Catalogue, make_customer: CustomerFactory, **customer: object
) -> tuple[str, str | None]:
    campaign = catalogue.get("win-back")
    assert campaign is not None
    customer.setdefault("customer_id", customer_id_in(campaign.id, campaign.holdout_percent, held_out=False))
    decision = decide(catalogue, campaign, TRIGGER, make_customer(**customer), [], NOON)
    return decision.outcome, decision.reason


def test_a_suppressed_address_is_skipped(catalogue: Catalogue, make_customer: CustomerFactory) -> None:
    outcome = _decide(
        catalogue,
        make_customer,
        email_suppressed_address="ada@example.com",
        email_suppressed_reason="hard_bounce",
    )
    assert outcome == ("skipped", "suppressed")


def test_a_new_address_is_mailable_again(catalogue: Catalogue, make_customer: CustomerFactory) -> None:
    outcome = _decide(
        catalogue,
        make_customer,
        email="ada.new@example.com",
        email_suppressed_address="ada@example.com",
        email_suppressed_reason="complaint",
    )
    assert outcome == ("sent", None)
