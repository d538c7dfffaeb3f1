"""Customers table: profiles, consent and aggregates."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist, UpdateError
from pynamodb.expressions.update import Action

from shared.dal.errors import is_conditional_failure
from shared.dal.models import CustomerModel
from shared.tracking.aggregates import AggregateDelta

CONSENT_ATTRIBUTES: dict[str, Any] = {
    "email": CustomerModel.consent_email,
    "sms": CustomerModel.consent_sms,
    "phone": CustomerModel.consent_phone,
    "post": CustomerModel.consent_post,
}
_PROFILE_ATTRIBUTES: dict[str, Any] = {
    "email": CustomerModel.email,
    "user_id": CustomerModel.user_id,
    "first_name": CustomerModel.first_name,
    "last_name": CustomerModel.last_name,
    "phone": CustomerModel.phone,
    "company": CustomerModel.company,
    "job_title": CustomerModel.job_title,
    "timezone": CustomerModel.timezone,
}


def seq_key(sequence_number: str) -> str:
    """Stream sequence numbers compare as numbers; zero-padded they compare as strings too."""
    return sequence_number.zfill(40)


def get(customer_id: str) -> CustomerModel | None:
    try:
        return CustomerModel.get(customer_id, consistent_read=True)
    except DoesNotExist:
        return None


def upsert_profile(
    customer_id: str,
    profile: Mapping[str, str],
    aliases: set[str],
    now: datetime,
    extra_traits: Mapping[str, Any] | None = None,
) -> None:
    """Create the customer if new; set the given profile fields; remember its aliases."""
    actions: list[Action] = [CustomerModel.created_at.set(CustomerModel.created_at | now.isoformat())]
    actions += [_PROFILE_ATTRIBUTES[name].set(value) for name, value in profile.items()]
    if aliases:
        actions.append(CustomerModel.aliases.add(aliases))
    if extra_traits:
        # Traits are small (size-limited at the API); the latest value of each wins.
        actions.append(CustomerModel.traits.set(CustomerModel.traits | {}))
    CustomerModel(customer_id).update(actions=actions)
    if extra_traits:
        CustomerModel(customer_id).update(
            actions=[CustomerModel.traits[name].set(value) for name, value in extra_traits.items()]
        )


def set_consent(customer_id: str, channel: str, record: dict[str, Any], keep_granted: bool) -> bool:
    """Set one channel's consent record; returns whether it changed.

    The same request (``record["event_id"]``) never applies twice, so a retry sends no second
    confirmation email. With ``keep_granted`` a granted consent is left as it is: a second sign-up must
    not downgrade a confirmed subscriber to pending.
    """
    attribute = CONSENT_ATTRIBUTES[channel]
    not_this_request = attribute["event_id"].does_not_exist() | (attribute["event_id"] != record["event_id"])
    condition = attribute.does_not_exist() | not_this_request
    if keep_granted:
        condition = attribute.does_not_exist() | ((attribute["status"] != "granted") & not_this_request)
    try:
        CustomerModel(customer_id).update(actions=[attribute.set(record)], condition=condition)
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def apply_aggregates(customer_id: str, delta: AggregateDelta, first_seq: str, last_seq: str) -> bool:
    """Add ``delta`` to the customer's aggregates, exactly once.

    The condition on ``last_stream_seq`` makes a retried stream batch a no-op: every record of this
    customer up to ``last_seq`` is then already counted. Returns False when the group was already applied
    (or partly: the caller then applies records one by one, each with its own sequence number).
    ``first_seen_at``/``last_seen_at`` are min/max: set optimistically, corrected below for events that
    arrive out of order.
    """
    assert delta.first_seen is not None
    assert delta.last_seen is not None
    actions: list[Action] = [
        CustomerModel.last_stream_seq.set(seq_key(last_seq)),
        CustomerModel.first_seen_at.set(CustomerModel.first_seen_at | delta.first_seen.isoformat()),
        CustomerModel.last_seen_at.set(delta.last_seen.isoformat()),
        CustomerModel.interaction_count.add(delta.interactions),
    ]
    if delta.purchases:
        actions += [
            CustomerModel.purchase_count.add(delta.purchases),
            CustomerModel.total_spent.add(delta.spent),
            CustomerModel.purchase_days.add(delta.purchase_days),
        ]
    for kind, count in delta.engagement_counts.items():
        actions.append(getattr(CustomerModel, f"cnt_{kind}").add(count))
        actions.append(getattr(CustomerModel, f"eng_{kind}").add(delta.engagement_weights[kind]))
    condition = CustomerModel.last_stream_seq.does_not_exist() | (
        CustomerModel.last_stream_seq < seq_key(first_seq)
    )
    try:
        response = CustomerModel._get_connection().update_item(
            customer_id, actions=actions, condition=condition, return_values="ALL_OLD"
        )
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    old = response.get("Attributes", {})
    _correct_seen_bounds(customer_id, old, delta)
    return True


def _correct_seen_bounds(customer_id: str, old: Mapping[str, Any], delta: AggregateDelta) -> None:
    assert delta.first_seen is not None
    assert delta.last_seen is not None
    old_last = old.get("last_seen_at", {}).get("S")
    new_last = delta.last_seen.isoformat()
    if old_last and old_last > new_last:
        # An older event arrived after a newer one: put the newer time back, unless something newer won.
        _conditional_set(customer_id, CustomerModel.last_seen_at, old_last, only_if_below=True)
    old_first = old.get("first_seen_at", {}).get("S")
    new_first = delta.first_seen.isoformat()
    if old_first and old_first > new_first:
        _conditional_set(customer_id, CustomerModel.first_seen_at, new_first, only_if_below=False)


def _conditional_set(customer_id: str, attribute: Any, value: str, only_if_below: bool) -> None:
    condition = attribute < value if only_if_below else attribute > value
    try:
        CustomerModel(customer_id).update(actions=[attribute.set(value)], condition=condition)
    except UpdateError as exc:
        if not is_conditional_failure(exc):
            raise


def mark_merged(customer_id: str, into: str) -> None:
    CustomerModel(customer_id).update(actions=[CustomerModel.merged_into.set(into)])


def record_merge(survivor: str, merged_id: str, aliases: set[str]) -> None:
    actions: list[Action] = [CustomerModel.merged_ids.add({merged_id})]
    if aliases:
        actions.append(CustomerModel.aliases.add(aliases))
    CustomerModel(survivor).update(actions=actions)


def delete(customer_id: str) -> None:
    try:
        CustomerModel(customer_id).delete()
    except DeleteError as exc:
        if not is_conditional_failure(exc):
            raise


def scan_segment(segment: int, total_segments: int, page_size: int = 1000) -> Iterator[CustomerModel]:
    """One segment of a parallel scan (DynamoDB Segment/TotalSegments)."""
    yield from CustomerModel.scan(segment=segment, total_segments=total_segments, page_size=page_size)
