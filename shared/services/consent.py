"""Consent links (confirm, unsubscribe) and consent across merges; the states are in
:mod:`shared.tracking.consent`.

Links act on the person, not on a profile id frozen in the link: a link of a profile merged into another
acts on the survivor. An unsubscribe applies to every live profile holding the address. Every change is
an interaction of the profile it changed (kind ``consent_granted``, ``unsubscribe`` or
``consent_changed``), keyed so a repeated click or a retried request records it once.

Every change is also published on the bus as ``ConsentChanged`` (:mod:`shared.events`), after the
conditional write that made it and before its interaction is stored: the interaction is the commit point,
so a retry that finds it stored publishes nothing (once per change), and one that does not (the earlier
attempt failed in between) publishes and records it (the event's ``change_id`` lets a consumer drop the
rare second copy).

Profiles sharing an address. Aliases are unique (``email:<address>`` names one profile), so two profiles
carry the same address when one was merged into the other: the merged-away profile keeps its own email
and consent record. A revocation of the email channel (unsubscribe link, Segment ``Unsubscribed``,
complaint) therefore reaches every live profile holding the address: the survivors of the profiles named,
the holder of each of their ``email:`` aliases, and every live profile merged into those (their records are
revoked too, without an interaction of their own: a merged profile's interactions belong to the survivor,
which records the change).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, cast

from shared.dal import customers, identities, interactions
from shared.dal.bus import publish
from shared.dal.customers import CONSENT_ATTRIBUTES
from shared.dal.records import CustomerRecord
from shared.events import Channel, ConsentChanged
from shared.secrets import token_secret
from shared.settings import get_settings
from shared.tracking import consent, tokens
from shared.tracking.engagement import InteractionKind
from shared.tracking.identity import Identifiers
from shared.tracking.normalise import Interaction

LinkResult = Literal[
    "confirmable",  # GET of a confirmation link whose request is pending: the page offers the button
    "confirmed",
    "already_confirmed",
    "revoked_since",  # the person unsubscribed after the link was sent: the link does nothing
    "superseded",  # a newer confirmation email was sent: only its link confirms
    "no_request",
    "unsubscribable",  # GET of an unsubscribe link
    "unsubscribed",
    "already_unsubscribed",
]
MAX_MERGE_HOPS = 8
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class LinkOutcome:
    result: LinkResult
    channel: str
    changed: bool = False


def _survivor(customer_id: str) -> CustomerRecord | None:
    """The live profile a (possibly merged-away) profile id stands for; None if the person is gone."""
    current = customer_id
    for _ in range(MAX_MERGE_HOPS):
        profile = customers.live(current)
        if profile is None or not profile.merged_into:
            return profile
        current = profile.merged_into
    return None


def survivor_of(customer_id: str) -> str | None:
    """The id of the live profile a (possibly merged-away) profile id stands for; None if gone."""
    profile = _survivor(customer_id)
    return profile.customer_id if profile is not None else None


def _verified(token: str, purpose: tokens.Purpose) -> tuple[tokens.Claims, CustomerRecord]:
    """The token's claims and the live profile it stands for (read once: the link's first decision reads
    its consent from it; every compare-and-set and retry reads the profile again)."""
    claims = tokens.verify_claims(token_secret(), token, purpose)
    if claims.channel not in CONSENT_ATTRIBUTES:
        raise tokens.InvalidTokenError("the token names an unknown channel")
    survivor = _survivor(claims.customer_id)
    if survivor is None:
        raise tokens.InvalidTokenError("the token names a customer who is no longer on record")
    return claims, survivor


def _record(
    customer_id: str,
    event_id: str,
    kind: InteractionKind,
    channel: str,
    status: str,
    source: str,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> None:
    interaction = Interaction(
        event_id=event_id,
        kind=kind,
        name=f"consent:{channel}:{status}",
        occurred_at=now,
        received_at=now,
        identifiers=Identifiers(),
        source=source,
        properties={"channel": channel, "status": status, **(extra or {})},
    )
    interactions.put_new(interactions.to_model(customer_id, interaction, get_settings().interaction_ttl_days))


def changed_event(
    customer_id: str,
    channel: str,
    status: str,
    source: str | None,
    change_id: str,
    at: datetime,
    reason: str | None = None,
) -> ConsentChanged:
    return ConsentChanged(
        customer_id=customer_id,
        channel=cast(Channel, channel),
        status=cast(Any, status),
        source=source,
        change_id=change_id,
        occurred_at=at.isoformat(),
        reason=reason,
    )


def _commit(
    customer_id: str,
    event_id: str,
    kind: InteractionKind,
    channel: str,
    status: str,
    source: str,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> None:
    """Publish a change that was written, then record it (the commit point); nothing if it is recorded."""
    if interactions.exists(customer_id, event_id):
        return  # a retry of a change already published and recorded
    publish([changed_event(customer_id, channel, status, source, event_id, now)])
    _record(customer_id, event_id, kind, channel, status, source, now, extra)


def preview(token: str, purpose: tokens.Purpose) -> LinkOutcome:
    """What the link would do, changing nothing (a GET: mail scanners fetch links)."""
    claims, profile = _verified(token, purpose)
    current = customers.consent_of(profile, claims.channel)
    if purpose == "unsubscribe":
        revoked = current is not None and current.get("status") == "revoked"
        return LinkOutcome("already_unsubscribed" if revoked else "unsubscribable", claims.channel)
    outcome = consent.confirm_outcome(current, claims.request_id)
    return LinkOutcome("confirmable" if outcome == "confirm" else outcome, claims.channel)


def confirm(token: str, source: str = "confirmation-link") -> LinkOutcome:
    """Grant consent for the pending request the link was issued for, and for no other."""
    claims, profile = _verified(token, "confirm")
    survivor, channel = profile.customer_id, claims.channel
    event_id = f"confirm:{tokens.token_id(token)}"
    for attempt in range(MAX_ATTEMPTS):
        now = datetime.now(UTC)
        # The first attempt decides on the profile just read; a lost compare-and-set reads it again.
        if attempt == 0:
            current = customers.consent_of(profile, channel)
        else:
            current = customers.consent(survivor, channel)
        outcome = consent.confirm_outcome(current, claims.request_id)
        if outcome != "confirm" or current is None:  # (no record is never "confirm")
            if current is not None and current.get("event_id") == event_id:
                # This very click changed it; a retry completes its event and interaction (once each).
                _commit(survivor, event_id, "consent_granted", channel, "granted", source, now)
            return LinkOutcome("no_request" if outcome == "confirm" else outcome, channel)
        record = {
            "status": "granted",
            "at": now.isoformat(),
            "source": source,
            "event_id": event_id,
            "request_id": str(current.get("event_id")),
        }
        if current.get("wording_version"):
            record["wording_version"] = current["wording_version"]
        address = str(current["address"]) if current.get("address") else None
        if address is not None:
            # A form never overwrites a known address: the one this request confirms becomes the
            # profile's now that its owner confirmed it, in the grant's own update (emails go to it from
            # then on, and never without the grant).
            record["address"] = address
        if customers.replace_consent(survivor, channel, record, current, email=address):
            wording = {"wording_version": record["wording_version"]} if "wording_version" in record else {}
            _commit(survivor, event_id, "consent_granted", channel, "granted", source, now, wording)
            moved = survivor_of(survivor)
            if moved is not None and moved != survivor:
                carry_over(survivor, moved)  # merged while this was written: the grant follows
            return LinkOutcome("confirmed", channel, changed=True)
    return LinkOutcome(preview(token, "confirm").result, channel)


def _merged_into(customer_id: str, limit: int = 64) -> set[str]:
    """The live profiles merged (directly or through others) into ``customer_id``."""
    found: set[str] = set()
    pending = [customer_id]
    while pending and len(found) < limit:
        profile = customers.live(pending.pop())
        for merged in (profile.merged_ids or ()) if profile is not None else ():
            if merged not in found and merged != customer_id:
                found.add(merged)
                pending.append(merged)
    return {cid for cid in found if customers.live(cid) is not None}


def _holders(customer_ids: set[str], addresses: frozenset[str] = frozenset()) -> set[str]:
    """The live profiles behind ``customer_ids``, every live profile holding one of their addresses (or
    one of ``addresses``), and the live profiles merged into any of those."""
    found = {s for s in (survivor_of(c) for c in customer_ids) if s}
    aliases = {f"email:{a.lower()}" for a in addresses}
    for cid in customer_ids | found:
        profile = customers.live(cid)
        if profile is None:
            continue
        if profile.email:
            aliases.add(f"email:{profile.email}")
        aliases |= {a for a in profile.aliases or () if a.startswith("email:")}
    for cid in identities.resolve(aliases).values():
        survivor = survivor_of(cid)
        if survivor:
            found.add(survivor)
    for survivor in list(found):
        found |= _merged_into(survivor)
    return found


def revoke_everywhere(
    customer_ids: set[str],
    channel: str,
    change_prefix: str,
    source: str,
    now: datetime,
    addresses: frozenset[str] = frozenset(),
) -> set[str]:
    """Revoke ``channel`` for the person behind ``customer_ids``: for email on every live profile holding
    the address (see the module's docstring), else on the survivor. Returns the profiles it changed.

    The targets are looked up again after the writes: a merge that ran meanwhile may have carried the old
    state over to a survivor this request had not seen; the revocation must reach it too.
    """
    changed: set[str] = set()
    done: set[str] = set()
    for _ in range(MAX_ATTEMPTS):
        if channel == "email":
            targets = _holders(customer_ids, addresses)
        else:
            targets = {s for s in (survivor_of(c) for c in customer_ids) if s}
        targets -= done
        if not targets:
            break
        for cid in sorted(targets):
            if _revoke(cid, channel, change_prefix, source, now):
                changed.add(cid)
        done |= targets
    return changed


def unsubscribe(token: str, source: str = "unsubscribe-link") -> LinkOutcome:
    """Revoke the channel for the person, on every profile holding the address (email).

    The change's event id names the link and the state it replaced, so the same link pressed again
    after a new sign-up and confirmation revokes (and records) again, while a retry of one request
    records its change once.
    """
    claims, _ = _verified(token, "unsubscribe")
    channel = claims.channel
    link_id = f"unsubscribe:{tokens.token_id(token)}"
    changed = revoke_everywhere({claims.customer_id}, channel, link_id, source, datetime.now(UTC))
    return LinkOutcome("unsubscribed" if changed else "already_unsubscribed", channel, bool(changed))


def _revoke(customer_id: str, channel: str, link_id: str, source: str, now: datetime) -> bool:
    """Revoke on one live profile; a profile merged into another gets the revoked record only (its
    interactions belong to the survivor, which records and publishes the change)."""
    merged = customers.state(customer_id).merged_into is not None
    current = customers.consent(customer_id, channel) or {}
    if current.get("status") == "revoked":
        if str(current.get("event_id", "")).startswith(link_id) and not merged:
            # This link revoked it: a retry completes what an earlier attempt may have missed.
            _commit(customer_id, str(current["event_id"]), "unsubscribe", channel, "revoked", source, now)
        return False
    replaced = hashlib.sha256(str(current.get("event_id")).encode()).hexdigest()[:12]
    event_id = f"{link_id}:{replaced}"
    record = {"status": "revoked", "at": now.isoformat(), "source": source, "event_id": event_id}
    if not customers.revoke_consent(customer_id, channel, record):
        return False
    if not merged:
        _commit(customer_id, event_id, "unsubscribe", channel, "revoked", source, now)
    return True


def carry_over(merged_id: str, survivor: str) -> list[str]:
    """Carry a merged profile's consent over to its survivor (see :func:`shared.tracking.consent.merge`);
    returns the channels whose record changed. Compare-and-set per channel, retried on a concurrent change.
    """
    changed: list[str] = []
    for channel in CONSENT_ATTRIBUTES:
        for _ in range(MAX_ATTEMPTS):
            theirs = customers.consent(merged_id, channel)
            if theirs is None:
                break
            mine = customers.consent(survivor, channel)
            result = consent.merge(mine, theirs)
            if result is None or result == mine:
                break
            if customers.replace_consent(survivor, channel, result, mine):
                now = datetime.now(UTC)
                _commit(
                    survivor,
                    f"merge:{merged_id}:{channel}:{result.get('event_id')}",
                    "consent_changed",
                    channel,
                    str(result.get("status")),
                    "merge",
                    now,
                    {"merged_from": merged_id, "from_source": str(result.get("source"))}
                    | (
                        {"wording_version": result["wording_version"]}
                        if result.get("wording_version")
                        else {}
                    ),
                )
                changed.append(channel)
                break
    return changed


def revoke_for_complaint(
    customer_id: str, feedback_id: str, now: datetime, address: str | None = None
) -> bool:
    """A complaint (the person marked an email as spam, reported by SES) revokes email consent, as an
    unsubscribe would, on every live profile holding the address; keyed on SES's feedback id, so a
    redelivered event records it once. True if it changed ``customer_id``'s record."""
    changed = revoke_everywhere(
        {customer_id},
        "email",
        f"complaint:{feedback_id}",
        "ses-complaint",
        now,
        frozenset({address}) if address else frozenset(),
    )
    return customer_id in changed
