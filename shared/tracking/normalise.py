"""Turn validated inbound calls into interactions: ids, kinds, times, profile traits, consent requests."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from shared.events import Channel
from shared.tracking.engagement import InteractionKind
from shared.tracking.forms import FormDefinition
from shared.tracking.identity import Identifiers, InvalidEmailError, normalise_email
from shared.tracking.payloads import (
    ORDER_COMPLETED,
    AliasCall,
    AnyCall,
    FormSubmission,
    GroupCall,
    IdentifyCall,
    PageCall,
    ScreenCall,
)

# Track event names with a meaning of their own (Segment's semantic events); others are "track".
_KIND_OF_EVENT: Final[dict[str, InteractionKind]] = {
    ORDER_COMPLETED: "purchase",
    "Email Link Clicked": "email_click",
    "Email Clicked": "email_click",
    "Signed Up": "signup",
    "Unsubscribed": "unsubscribe",
}
# Tolerated client clock skew before a future timestamp is clamped to the time of receipt.
FUTURE_TOLERANCE: Final = timedelta(minutes=5)

PROFILE_FIELDS: Final = ("email", "first_name", "last_name", "phone", "company", "job_title", "timezone")
_TRAIT_ALIASES: Final[dict[str, str]] = {
    "email": "email",
    "firstName": "first_name",
    "first_name": "first_name",
    "lastName": "last_name",
    "last_name": "last_name",
    "phone": "phone",
    "company": "company",
    "title": "job_title",
    "jobTitle": "job_title",
    "job_title": "job_title",
    "timezone": "timezone",
}


@dataclass(frozen=True)
class ConsentRequest:
    channel: Channel
    status: str  # "pending" (double opt-in), "granted" or "revoked"
    source: str
    wording_version: str | None = None


@dataclass(frozen=True)
class Interaction:
    """One interaction, ready to be stored (the customer id is resolved by the tracking service)."""

    event_id: str
    kind: InteractionKind
    occurred_at: datetime
    received_at: datetime
    identifiers: Identifiers
    source: str
    name: str | None = None
    properties: dict[str, Any] | None = None
    profile: dict[str, str] = field(default_factory=dict)
    extra_traits: dict[str, Any] = field(default_factory=dict)
    consent: tuple[ConsentRequest, ...] = ()
    amount: float | None = None
    currency: str | None = None
    order_id: str | None = None
    product_ids: tuple[str, ...] = ()


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:32]


def effective_time(timestamp: datetime | None, sent_at: datetime | None, received_at: datetime) -> datetime:
    """The documented timestamp rule: skew-correct with sentAt, then clamp future times to receipt."""
    if timestamp is None:
        return received_at
    if sent_at is not None and sent_at > received_at + FUTURE_TOLERANCE:
        timestamp = timestamp - (sent_at - received_at)
    return min(timestamp, received_at) if timestamp > received_at + FUTURE_TOLERANCE else timestamp


def _profile_from_traits(traits: dict[str, Any] | None) -> tuple[dict[str, str], dict[str, Any]]:
    profile: dict[str, str] = {}
    extra: dict[str, Any] = {}
    for key, value in (traits or {}).items():
        target = _TRAIT_ALIASES.get(key)
        if target == "company" and isinstance(value, dict):
            value = value.get("name")
        if target and isinstance(value, str | int | float) and str(value).strip():
            profile[target] = str(value).strip()[:254]
        elif not target:
            extra[key] = value
    if "email" in profile:
        profile["email"] = normalise_email(profile["email"])
    return profile, extra


def _traits_of(call: AnyCall) -> dict[str, Any] | None:
    """``context.traits`` count as traits on every call (RudderStack's SDK sends identify traits there
    only); an identify call's own ``traits`` win over them."""
    context_traits = call.context.get("traits") if call.context else None
    traits = dict(context_traits) if isinstance(context_traits, dict) else None
    if isinstance(call, IdentifyCall) and call.traits:
        traits = {**(traits or {}), **call.traits}
    return traits


def _group_traits(call: GroupCall) -> dict[str, Any]:
    """A group's traits on the person: its name is the company, the rest are ``company_<trait>``."""
    traits: dict[str, Any] = {"group_id": call.group_id}
    for key, value in (call.traits or {}).items():
        if key == "name":
            traits["company"] = value
        else:
            traits[key if key.startswith("company_") else f"company_{key}"] = value
    return traits


