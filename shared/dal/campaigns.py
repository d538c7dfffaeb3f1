"""Campaigns and decisions tables (decisions in and out as domain models, never PynamoDB items)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, ConfigDict
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.update import Action

from shared.campaigns.customer import CustomerView
from shared.campaigns.report import Purchase, counts_as_conversion
from shared.campaigns.rules import Decision, DecisionRecord, StoredDecision
from shared.dal import customers, interactions, scores
from shared.dal.customers import CONSENT_ATTRIBUTES
from shared.dal.errors import is_conditional_failure
from shared.dal.models import CampaignModel, CustomerModel, DecisionModel, ScoreModel

# Deferred decisions are spread over this many partitions of the sparse ``due`` index (a busy day's
# deferrals would otherwise all write to one index partition); the due sweep queries each one.
DUE_SHARDS: Final[int] = 8


def all_campaigns() -> list[CampaignModel]:
    return list(CampaignModel.scan())


def save_campaign(
    campaign_id: str, version: str, enabled: bool, definition: dict[str, Any], now: datetime
) -> None:
    CampaignModel(
        campaign_id,
        catalogue_version=version,
        enabled=enabled,
        definition=definition,
        updated_at=now.isoformat(),
    ).save()


def set_enabled(campaign_id: str, enabled: bool, now: datetime) -> bool:
    """False if there is no such campaign."""
    try:
        CampaignModel(campaign_id).update(
            actions=[CampaignModel.enabled.set(enabled), CampaignModel.updated_at.set(now.isoformat())],
            condition=CampaignModel.campaign_id.exists(),
        )
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def due_shard(customer_id: str) -> str:
    """The ``due`` index partition of a customer's deferred decisions (stable, evenly spread)."""
    digest = hashlib.sha256(customer_id.encode()).hexdigest()
    return str(int(digest[:8], 16) % DUE_SHARDS)


def _stored(item: DecisionModel) -> StoredDecision:
    return StoredDecision.model_validate(item.attribute_values)


def record_decision(
    decision: Decision, *, outcome: str, catalogue_version: str, trigger_occurred_at: datetime
) -> bool:
    """Write a decision once: False if this (campaign, customer, trigger) was already decided.

    ``outcome`` is what is stored (an email to send is stored ``queued``). A deferred decision joins the
    sparse ``due`` index until it is resolved.
    """
    deferred = outcome == "deferred"
    item = DecisionModel(
        decision.customer_id,
        decision.decision_key,
        campaign_id=decision.campaign_id,
        trigger_id=decision.trigger_id,
        decided_at=decision.decided_at.isoformat(),
        outcome=outcome,
        reason=decision.reason,
        channel=decision.channel,
        send_after=decision.send_after.isoformat() if decision.send_after else None,
        catalogue_version=catalogue_version,
        trigger_occurred_at=trigger_occurred_at.isoformat(),
        due_shard=due_shard(decision.customer_id) if deferred and decision.send_after else None,
    )
    try:
        item.save(condition=DecisionModel.decision_key.does_not_exist())
    except PutError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def get_decision(customer_id: str, decision_key: str) -> StoredDecision | None:
    try:
        return _stored(DecisionModel.get(customer_id, decision_key, consistent_read=True))
    except DoesNotExist:
        return None


def resolve_deferred(
    customer_id: str, decision_key: str, outcome: str, reason: str | None, decided_at: datetime
) -> bool:
    """Turn a deferred decision into its final outcome, once (False if another run did it first, or the
    decision was deleted by an erasure: nothing is recreated). It leaves the ``due`` index."""
    actions: list[Action] = [
        DecisionModel.outcome.set(outcome),
        DecisionModel.decided_at.set(decided_at.isoformat()),
        DecisionModel.due_shard.remove(),
    ]
    if reason:
        actions.append(DecisionModel.reason.set(reason))
    try:
        DecisionModel(customer_id, decision_key).update(
            actions=actions, condition=DecisionModel.outcome == "deferred"
        )
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def defer_again(customer_id: str, decision_key: str, send_after: datetime, seen: datetime) -> bool:
    """A due decision that must still wait (a pending consent, quiet hours): move its send time, once
    (conditional on it still being deferred with the send time ``seen``, so two sweeps never both act)."""
    try:
        DecisionModel(customer_id, decision_key).update(
            actions=[DecisionModel.send_after.set(send_after.isoformat())],
            condition=(DecisionModel.outcome == "deferred") & (DecisionModel.send_after == seen.isoformat()),
        )
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def for_campaign(campaign_id: str) -> Iterator[StoredDecision]:
    for item in DecisionModel.by_campaign.query(campaign_id):
        yield _stored(item)


def due_deferred(now: datetime, shards: range | None = None) -> Iterator[StoredDecision]:
    """Deferred decisions whose send time is at or before ``now``: a query per shard of the sparse
    ``due`` index, so the cost is the number of due decisions, not the size of the table."""
    for shard in shards if shards is not None else range(DUE_SHARDS):
        for item in DecisionModel.due.query(str(shard), DecisionModel.send_after <= now.isoformat()):
            yield _stored(item)


# --- customers as campaigns see them ----------------------------------------------------------------


