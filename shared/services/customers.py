"""Customer service: the profile view, the GDPR access export, and erasure."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from shared.dal import customers, decisions, do_not_contact, identities, interactions, person, scores
from shared.dal.customers import CONSENT_ATTRIBUTES
from shared.services.errors import NotFoundError
from shared.services.views import ConsentChange, CustomerActivity, DecisionView, InteractionView, ScoreEntry


class CustomerNotFoundError(NotFoundError):
    kind = "customer"


def _plain(record: BaseModel | None, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """The attributes stored on a record (those never set left out), sets as sorted lists."""
    if record is None:
        return {}
    values: dict[str, Any] = {}
    for name, value in record.model_dump(exclude_unset=True).items():
        if name in drop:
            continue
        values[name] = sorted(value) if isinstance(value, set) else value
    return values


def profile(customer_id: str) -> dict[str, Any]:
    customer = customers.record(customer_id)
    if customer is None or customer.merged_into:
        raise CustomerNotFoundError(customer_id)
    data = _plain(
        customer, drop=("last_stream_seq", "purchase_days", "first_purchase_day", "first_day_spent")
    )
    consent = {channel: data.pop(f"consent_{channel}", None) for channel in CONSENT_ATTRIBUTES}
    engagement = {name.removeprefix("cnt_"): data.pop(name) for name in list(data) if name.startswith("cnt_")}
    for name in [n for n in data if n.startswith("eng_")]:
        data.pop(name)
    purchase_days = sorted(customer.purchase_days or ())
    purchase_count = int(customer.purchase_count or 0)
    total = float(customer.total_spent or 0)
    return {
        "customer_id": customer_id,
        "profile": {k: v for k, v in data.items() if k not in {"customer_id", "interaction_count"}},
        "consent": {k: v for k, v in consent.items() if v},
        "aggregates": {
            "first_seen_at": customer.first_seen_at,
            "last_seen_at": customer.last_seen_at,
            "first_purchase_date": purchase_days[0] if purchase_days else None,
            "last_purchase_date": purchase_days[-1] if purchase_days else None,
            "purchase_count": purchase_count,
            "purchase_days": len(purchase_days),
            "total_spent": round(total, 2),
            "average_order_value": round(total / purchase_count, 2) if purchase_count else None,
            "first_day_spent": None if customer.first_day_spent is None else float(customer.first_day_spent),
            "interaction_count": int(customer.interaction_count or 0),
            "engagement": {k: int(v) for k, v in engagement.items()},
        },
        "scores": _plain(scores.current(customer_id), drop=("customer_id", "segment_key")) or None,
    }


def find(alias: str) -> dict[str, Any]:
    """The profile of the customer an alias (``email:``, ``user:``, ``anon:``) leads to, after merges."""
    customer_id = identities.resolve([alias]).get(alias)
    if customer_id is None:
        raise CustomerNotFoundError(alias)
    return profile(customer_id)


def access_export(customer_id: str) -> dict[str, Any]:
    """Everything held on one person (GDPR right of access)."""
    view = profile(customer_id)
    customer = customers.record(customer_id)
    if customer is None:
        raise CustomerNotFoundError(customer_id)
    merged = sorted(customer.merged_ids or ())
    view["raw_profile"] = _plain(customer)
    view["aliases"] = sorted(customer.aliases or ())
    view["interactions"] = [
        _plain(item) for cid in (customer_id, *merged) for item in person.interactions_of(cid)
    ]
    view["campaign_decisions"] = [_plain(item) for item in person.decisions_of(customer_id)]
    return view


def erase(customer_id: str) -> dict[str, int]:
    """Delete a person everywhere (GDPR erasure): interactions, scores, decisions, aliases, profile,
    and the anonymous profiles merged into it.

    The profiles are marked first and each id gets a tombstone (it never names anyone again), so no late
    writer (a stream record delivered after this, a scoring run
    or a campaign decision in progress) adds to the person from then on (see :mod:`shared.dal.customers`),
    and the customer's own profile is deleted last: it lists what else to delete, so an erasure that
    failed half-way is completed by its retry. Erasing someone already erased raises
    :class:`CustomerNotFoundError`.
    """
    customer = customers.get(customer_id)
    if customer is None:
        raise CustomerNotFoundError(customer_id)
    merged = sorted(customer.merged_ids or ())
    now = datetime.now(UTC)
    # Before anything is marked or deleted: a suppressed address stays suppressed, as a keyed hash only.
    do_not_contact.keep_suppressed((customers.get(cid) for cid in (customer_id, *merged)), now)
    for cid in (customer_id, *merged):
        customers.mark_erasing(cid, now)
    counts = {"interactions": 0, "decisions": 0, "aliases": 0, "profiles": 0}
    for cid in (*merged, customer_id):
        # The tombstone goes in before the profile goes: the id is never given to anyone again.
        identities.add_tombstone(cid, now)
        record = customers.get(cid)
        # After the mark no alias can be linked to the profile (see shared.dal.identities); the index
        # also finds one linked by a request that was in flight when the profile was read.
        aliases = (set(record.aliases or ()) if record else set()) | identities.for_customer(cid)
        counts["interactions"] += interactions.delete_all(cid)
        counts["decisions"] += decisions.delete_all(cid)
        counts["aliases"] += identities.delete(aliases, cid)
        scores.delete(cid)
        if record is not None:
            customers.delete(cid)
            counts["profiles"] += 1
    # An interaction stored by a request that resolved the person just before the mark.
    for cid in (*merged, customer_id):
        counts["interactions"] += interactions.delete_all(cid)
    return counts


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def activity(customer_id: str, limit: int = 200) -> CustomerActivity:
    """The console's profile page: consent timeline (with sources and wording versions), interactions,
    scores and campaign decisions, newest first; suppression flags if the channel set any."""
    customer = customers.record(customer_id)
    if customer is None or customer.merged_into:
        raise CustomerNotFoundError(customer_id)
    merged = sorted(customer.merged_ids or ())
    items = sorted(
        (item for cid in (customer_id, *merged) for item in person.interactions_of(cid)),
        key=lambda item: item.occurred_at,
        reverse=True,
    )
    timeline: list[ConsentChange] = []
    for item in items:
        props = item.properties or {}
        if item.kind.startswith("consent") and props.get("channel") and props.get("status"):
            timeline.append(
                ConsentChange(
                    channel=str(props["channel"]),
                    status=str(props["status"]),
                    occurred_at=item.occurred_at,
                    source=item.source,
                    wording_version=props.get("wording_version"),
                )
            )
    # The current record of each channel (e.g. a form's pending request, which is no interaction of its
    # own) when no recorded change is it.
    known = {(c.channel, c.status, c.occurred_at) for c in timeline}
    for channel in CONSENT_ATTRIBUTES:
        current: dict[str, Any] = getattr(customer, f"consent_{channel}", None) or {}
        key = (channel, str(current.get("status")), str(current.get("at")))
        if current.get("status") and current.get("at") and key not in known:
            timeline.append(
                ConsentChange(
                    channel=channel,
                    status=key[1],
                    occurred_at=key[2],
                    source=current.get("source"),
                    wording_version=current.get("wording_version"),
                )
            )
    timeline.sort(key=lambda c: c.occurred_at, reverse=True)
    decided = sorted(person.decisions_of(customer_id), key=lambda d: d.decided_at, reverse=True)
    raw = _plain(customer)
    suppression = {k: v for k, v in raw.items() if "suppress" in k or k.startswith("do_not_contact")}
    return CustomerActivity(
        customer_id=customer_id,
        consent_timeline=timeline,
        interactions=[
            InteractionView(
                occurred_at=item.occurred_at,
                type=item.kind,
                event=item.name,
                source=item.source,
                amount=_number(item.amount),
            )
            for item in items[:limit]
        ],
        interactions_total=len(items),
        decisions=[
            DecisionView(
                campaign_id=d.campaign_id,
                decided_at=d.decided_at,
                outcome=d.outcome,
                reason=d.reason,
                channel=d.channel,
            )
            for d in decided
        ],
        score_history=[
            ScoreEntry.model_validate(entry.model_dump()) for entry in scores.history(customer_id)
        ],
        suppression=suppression or None,
    )
