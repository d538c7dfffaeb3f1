"""Customers table: profiles, consent and aggregates.

Erasure and late writers. Erasing a person first marks the profile (and the profiles merged into it) with
``erasing_at``, leaves a tombstone of each id (:mod:`shared.dal.identities`), then deletes everything keyed
by the person, and deletes the profile last, so an erasure that fails half-way is completed by its retry.
Writers that may run late (a stream record stored before the erasure and delivered after it, a consent
link clicked, a merge, a request that resolved the person just before) only touch a *live* profile: one
that exists and carries no erasure mark. Nothing here creates a profile except :func:`create_profile`,
which tracking calls for a new customer before it stores the customer's first interaction, in a
transaction that refuses an id with a tombstone: an erased id never names anyone again, so a late writer
of the erased person finds no live profile, ever. Writers to other tables (scores, campaign decisions)
write first and then check :func:`live_ids`, deleting what they wrote for a person no longer live: a write
either precedes the mark (and the erasure deletes it) or the check after it sees the mark.

Merges. A merged profile keeps ``merged_into``; aggregates are only added to a live profile that is not
merged, so a stream record of a merged profile is forwarded to the survivor
(:mod:`shared.services.aggregation`).

Bounded profile. Extra traits are kept within :data:`MAX_PROFILE_TRAITS` names of at most
:data:`MAX_TRAIT_NAME_CHARS` characters, each value at most :data:`MAX_TRAIT_VALUE_BYTES` bytes (JSON):
a kept trait can always be updated; a new one beyond the budget, or an oversize one, is dropped (and
counted). The item therefore stays far below DynamoDB's 400 KB item limit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import DeleteError, DoesNotExist, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition, size
from pynamodb.expressions.operand import Path
from pynamodb.expressions.update import Action

from shared.dal import identities
from shared.dal.errors import is_conditional_failure
from shared.dal.models import CustomerModel, IdentityModel
from shared.dal.records import CustomerAggregates, CustomerRecord, record_of
from shared.tracking.aggregates import AggregateDelta, first_purchase_day

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


# The erasure mark: not a declared attribute of CustomerModel, so a profile read through the model never
# shows it; only this module reads and writes it.
_ERASING_AT = UnicodeAttribute(attr_name="erasing_at", null=True)
ERASING_AT = Path(_ERASING_AT)
_LIVE: Condition = CustomerModel.customer_id.exists() & ERASING_AT.does_not_exist()
# Live and not merged into another profile: where aggregates and new aliases may go.
LIVE_UNMERGED: Condition = _LIVE & CustomerModel.merged_into.does_not_exist()
_BATCH_GET_LIMIT = 100
# What a scoring run reads of each customer (a projection: the scan reads no profile, consent or aliases).
_AGGREGATE_ATTRIBUTES: Final[list[str]] = list(CustomerAggregates.model_fields)

MAX_PROFILE_TRAITS: Final = 100
MAX_TRAIT_NAME_CHARS: Final = 128
MAX_TRAIT_VALUE_BYTES: Final = 1024


class ProfileErasedError(Exception):
    """A write would have added to a person whose erasure has started, or to a profile merged away
    meanwhile (the request may be retried: the person's aliases are then gone, so it is a new person, or
    they lead to the survivor)."""


def seq_key(sequence_number: str) -> str:
    """Stream sequence numbers compare as numbers; zero-padded they compare as strings too."""
    return sequence_number.zfill(40)


def get_item(customer_id: str) -> CustomerModel | None:
    """The profile's item (for data access itself), also while it is being erased."""
    try:
        return CustomerModel.get(customer_id, consistent_read=True)
    except DoesNotExist:
        return None


def live_item(customer_id: str) -> CustomerModel | None:
    """The profile's item (for data access itself) if it exists and its erasure has not started (a
    strongly consistent read)."""
    item = CustomerModel._get_connection().get_item(customer_id, consistent_read=True).get("Item")
    if not item or _ERASING_AT.attr_name in item:
        return None
    return CustomerModel.from_raw_data(item)


def get(customer_id: str) -> CustomerRecord | None:
    """The profile, also while it is being erased (erasure itself reads it)."""
    item = get_item(customer_id)
    return record_of(CustomerRecord, item) if item is not None else None


def live(customer_id: str) -> CustomerRecord | None:
    """The profile if it exists and its erasure has not started (a strongly consistent read)."""
    item = live_item(customer_id)
    return record_of(CustomerRecord, item) if item is not None else None


