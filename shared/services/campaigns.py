"""Campaign service: the live catalogue, decisions for bus events and the daily sweep, reports."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.campaigns.catalogue import Campaign, Catalogue, load_catalogue
from shared.campaigns.customer import CustomerView
from shared.campaigns.matching import CampaignMatch, match_event, sweep_matches
from shared.campaigns.recommend import co_purchase_counts, product_popularity, recommend_products
from shared.campaigns.report import CampaignReport, Purchase, build_report, counts_as_conversion
from shared.campaigns.rules import Decision, DecisionRecord, Trigger, decide, resume_trigger
from shared.dal import campaigns as store
from shared.dal import customers, decisions, interactions, scores
from shared.dal.bus import publish
from shared.dal.customers import CONSENT_ATTRIBUTES
from shared.dal.models import DecisionModel
from shared.events import BusEvent, CampaignTriggered
from shared.services.errors import NotFoundError
from shared.services.tracking import unsubscribe_url


class CampaignNotFoundError(NotFoundError):
    kind = "campaign"


def sync_catalogue(now: datetime | None = None) -> Catalogue:
    """Load the packaged catalogue into the Campaigns table (keeping each campaign's enabled switch)."""
    now = now or datetime.now(UTC)
    catalogue = load_catalogue()
    existing = {item.campaign_id: item for item in store.all_campaigns()}
    for campaign in catalogue.campaigns:
        current = existing.get(campaign.id)
        if current is None or current.catalogue_version != catalogue.version:
            enabled = current.enabled if current is not None else campaign.enabled
            store.save_campaign(
                campaign.id, catalogue.version, enabled, campaign.model_dump(mode="json"), now
            )
    return live_catalogue()


def live_catalogue() -> Catalogue:
    """The packaged catalogue with the enabled switches of the Campaigns table."""
    catalogue = load_catalogue()
    switches = {item.campaign_id: item.enabled for item in store.all_campaigns()}
    live = [c.model_copy(update={"enabled": switches.get(c.id, c.enabled)}) for c in catalogue.campaigns]
    return catalogue.model_copy(update={"campaigns": live})


def list_campaigns() -> list[dict[str, Any]]:
    catalogue = live_catalogue()
    return [
        {**c.model_dump(mode="json"), "catalogue_version": catalogue.version} for c in catalogue.campaigns
    ]


def set_enabled(campaign_id: str, enabled: bool) -> dict[str, Any]:
    if load_catalogue().get(campaign_id) is None:
        raise CampaignNotFoundError(campaign_id)
    if not store.set_enabled(campaign_id, enabled, datetime.now(UTC)):
        sync_catalogue()
        store.set_enabled(campaign_id, enabled, datetime.now(UTC))
    return next(c for c in list_campaigns() if c["id"] == campaign_id)


def customer_view(customer_id: str) -> CustomerView | None:
    """The customer as campaigns see it; None if erased (or being erased) or merged into another."""
    customer = customers.live(customer_id)
    if customer is None or customer.merged_into:
        return None
    data: dict[str, Any] = {
        name: value
        for name, value in customer.attribute_values.items()
        if not name.startswith(("consent_", "cnt_", "eng_"))
        and name not in {"aliases", "merged_ids", "traits"}
    }
    data["consent"] = {
        channel: getattr(customer, f"consent_{channel}").as_dict()
        for channel in CONSENT_ATTRIBUTES
        if getattr(customer, f"consent_{channel}") is not None
    }
    data["traits"] = customer.traits.as_dict() if customer.traits else {}
    score = scores.get(customer_id)
    if score is not None:
        data.update({k: v for k, v in score.attribute_values.items() if k not in {"customer_id", "run_id"}})
    return CustomerView.model_validate(data)


def _recent(customer_id: str) -> list[DecisionRecord]:
    return [
        DecisionRecord.model_validate(item.attribute_values) for item in decisions.for_customer(customer_id)
    ]


_co_purchase_cache: dict[str, Any] = {}


def _recommendations(customer_id: str, top_n: int = 3) -> list[str]:
    """Products bought by customers who bought what this customer bought (sampled, cached per container)."""
    if "co" not in _co_purchase_cache:
        histories: dict[str, set[str]] = defaultdict(set)
        for item in interactions.recent_purchases(limit=5000):
            histories[item.customer_id].update(_product_ids(item.properties))
        _co_purchase_cache["co"] = co_purchase_counts(histories)
        _co_purchase_cache["popular"] = product_popularity(histories)
    mine: set[str] = set()
    for item in interactions.for_customer(customer_id):
        if item.kind == "purchase":
            mine.update(_product_ids(item.properties))
    return recommend_products(
        mine, _co_purchase_cache["co"], top_n=top_n, popularity=_co_purchase_cache["popular"]
    )


def _product_ids(properties: Any) -> list[str]:
    values = properties.as_dict() if hasattr(properties, "as_dict") else (properties or {})
    return [
        str(p.get("product_id") or p.get("sku"))
        for p in values.get("products") or []
        if isinstance(p, dict) and (p.get("product_id") or p.get("sku"))
    ]


def _triggered_event(campaign: Campaign, decision: Decision, customer: CustomerView) -> CampaignTriggered:
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


def _decide_and_record(
    catalogue: Catalogue, campaign: Campaign, customer: CustomerView, trigger: Trigger, now: datetime
) -> tuple[Decision, bool]:
    decision = decide(catalogue, campaign, trigger, customer, _recent(customer.customer_id), now)
    item = DecisionModel(
        customer.customer_id,
        decision.decision_key,
        campaign_id=campaign.id,
        trigger_id=decision.trigger_id,
        decided_at=decision.decided_at.isoformat(),
        outcome=stored_outcome(decision),
        reason=decision.reason,
        channel=decision.channel,
        send_after=decision.send_after.isoformat() if decision.send_after else None,
        catalogue_version=catalogue.version,
        trigger_occurred_at=trigger.occurred_at.isoformat(),
    )
    if not store.record_decision(item):
        return decision, False
    if customer.customer_id not in customers.live_ids([customer.customer_id]):
        # Erased while this was being decided: the erasure may already have deleted the decisions, so
        # this one would outlive the person (and its email must not go out).
        decisions.discard(item)
        return decision, False
    return decision, True


# A redelivered trigger republishes its decision's message within this window (shorter than the email
# channel's idempotency expiry, so a republished message is always recognised there).
REPUBLISH_WINDOW = timedelta(days=6)


def _recently_sent(customer_id: str, decision_key: str, now: datetime) -> bool:
    existing = store.get_decision(customer_id, decision_key)
    return (
        existing is not None
        and existing.outcome in ("sent", "queued")
        and now - datetime.fromisoformat(existing.decided_at) < REPUBLISH_WINDOW
    )


def _apply(matches: list[CampaignMatch], catalogue: Catalogue, now: datetime) -> list[Decision]:
    made: list[Decision] = []
    outgoing: list[BusEvent] = []
    for match in matches:
        customer = customer_view(match.customer_id)
        if customer is None:
            continue  # erased or merged: nobody to contact
        decision, recorded = _decide_and_record(catalogue, match.campaign, customer, match.trigger, now)
        if not recorded:
            # Already decided (a replayed or duplicated event), or the person was just erased. A recent
            # "sent" decision is published again: its first publish may have failed after the decision
            # was written (the channel sends each decision's message once).
            if _recently_sent(customer.customer_id, decision.decision_key, now):
                outgoing.append(_triggered_event(match.campaign, decision, customer))
            continue
        made.append(decision)
        if decision.outcome == "sent":
            outgoing.append(_triggered_event(match.campaign, decision, customer))
    if outgoing:
        publish(outgoing)
    return made


def handle_event(
    event: BusEvent, now: datetime | None = None, catalogue: Catalogue | None = None
) -> list[Decision]:
    """``catalogue``: the live catalogue when the caller already read it (once per batch of events)."""
    now = now or datetime.now(UTC)
    catalogue = catalogue or live_catalogue()
    return _apply(match_event(catalogue, event, now), catalogue, now)


def sweep(now: datetime | None = None, only: Collection[str] | None = None) -> dict[str, int]:
    """Daily: inactivity and date triggers for every customer (or ``only`` these), and deferred decisions
    now due."""
    now = now or datetime.now(UTC)
    catalogue = live_catalogue()
    counts: dict[str, int] = defaultdict(int)
    for customer_item in customers.scan_segment(0, 1):
        if customer_item.merged_into or (only is not None and customer_item.customer_id not in only):
            continue
        view = customer_view(customer_item.customer_id)
        if view is None:
            continue
        for decision in _apply(sweep_matches(catalogue, view, now), catalogue, now):
            counts[decision.outcome] += 1
    # Deferred decisions now due: their messages are published before the decisions are resolved, so a
    # failed publish leaves them due for the next sweep (a message published twice is sent once).
    outgoing: list[BusEvent] = []
    resolutions: list[tuple[DecisionModel, Decision]] = []
    for item in store.due_deferred(now):
        if only is not None and item.customer_id not in only:
            continue
        campaign = catalogue.get(item.campaign_id)
        customer = customer_view(item.customer_id)
        if campaign is None or customer is None or item.send_after is None:
            continue
        trigger = resume_trigger(campaign, item.trigger_id, datetime.fromisoformat(item.send_after))
        recent = [r for r in _recent(item.customer_id) if r.trigger_id != item.trigger_id]
        decision = decide(catalogue, campaign, trigger, customer, recent, now)
        if decision.outcome == "deferred":
            continue
        resolutions.append((item, decision))
        if decision.outcome == "sent":
            outgoing.append(_triggered_event(campaign, decision, customer))
    if outgoing:
        publish(outgoing)
    for item, decision in resolutions:
        if store.resolve_deferred(item, stored_outcome(decision), decision.reason, now.isoformat()):
            counts[f"resumed_{decision.outcome}"] += 1
    return dict(counts)


def report(campaign_id: str, as_of: datetime | None = None) -> CampaignReport:
    campaign = load_catalogue().get(campaign_id)
    if campaign is None:
        raise CampaignNotFoundError(campaign_id)
    records = [
        DecisionRecord.model_validate(item.attribute_values) for item in store.for_campaign(campaign_id)
    ]
    purchases: list[Purchase] = []
    for customer_id in {r.customer_id for r in records if r.outcome in ("sent", "held_out")}:
        purchases += [
            Purchase(customer_id=customer_id, occurred_at=item.occurred_at, amount=float(item.amount or 0))
            for item in interactions.for_customer(customer_id)
            if counts_as_conversion(
                campaign.conversion,
                campaign_id,
                item.kind,
                item.properties.as_dict() if item.properties is not None else None,
            )
        ]
    return build_report(campaign_id, records, purchases, campaign.attribution_window_days, as_of=as_of)