def view_of(customer: CustomerModel, score: ScoreModel | None = None) -> CustomerView:
    """The campaigns' view of a profile (and its scores): consent states, traits, aggregates."""
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
    if score is not None:
        data.update({k: v for k, v in score.attribute_values.items() if k not in {"customer_id", "run_id"}})
    return CustomerView.model_validate(data)


def customer_view(customer_id: str) -> CustomerView | None:
    """The customer as campaigns see it (a consistent read, with scores); None if erased, being erased
    or merged into another profile."""
    customer = customers.live_item(customer_id)
    if customer is None or customer.merged_into:
        return None
    return view_of(customer, scores.get(customer_id))


class SweepPage(BaseModel):
    """One page of a segment of the sweep's parallel scan: live, unmerged profiles (without scores)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    customers: list[CustomerView]
    next_key: dict[str, Any] | None
    scanned: int
    capacity_units: float = 0.0


class SweepProgress(BaseModel):
    """What one sweep worker did over its segment; ``next_key`` set: the segment goes on from there."""

    model_config = ConfigDict(frozen=True)

    segment: int
    total_segments: int
    scanned: int
    matched: int
    counts: dict[str, int]
    next_key: dict[str, Any] | None
    capacity_units: float = 0.0


# None: DynamoDB's own page (1 MB, about 2,500 profiles of 400 bytes), the fewest requests.
SWEEP_PAGE_SIZE: Final[int | None] = None


def sweep_page(
    segment: int,
    total_segments: int,
    start_key: dict[str, Any] | None,
    limit: int | None = SWEEP_PAGE_SIZE,
) -> SweepPage:
    """One scan page of the Customers table's ``segment`` (of ``total_segments``), from ``start_key`` (a
    ``LastEvaluatedKey``, JSON-safe so it can travel in an event); ``limit`` items at most."""
    response = CustomerModel._get_connection().scan(
        limit=limit,
        segment=segment,
        total_segments=total_segments,
        exclusive_start_key=start_key,  # type: ignore[arg-type]  # PynamoDB annotates it as a string
        return_consumed_capacity="TOTAL",
    )
    items = response.get("Items", [])
    views = [
        view_of(CustomerModel.from_raw_data(item))
        for item in items
        if "erasing_at" not in item and "merged_into" not in item
    ]
    consumed = response.get("ConsumedCapacity") or {}
    return SweepPage(
        customers=views,
        next_key=response.get("LastEvaluatedKey"),
        scanned=len(items),
        capacity_units=float(consumed.get("CapacityUnits") or 0.0),
    )


# --- campaign switches, decisions and purchase histories as models ---------------------------------


class CampaignSwitch(BaseModel):
    """A campaign's row in the Campaigns table: its enabled switch and the catalogue version it has."""

    model_config = ConfigDict(frozen=True)

    campaign_id: str
    enabled: bool
    catalogue_version: str | None = None


def campaign_switches() -> dict[str, CampaignSwitch]:
    return {
        item.campaign_id: CampaignSwitch(
            campaign_id=item.campaign_id,
            enabled=bool(item.enabled),
            catalogue_version=item.catalogue_version,
        )
        for item in all_campaigns()
    }


def recent_decisions(customer_id: str) -> list[DecisionRecord]:
    """Every decision of the customer (cooldowns and the frequency cap read them)."""
    return [
        DecisionRecord.model_validate(item.attribute_values)
        for item in DecisionModel.query(customer_id)
        if item.journey_status is None  # a journey's state item is no message (its steps' decisions are)
    ]


def _product_ids(properties: Any) -> list[str]:
    values = properties.as_dict() if hasattr(properties, "as_dict") else (properties or {})
    return [
        str(p.get("product_id") or p.get("sku"))
        for p in values.get("products") or []
        if isinstance(p, dict) and (p.get("product_id") or p.get("sku"))
    ]


def conversions_of(customer_id: str, campaign_id: str, conversion: str) -> list[Purchase]:
    """The customer's interactions that convert a decision of the campaign (purchases, or clicks in its
    emails when the campaign counts ``email_click``), as the report reads them."""
    return conversions_by_kind(customer_id, campaign_id, {conversion})[conversion]


def conversions_by_kind(
    customer_id: str, campaign_id: str, conversions: Iterable[str]
) -> dict[str, list[Purchase]]:
    """:func:`conversions_of` for several conversion kinds, from one read of the customer's interactions."""
    found: dict[str, list[Purchase]] = {kind: [] for kind in conversions}
    for item in interactions.for_customer(customer_id):
        properties = item.properties.as_dict() if item.properties is not None else None
        for kind, matched in found.items():
            if counts_as_conversion(kind, campaign_id, item.kind, properties):
                matched.append(
                    Purchase(
                        customer_id=customer_id, occurred_at=item.occurred_at, amount=float(item.amount or 0)
                    )
                )
    return found


def products_bought(customer_id: str) -> set[str]:
    bought: set[str] = set()
    for item in interactions.for_customer(customer_id):
        if item.kind == "purchase":
            bought.update(_product_ids(item.properties))
    return bought


def sample_product_histories(limit: int = 5000) -> dict[str, set[str]]:
    """Products per customer over a sample of purchases (for co-purchase recommendations)."""
    histories: dict[str, set[str]] = {}
    for item in interactions.recent_purchases(limit=limit):
        histories.setdefault(item.customer_id, set()).update(_product_ids(item.properties))
    return histories