def _batch_read(customer_ids: Iterable[str], attributes: list[str]) -> Iterator[dict[str, Any]]:
    """The named attributes of each existing profile among ``customer_ids`` (strongly consistent batch
    reads of 100, unprocessed keys read again), as DynamoDB returns them."""
    pending = list(dict.fromkeys(customer_ids))
    connection = CustomerModel._get_connection()
    table, key_name = CustomerModel.Meta.table_name, "customer_id"
    while pending:
        page, pending = pending[:_BATCH_GET_LIMIT], pending[_BATCH_GET_LIMIT:]
        while page:
            # PynamoDB annotates ``keys`` as strings; it takes {hash key name: value} maps.
            response = connection.batch_get_item(
                [{key_name: cid} for cid in page],  # type: ignore[misc]
                consistent_read=True,
                attributes_to_get=[key_name, *attributes],
            )
            yield from response.get("Responses", {}).get(table, [])
            unprocessed = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            page = [key[key_name]["S"] for key in unprocessed]


def live_ids(customer_ids: Iterable[str]) -> set[str]:
    """Those of ``customer_ids`` whose profile exists and is not being erased (strongly consistent)."""
    return {
        item["customer_id"]["S"]
        for item in _batch_read(customer_ids, [_ERASING_AT.attr_name])
        if _ERASING_AT.attr_name not in item
    }


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def last_seen(customer_ids: Iterable[str]) -> dict[str, datetime]:
    """When each of ``customer_ids`` was last seen: the latest time of an interaction the aggregates have
    counted (profiles that do not exist, or have no interaction counted, are left out)."""
    attribute = CustomerModel.last_seen_at.attr_name
    return {
        item["customer_id"]["S"]: _aware(datetime.fromisoformat(item[attribute]["S"]))
        for item in _batch_read(customer_ids, [attribute])
        if attribute in item
    }


def mark_erasing(customer_id: str, now: datetime) -> bool:
    """Start erasing a profile (False if there is none). Idempotent: the first mark stays."""
    try:
        CustomerModel(customer_id).update(
            actions=[ERASING_AT.set(ERASING_AT | now.isoformat())],
            condition=CustomerModel.customer_id.exists(),
        )
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


@dataclass(frozen=True)
class ProfileState:
    live: bool  # exists and not being erased
    merged_into: str | None


def state(customer_id: str) -> ProfileState:
    """Whether a profile is live, and where it was merged (a strongly consistent read of two attributes)."""
    item = (
        CustomerModel._get_connection()
        .get_item(
            customer_id,
            consistent_read=True,
            attributes_to_get=["customer_id", "merged_into", _ERASING_AT.attr_name],
        )
        .get("Item")
    )
    if not item or _ERASING_AT.attr_name in item:
        return ProfileState(live=False, merged_into=None)
    return ProfileState(live=True, merged_into=item.get("merged_into", {}).get("S"))


def _profile_actions(profile: Mapping[str, str], aliases: set[str], fill_only: bool = False) -> list[Action]:
    actions: list[Action] = [
        _PROFILE_ATTRIBUTES[name].set(_PROFILE_ATTRIBUTES[name] | value if fill_only else value)
        for name, value in profile.items()
    ]
    if aliases:
        actions.append(CustomerModel.aliases.add(aliases))
    return actions


def create_profile(
    customer_id: str, profile: Mapping[str, str], now: datetime, extra_traits: Mapping[str, Any] | None = None
) -> tuple[bool, int]:
    """Create (or complete, for a retried first request) a new customer's profile: (created, traits
    dropped). Not created (False) when the id has a tombstone, is being erased or was merged away: the
    caller takes the next generation of the id. One transaction: the profile update and the check that no
    tombstone exists, so an erasure finishing meanwhile cannot be undone by this write."""
    actions: list[Action] = [CustomerModel.created_at.set(CustomerModel.created_at | now.isoformat())]
    actions += _profile_actions(profile, set())
    try:
        with identities.transaction() as write:
            write.condition_check(
                IdentityModel, identities.tombstone_key(customer_id), condition=identities.no_tombstone()
            )
            # Not an id being erased, nor one merged away (neither may name a new person).
            write.update(
                CustomerModel(customer_id),
                actions=actions,
                condition=ERASING_AT.does_not_exist() & CustomerModel.merged_into.does_not_exist(),
            )
    except TransactWriteError as exc:
        if identities.cancelled_by_condition(exc):
            return False, 0
        raise
    return True, _set_traits(customer_id, extra_traits)


