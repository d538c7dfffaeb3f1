"""Tracking service: resolve identity, keep profile and consent, store each interaction exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from shared.dal import customers, identities, interactions, suppression
from shared.dal.bus import publish
from shared.events import BusEvent, ConsentConfirmationRequested
from shared.secrets import token_secret
from shared.services import consent as consent_service
from shared.settings import get_settings
from shared.tracking import tokens
from shared.tracking.identity import customer_id_for
from shared.tracking.normalise import ConsentRequest, Interaction


@dataclass(frozen=True)
class TrackResult:
    customer_id: str
    event_id: str
    stored: bool  # False: a duplicate of an interaction already stored
    traits_dropped: int = 0  # traits not kept on the profile (over its budget)


# Generations of one alias's customer id tried before giving up (each erasure of the person adds one).
MAX_GENERATIONS = 1000
# Resolution is retried when a profile it found was merged or erased meanwhile.
RESOLVE_ATTEMPTS = 3


def _create_customer(
    alias: str, profile: dict[str, str], now: datetime, extra_traits: dict[str, Any]
) -> tuple[str, int]:
    """Create a new customer's profile under the first id generation of ``alias`` that was never erased.

    Deterministic, so a retried first request or a concurrent one creates the same customer; an erased
    id has a tombstone, so a returning identifier becomes a new person (generation + 1)."""
    for generation in range(MAX_GENERATIONS):
        customer_id = customer_id_for(alias, generation)
        created, dropped = customers.create_profile(customer_id, profile, now, extra_traits)
        if created:
            return customer_id, dropped
    raise customers.ProfileErasedError(alias)


def _resolve_customer(
    interaction: Interaction,
    profile: dict[str, str],
    now: datetime,
    suppressed: list[suppression.Suppression] | None = None,
) -> tuple[str, int]:
    """(customer id, traits dropped), with the profile fields and traits of the call written.

    A new customer's profile is written before the aliases that lead to it (each alias in a transaction
    with its live profile): a request failing in between leaves a profile its retry completes, never an
    alias pointing at no profile. Profile fields only go to a live profile that is not merged: one merged
    meanwhile makes the resolution start again (its aliases then lead to the survivor).
    """
    for attempt in range(RESOLVE_ATTEMPTS):
        try:
            return _resolve_once(interaction, profile, now, suppressed)
        except (customers.ProfileErasedError, identities.LinkRefusedError):
            # A profile found a moment ago was merged or is being erased: resolve again (its aliases now
            # lead to the survivor, or are gone); after that, the client retries (503).
            if attempt == RESOLVE_ATTEMPTS - 1:
                raise customers.ProfileErasedError(interaction.event_id) from None
    raise AssertionError("unreachable")


def _resolve_once(
    interaction: Interaction,
    profile: dict[str, str],
    now: datetime,
    suppressed: list[suppression.Suppression] | None = None,
) -> tuple[str, int]:
    aliases = interaction.identifiers.aliases()
    fill_only = is_public_form(interaction)
    known = identities.resolve(aliases)
    survivor = next((known[a] for a in aliases if a in known), None)
    written: str | None = None
    dropped = 0
    if survivor is None:
        user_id = interaction.identifiers.user_id
        survivor, dropped = _create_customer(
            aliases[0], {**profile, "user_id": user_id} if user_id else profile, now, interaction.extra_traits
        )
        written = survivor
    for other in {cid for cid in known.values() if cid != survivor}:
        _merge(other, survivor, now)
    linked: set[str] = set()
    for alias in aliases:
        if alias not in known:
            winner = identities.link(alias, survivor, now, customers.LIVE_UNMERGED)
            if winner != survivor:
                # A concurrent request linked this alias first: that customer is the one.
                _merge(survivor, winner, now)
                survivor = winner
            linked.add(alias)
    email = interaction.identifiers.email
    if email and f"email:{email}" in linked:
        # An address new to the engine may be one an erased person's bounce or complaint listed: the
        # profile is suppressed before any confirmation is requested (shared.dal.do_not_contact).
        applied = suppression.apply_do_not_contact(survivor, email)
        if applied is not None and suppressed is not None:
            suppressed.append(applied)
    user_id = interaction.identifiers.user_id
    fields = dict(profile)
    if user_id and f"user:{user_id}" in linked:
        fields["user_id"] = user_id  # once, when the user id is first linked: no write per event
    if written != survivor and (fields or interaction.extra_traits):
        dropped = customers.upsert_profile(
            survivor, fields, set(), now, interaction.extra_traits, fill_only=fill_only
        )
    return survivor, dropped


def is_public_form(interaction: Interaction) -> bool:
    """A post of a public form: anyone can send one with anyone's address, so it fills empty profile
    fields only and never overwrites what is known about an existing person (Segment calls, which carry
    a source's write key, do update the profile)."""
    return interaction.source.startswith("form:")


def _merge(merged_id: str, survivor: str, now: datetime) -> None:
    """Link a customer's history to another one (e.g. an anonymous visitor who identified).

    Order matters for late and concurrent writers: the survivor records the merged id first (so erasing
    the survivor erases the merged profile too), then the merged profile points at the survivor (from then
    on its stream records are forwarded, not counted), then its aliases move (each only while it still
    points at the merged profile and the survivor is live), then its interactions.
    """
    customers.record_merge(survivor, merged_id, set())
    if not customers.mark_merged(merged_id, survivor):
        # Gone, being erased, or merged elsewhere by a concurrent request: nothing to take over.
        customers.forget_merge(survivor, merged_id)
        return
    merged = customers.get(merged_id)
    aliases = set(merged.aliases or ()) if merged else set()
    for alias in aliases | identities.for_customer(merged_id):
        identities.repoint(alias, merged_id, survivor, now, customers.LIVE_UNMERGED)
    interactions.move_all(merged_id, survivor)
    # After the mark, the merged profile's links act on the survivor; its consent is carried over
    # (the most recent explicit decision wins, revocation wins a tie).
    consent_service.carry_over(merged_id, survivor)


def _consent_record(request: ConsentRequest, event_id: str, now: datetime) -> dict[str, str]:
    record = {"status": request.status, "at": now.isoformat(), "source": request.source, "event_id": event_id}
    if request.wording_version:
        record["wording_version"] = request.wording_version
    return record


def confirmation_url(
    customer_id: str, channel: str, base_url: str | None = None, request_id: str | None = None
) -> str:
    """The link of a confirmation email: it confirms the pending request ``request_id`` (the event id of
    the interaction that opened it) and no other."""
    settings = get_settings()
    token = tokens.sign(
        token_secret(),
        "confirm",
        customer_id,
        channel,
        ttl_seconds=settings.consent_token_ttl_hours * 3600,
        request_id=request_id,
    )
    return f"{base_url or settings.link_base_url}/v1/consent/confirm?{urlencode({'token': token})}"


def unsubscribe_url(customer_id: str, channel: str = "email", base_url: str | None = None) -> str:
    token = tokens.sign(token_secret(), "unsubscribe", customer_id, channel, ttl_seconds=None)
    return f"{(base_url or get_settings().link_base_url)}/v1/unsubscribe?{urlencode({'token': token})}"


def track(batch: list[Interaction], base_url: str | None = None) -> list[TrackResult]:
    """Store a batch of validated interactions. Safe to retry: a replay stores and sends nothing new.

    For each interaction the profile and consent are written first, then its events published, and the
    interaction stored last: the interaction is the commit point, so a request that fails half-way is
    completed by its retry (which republishes a confirmation request an earlier attempt may not have
    published; the email channel sends each one once).
    """
    settings = get_settings()
    now = datetime.now(UTC)
    results: list[TrackResult] = []
    for interaction in batch:
        events: list[BusEvent] = []
        profile = dict(interaction.profile)
        listed: list[suppression.Suppression] = []
        customer_id, dropped = _resolve_customer(interaction, profile, now, listed)
        for hit in listed:  # the address is on the do-not-contact list: this profile is suppressed now
            events.append(
                consent_service.changed_event(
                    customer_id,
                    "email",
                    "suppressed",
                    "do-not-contact",
                    f"dnc:{interaction.event_id}",
                    now,
                    hit.reason,
                )
            )
        for request in interaction.consent:
            record = _consent_record(request, interaction.event_id, now)
            if request.status == "pending" and request.channel == "email" and profile.get("email"):
                # The address this request confirms: a form never overwrites a known address, so it
                # becomes the profile's address only when its owner confirms (shared.services.consent).
                record["address"] = profile["email"]
            changed = customers.set_consent(
                customer_id, request.channel, record, keep_granted=request.status != "revoked"
            )
            # This request's change, written now or by an earlier attempt that failed before its commit
            # point: its events go out (again), once the interaction is stored they never do.
            written = changed or _unfinished_by_earlier_attempt(customer_id, request.channel, interaction)
            if written:
                events.append(
                    consent_service.changed_event(
                        customer_id,
                        request.channel,
                        request.status,
                        request.source,
                        interaction.event_id,
                        now,
                    )
                )
            if request.status == "revoked":
                # An unsubscribe (e.g. Segment's ``Unsubscribed``) is the person's: every live profile
                # holding the address is revoked too, each change published and recorded on its own.
                consent_service.revoke_everywhere(
                    {customer_id}, request.channel, f"revoke:{interaction.event_id}", request.source, now
                )
            if request.status == "pending" and profile.get("email") and written:
                events.append(
                    ConsentConfirmationRequested(
                        customer_id=customer_id,
                        channel=request.channel,
                        email=profile["email"],
                        first_name=_greeting_name(customer_id, profile, interaction),
                        confirm_url=confirmation_url(
                            customer_id, request.channel, base_url, request_id=interaction.event_id
                        ),
                        form_id=interaction.source.removeprefix("form:"),
                        message_key=f"confirm:{customer_id}:{request.channel}:{interaction.event_id}",
                    )
                )
        if events:
            publish(events)
        item = interactions.to_model(customer_id, interaction, settings.interaction_ttl_days)
        stored = interactions.put_new(item)
        results.append(TrackResult(customer_id, interaction.event_id, stored, dropped))
    return results


def _greeting_name(customer_id: str, profile: dict[str, str], interaction: Interaction) -> str | None:
    """The name a confirmation email greets: the one on record for a known person (a form posted with
    their address must not put the poster's words in an email to them), else the form's."""
    if not is_public_form(interaction):
        return profile.get("first_name")
    stored = customers.get(customer_id)
    return (stored.first_name if stored is not None else None) or profile.get("first_name")


def _unfinished_by_earlier_attempt(customer_id: str, channel: str, interaction: Interaction) -> bool:
    """Whether an earlier attempt of this same request set the consent record but failed before its
    commit point (the interaction is not stored), so its confirmation request may never have gone out."""
    customer = customers.get(customer_id)
    record = getattr(customer, f"consent_{channel}", None) if customer is not None else None
    if record is None or record.get("event_id") != interaction.event_id:
        return False
    return not interactions.exists(customer_id, interaction.event_id)
