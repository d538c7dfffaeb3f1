"""What a decision to send becomes: the ``CampaignTriggered`` message (personalised, with its
idempotency key) and how the decision is stored. Shared by single campaigns and journey send steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from shared.campaigns.catalogue import Campaign
from shared.campaigns.customer import CustomerView
from shared.campaigns.recommend import co_purchase_counts, product_popularity, recommend_products
from shared.campaigns.rules import Decision
from shared.dal import campaigns as store
from shared.dal import customers
from shared.events import CampaignTriggered
from shared.services.tracking import unsubscribe_url
from shared.settings import get_settings

_co_purchase_cache: dict[str, Any] = {}


def _recommendations(customer_id: str, top_n: int = 3) -> list[str]:
    """Products bought by customers who bought what this customer bought (sampled, cached per container)."""
    if "co" not in _co_purchase_cache:
        histories = store.sample_product_histories(limit=5000)
        _co_purchase_cache["co"] = co_purchase_counts(histories)
        _co_purchase_cache["popular"] = product_popularity(histories)
    mine = store.products_bought(customer_id)
    return recommend_products(
        mine, _co_purchase_cache["co"], top_n=top_n, popularity=_co_purchase_cache["popular"]
    )


def triggered_event(campaign: Campaign, decision: Decision, customer: CustomerView) -> CampaignTriggered:
    return CampaignTriggered(
        campaign_id=campaign.id,
        customer_id=customer.customer_id,
        trigger_id=decision.trigger_id,
        channel=campaign.channel,
        template=campaign.template,
        email=customer.email,
        phone=customer.phone,
        first_name=customer.first_name,
        segment=customer.segment,
        recommended_products=_recommendations(customer.customer_id) if campaign.recommend_products else [],
        unsubscribe_url=unsubscribe_url(customer.customer_id, "email")
        if campaign.channel == "email"
        else None,
        message_key=f"campaign:{customer.customer_id}:{decision.decision_key}",
    )


def stored_outcome(decision: Decision) -> str:
    """What a decision is stored as: an email to send is ``queued`` until the email channel reports that
    SES accepted it (``sent``) or that it could not be sent (``failed``, with the reason)."""
    return "queued" if decision.outcome == "sent" and decision.channel == "email" else decision.outcome


def confirmation_window() -> timedelta:
    """How long a pending (double opt-in) consent may still be confirmed: the confirmation link's life."""
    return timedelta(hours=get_settings().consent_token_ttl_hours)


@dataclass
class EventReads:
    """The profiles that handling one bus event has read: each (with its scores) is read once, whether a
    single campaign or a journey asks for it. Campaigns and journeys write decisions and journey states,
    never the profile, so a view read earlier in the same event is still the one a re-read would return
    (a concurrent change races either way; the conditional writes and the liveness check after each
    write are what guard against one)."""

    views: dict[str, CustomerView | None] = field(default_factory=dict)

    def view(self, customer_id: str) -> CustomerView | None:
        """The customer as campaigns see it; None if erased, being erased or merged into another."""
        if customer_id not in self.views:
            self.views[customer_id] = store.customer_view(customer_id)
        return self.views[customer_id]

    def contactable(self, customer_id: str) -> bool:
        """Whether the profile is live and not merged away, without its scores (one read, for a decision
        that needs nothing else of the person)."""
        if customer_id in self.views:
            return self.views[customer_id] is not None
        profile = customers.live(customer_id)
        return profile is not None and not profile.merged_into