def upsert_profile(
    customer_id: str,
    profile: Mapping[str, str],
    aliases: set[str],
    now: datetime,
    extra_traits: Mapping[str, Any] | None = None,
    fill_only: bool = False,
) -> int:
    """Set the given profile fields of an existing customer, remember aliases; returns how many traits
    were dropped (see the budget above).

    With ``fill_only`` a field is set only where the profile has none (``if_not_exists``): what a public
    form says never overwrites what is known about a person.

    Raises :class:`ProfileErasedError` if the profile is gone, its erasure has started, or it was merged
    into another: this never creates a profile (that would bring back an erased person under their old
    id), and never writes to a merged one (the survivor would not see it).
    """
    actions = _profile_actions(profile, aliases, fill_only)
    if actions:
        _update_unless_erasing(customer_id, actions, LIVE_UNMERGED)
    return _set_traits(customer_id, extra_traits)


def _trait_fits(name: str, value: Any) -> bool:
    if len(name) > MAX_TRAIT_NAME_CHARS:
        return False
    return len(json.dumps(value, default=str, ensure_ascii=False).encode()) <= MAX_TRAIT_VALUE_BYTES


def _set_traits(customer_id: str, extra_traits: Mapping[str, Any] | None) -> int:
    """Set traits within the budget; returns how many were dropped.

    First try: every trait in one update, on condition that even if all were new the budget holds (the
    common case: few traits). Otherwise the current names are read and kept traits updated, new ones
    added only while ``size(traits)`` (the number of names, checked by DynamoDB at write time, so
    concurrent writers cannot overshoot together) leaves room; the rest is dropped.
    """
    if not extra_traits:
        return 0
    fitting = {name: value for name, value in extra_traits.items() if _trait_fits(name, value)}
    dropped = len(extra_traits) - len(fitting)
    if not fitting:
        return dropped
    # Make sure the map exists (DynamoDB cannot set a path inside a missing map).
    _update_unless_erasing(customer_id, [CustomerModel.traits.set(CustomerModel.traits | {})], LIVE_UNMERGED)
    try:
        CustomerModel(customer_id).update(
            actions=[CustomerModel.traits[name].set(value) for name, value in fitting.items()],
            condition=LIVE_UNMERGED & (size(CustomerModel.traits) <= MAX_PROFILE_TRAITS - len(fitting)),
        )
        return dropped
    except UpdateError as exc:
        if not is_conditional_failure(exc):
            raise
    current = live_item(customer_id)
    if current is None:
        raise ProfileErasedError(customer_id)
    known = set((current.traits.as_dict() if current.traits is not None else {}).keys())
    kept = {name: value for name, value in fitting.items() if name in known}
    if kept:
        _update_unless_erasing(
            customer_id,
            [CustomerModel.traits[name].set(value) for name, value in kept.items()],
            LIVE_UNMERGED,
        )
    for name, value in fitting.items():
        if name in kept:
            continue
        try:
            CustomerModel(customer_id).update(
                actions=[CustomerModel.traits[name].set(value)],
                condition=LIVE_UNMERGED & (size(CustomerModel.traits) < MAX_PROFILE_TRAITS),
            )
        except UpdateError as exc:
            if not is_conditional_failure(exc):
                raise
            dropped += 1
    return dropped


def _update_unless_erasing(customer_id: str, actions: list[Action], condition: Condition) -> None:
    try:
        CustomerModel(customer_id).update(actions=actions, condition=condition)
    except UpdateError as exc:
        if is_conditional_failure(exc):
            raise ProfileErasedError(customer_id) from exc
        raise


def set_consent(customer_id: str, channel: str, record: dict[str, Any], keep_granted: bool) -> bool:
    """Set one channel's consent record; returns whether it changed (never for a profile that is gone or
    being erased: that would create a profile holding nothing but the consent).

    The same request (``record["event_id"]``) never applies twice, so a retry sends no second
    confirmation email. With ``keep_granted`` a granted consent is left as it is: a second sign-up must
    not downgrade a confirmed subscriber to pending.
    """
    attribute = CONSENT_ATTRIBUTES[channel]
    not_this_request = attribute["event_id"].does_not_exist() | (attribute["event_id"] != record["event_id"])
    condition = attribute.does_not_exist() | not_this_request
    if keep_granted:
        condition = attribute.does_not_exist() | ((attribute["status"] != "granted") & not_this_request)
    condition = _LIVE & condition
    try:
        CustomerModel(customer_id).update(actions=[attribute.set(record)], condition=condition)
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def consent(customer_id: str, channel: str) -> dict[str, Any] | None:
    """One channel's consent record (strongly consistent), None if there is none or no live profile."""
    profile = live(customer_id)
    return consent_of(profile, channel) if profile is not None else None