def from_segment_call(call: AnyCall, source: str, received_at: datetime) -> Interaction:
    """Normalise one Segment call. Raises InvalidEmailError (a 422) for a malformed ``traits.email``."""
    occurred_at = effective_time(call.timestamp, call.sent_at, received_at)
    traits = _traits_of(call)
    if isinstance(call, GroupCall):
        traits = {**(traits or {}), **_group_traits(call)}
    try:
        profile, extra = _profile_from_traits(traits)
    except InvalidEmailError as exc:
        raise InvalidEmailError(f"traits.email: {exc}") from None
    if call.context and isinstance(call.context.get("timezone"), str):
        profile.setdefault("timezone", call.context["timezone"][:64])
    identifiers = Identifiers(
        user_id=call.user_id,
        # alias: the previous id is linked to the user id, as an anonymous id is by identify
        anonymous_id=call.previous_id if isinstance(call, AliasCall) else call.anonymous_id,
        email=profile.get("email"),
    )
    message_key = call.message_id or _digest(call.model_dump(mode="json", exclude={"sent_at"}))
    common: dict[str, Any] = {
        "occurred_at": occurred_at,
        "received_at": received_at,
        "identifiers": identifiers,
        "source": source,
        "profile": profile,
        "extra_traits": extra,
    }
    if isinstance(call, IdentifyCall | GroupCall | AliasCall):
        name = None if isinstance(call, IdentifyCall) else call.type
        return Interaction(event_id=f"msg:{message_key}", kind="identify", name=name, **common)
    if isinstance(call, PageCall | ScreenCall):
        return Interaction(
            event_id=f"msg:{message_key}",
            kind="page_view",
            name=call.name if isinstance(call, PageCall) else f"screen:{call.name or ''}",
            properties=call.properties,
            **common,
        )
    kind = _KIND_OF_EVENT.get(call.event, "track")
    if kind == "purchase":
        order = call.order
        return Interaction(
            # The order id, not the message id, identifies a purchase: the same order sent twice counts once.
            event_id=f"order:{order.order_id}",
            kind=kind,
            name=call.event,
            properties=call.properties,
            amount=round(order.amount, 2),
            currency=order.currency,
            order_id=order.order_id,
            product_ids=tuple(p.key for p in order.products if p.key),
            **common,
        )
    consent: tuple[ConsentRequest, ...] = ()
    if kind == "unsubscribe":
        consent = (ConsentRequest(channel="email", status="revoked", source=f"segment:{source}"),)
    return Interaction(
        event_id=f"msg:{message_key}",
        kind=kind,
        name=call.event,
        properties=call.properties,
        consent=consent,
        **common,
    )


def from_form(
    form_id: str, form: FormDefinition, submission: FormSubmission, received_at: datetime
) -> Interaction:
    """Normalise a form post. Raises InvalidEmailError (a 422) for a malformed email."""
    # The email library's header classes come with it: form posts only (cold start of the tracking API).
    from shared.messaging.mime import single_line

    email = normalise_email(submission.email)
    profile = {"email": email}
    for name in ("first_name", "last_name", "phone", "company", "job_title"):
        # One line each: a name goes into email subjects and greetings (CR/LF would add lines).
        # A field the form does not show is not taken (the form's definition says what it asks for).
        value = single_line(getattr(submission, name) or "") if form.takes_field(name) else ""
        if value:
            profile[name] = value
    channels: set[Channel] = set(form.consent_channels_default)
    for channel in ("email", "sms", "phone", "post"):
        # Only a checkbox the form shows counts: its wording is what the person agreed to.
        if getattr(submission, f"consent_{channel}") and form.takes_consent(channel):
            channels.add(channel)
    consent = tuple(
        ConsentRequest(
            channel=channel,
            status="pending" if (form.double_opt_in and channel == "email") else "granted",
            source=f"form:{form_id}",
            wording_version=form.wording_version(channel),
        )
        for channel in sorted(channels)
    )
    fields = submission.model_dump(exclude={"website", "redirect", "anonymous_id"}, exclude_none=True)
    fields = {k: v for k, v in fields.items() if k.startswith("consent_") or form.takes_field(k)}
    # A form post has no message id: the same submission within the same minute is one interaction.
    event_id = f"form:{_digest(form_id, fields, received_at.replace(second=0, microsecond=0).isoformat())}"
    properties: dict[str, Any] = {"form_id": form_id}
    if submission.message and form.takes_field("message"):
        properties["message"] = submission.message
    return Interaction(
        event_id=event_id,
        kind=form.kind,
        name=f"form:{form_id}",
        occurred_at=received_at,
        received_at=received_at,
        identifiers=Identifiers(email=email, anonymous_id=submission.anonymous_id),
        source=f"form:{form_id}",
        properties=properties,
        profile=profile,
        consent=consent,
    )