def consent_of(profile: CustomerRecord, channel: str) -> dict[str, Any] | None:
    """One channel's consent record of a profile already read, None if there is none."""
    record = getattr(profile, f"consent_{channel}", None)
    return dict(record) if record is not None else None


def replace_consent(
    customer_id: str,
    channel: str,
    record: Mapping[str, Any],
    expected: Mapping[str, Any] | None,
    email: str | None = None,
) -> bool:
    """Compare-and-set of one channel's consent record: written only while the record is still
    ``expected`` (same change: event id and status; None: no record). False if it moved meanwhile (or the
    profile is gone or being erased). ``email``: the profile's address set in the same update (the address
    a confirmation confirms becomes the profile's with the grant, never without it)."""
    attribute = CONSENT_ATTRIBUTES[channel]
    if expected is None:
        condition = attribute.does_not_exist()
    else:
        condition = (attribute["event_id"] == str(expected.get("event_id"))) & (
            attribute["status"] == str(expected.get("status"))
        )
    actions: list[Action] = [attribute.set(dict(record))]
    if email is not None:
        actions.append(CustomerModel.email.set(email))
    try:
        CustomerModel(customer_id).update(actions=actions, condition=_LIVE & condition)
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def revoke_consent(customer_id: str, channel: str, record: Mapping[str, Any]) -> bool:
    """Record a revocation unless the channel is already revoked (an unsubscribe is recorded even where
    no consent was held: it is an explicit decision a later merge must know). True if it changed."""
    attribute = CONSENT_ATTRIBUTES[channel]
    condition = _LIVE & (attribute.does_not_exist() | (attribute["status"] != "revoked"))
    try:
        CustomerModel(customer_id).update(actions=[attribute.set(dict(record))], condition=condition)
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def apply_aggregates(customer_id: str, delta: AggregateDelta, first_seq: str, last_seq: str) -> bool:
    """Add ``delta`` to the customer's aggregates, exactly once.

    The condition on ``last_stream_seq`` makes a retried stream batch a no-op: every record of this
    customer up to ``last_seq`` is then already counted. Returns False when the group was already applied
    (or partly: the caller then applies records one by one, each with its own sequence number), and when
    the profile is gone or being erased: a record stored before an erasure and delivered after it must not
    recreate the person (a new customer's profile is written before its first interaction is stored).
    ``first_seen_at``/``last_seen_at`` are min/max: set optimistically, corrected below for events that
    arrive out of order. The first purchase day and its spend are part of the same atomic update (see
    :func:`_first_day_branch`), so they are exact whatever the order of arrival.
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
    condition = LIVE_UNMERGED & (
        CustomerModel.last_stream_seq.does_not_exist() | (CustomerModel.last_stream_seq < seq_key(first_seq))
    )
    first = first_purchase_day(delta)
    # Most purchases come after the customer's first purchase day: try that branch first.
    branch: _FirstDayState = "later"
    for _ in range(_FIRST_DAY_ATTEMPTS):
        extra_actions, branch_condition = ([], None) if first is None else _first_day_branch(branch, *first)
        try:
            response = CustomerModel._get_connection().update_item(
                customer_id,
                actions=actions + extra_actions,
                condition=condition if branch_condition is None else condition & branch_condition,
                return_values="ALL_OLD",
            )
        except UpdateError as exc:
            if not is_conditional_failure(exc):
                raise
            if first is None:
                return False
            current = _current_first_day(customer_id, first_seq)
            if current is None:
                return False  # already applied, or the profile is gone, being erased or merged
            branch = _branch_for(current, first[0])
            continue
        old = response.get("Attributes", {})
        _correct_seen_bounds(customer_id, old, delta)
        return True
    raise RuntimeError(
        f"first purchase day of {customer_id} kept changing under {_FIRST_DAY_ATTEMPTS} attempts"
    )


_FIRST_DAY_ATTEMPTS = 5
# "new": no purchase counted yet; "earlier": the delta's day precedes the stored first day; "same"; "later";
# "unknown": purchases counted before the first day was kept (left unknown; scoring falls back).
_FirstDayState = Literal["new", "earlier", "same", "later", "unknown"]


def _first_day_branch(branch: _FirstDayState, day: str, spent: float) -> tuple[list[Action], Condition]:
    """The actions on the first-day attributes for one state, and the condition that the state holds."""
    fpd, fds = CustomerModel.first_purchase_day, CustomerModel.first_day_spent
    if branch == "new":
        return [
            fpd.set(day),
            fds.set(spent),
        ], fpd.does_not_exist() & CustomerModel.purchase_days.does_not_exist()
    if branch == "earlier":
        return [fpd.set(day), fds.set(spent)], fpd > day
    if branch == "same":
        return [fds.add(spent)], fpd == day
    if branch == "later":
        return [], fpd < day
    return [], fpd.does_not_exist() & CustomerModel.purchase_days.exists()


def _branch_for(current: tuple[str | None, bool], day: str) -> _FirstDayState:
    stored, has_purchases = current
    if stored is None:
        return "unknown" if has_purchases else "new"
    if day < stored:
        return "earlier"
    return "same" if day == stored else "later"


def _current_first_day(customer_id: str, first_seq: str) -> tuple[str | None, bool] | None:
    """The stored first purchase day and whether purchases were counted; ``None`` when the update cannot
    apply any more (record already counted, profile gone, being erased or merged: the caller then forwards
    a merged profile's record to its survivor)."""
    item = CustomerModel._get_connection().get_item(customer_id, consistent_read=True).get("Item")
    if not item or "erasing_at" in item or "merged_into" in item:
        return None
    stored_seq = item.get("last_stream_seq", {}).get("S")
    if stored_seq is not None and stored_seq >= seq_key(first_seq):
        return None
    day = item.get("first_purchase_day", {}).get("S")
    return day, "purchase_days" in item


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


def mark_merged(customer_id: str, into: str) -> bool:
    """Point a merged profile at its survivor. True if it now points there (also when an earlier attempt
    did it); False if the profile is gone, being erased, or merged into another one."""
    try:
        CustomerModel(customer_id).update(
            actions=[CustomerModel.merged_into.set(into)],
            condition=_LIVE
            & (CustomerModel.merged_into.does_not_exist() | (CustomerModel.merged_into == into)),
        )
    except UpdateError as exc:
        if not is_conditional_failure(exc):
            raise
        return False
    return True


def forget_merge(survivor: str, merged_id: str) -> None:
    """Undo :func:`record_merge` for a merge that did not happen (the other profile went elsewhere)."""
    try:
        CustomerModel(survivor).update(
            actions=[CustomerModel.merged_ids.delete({merged_id})], condition=_LIVE
        )
    except UpdateError as exc:
        if not is_conditional_failure(exc):
            raise


def record_merge(survivor: str, merged_id: str, aliases: set[str]) -> None:
    """Remember on the survivor what was merged into it (erasure deletes all of it), before anything
    moves; raises :class:`ProfileErasedError` if the survivor is gone, being erased, or merged itself."""
    actions: list[Action] = [CustomerModel.merged_ids.add({merged_id})]
    if aliases:
        actions.append(CustomerModel.aliases.add(aliases))
    _update_unless_erasing(survivor, actions, LIVE_UNMERGED)


def delete(customer_id: str) -> None:
    try:
        CustomerModel(customer_id).delete()
    except DeleteError as exc:
        if not is_conditional_failure(exc):
            raise


def scan_segment(segment: int, total_segments: int, page_size: int = 1000) -> Iterator[CustomerAggregates]:
    """One segment of a parallel scan (DynamoDB Segment/TotalSegments), reading only what scoring needs.

    The hot loop of a scoring run: the raw items of the projection become records directly (strings,
    numbers, string sets), without building PynamoDB items first.
    """
    connection = CustomerModel._get_connection()
    start_key: Any = None
    while True:
        page = connection.scan(
            segment=segment,
            total_segments=total_segments,
            limit=page_size,
            attributes_to_get=_AGGREGATE_ATTRIBUTES,
            exclusive_start_key=start_key,
        )
        for raw in page.get("Items", ()):
            yield CustomerAggregates.model_construct(**{name: _plain(value) for name, value in raw.items()})
        start_key = page.get("LastEvaluatedKey")
        if not start_key:
            return


def _plain(value: Mapping[str, Any]) -> Any:
    """A DynamoDB value of the aggregates' types (S, N, SS, NULL) as a Python value."""
    kind, data = next(iter(value.items()))
    if kind == "N":
        return float(data)
    if kind == "SS":
        return set(data)
    return None if kind == "NULL" else data


def record(customer_id: str, live_only: bool = True) -> CustomerRecord | None:
    """The profile as a record: by default only if it exists and its erasure has not started (as
    :func:`live`); ``live_only=False`` also while it is being erased (as :func:`get`)."""
    return live(customer_id) if live_only else get(customer_id)
