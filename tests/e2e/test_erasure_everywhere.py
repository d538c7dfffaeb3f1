"""GDPR erasure, proven everywhere: after ``DELETE /v1/customers/{id}`` no table, later export, later
campaign or later email holds or reaches the person, even with work still in flight when it arrives
(stream records not yet delivered, a campaign email queued, a bus event queued, a scoring run applying,
a campaign deciding).

Every table is enumerated from :data:`shared.dal.models.ALL_MODELS` (through ``table_specs()``) and scanned
raw, so a table added later is searched too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from infra.local.demo import Client
from infra.local.stack import LocalStack
from shared.dal import customers as customers_dal
from shared.dal import scores as scores_dal
from shared.dal.bus import publish
from shared.dal.exports import get_object
from shared.dal.models import ALL_MODELS, DecisionModel, IdentityModel, InteractionModel, table_specs
from shared.events import InteractionTracked, SegmentChanged
from shared.services import campaigns, exports, scoring, segments
from shared.services import customers as customer_service
from shared.services.tracking import unsubscribe_url
from shared.settings import get_settings
from tests.helpers import daytime_zone, emails_to, unique

AS_OF = "1998-06-30"  # the date the other scoring tests use: a run here moves nobody else's recency


@dataclass(frozen=True)
class Person:
    customer_id: str
    user_id: str
    email: str
    anonymous_id: str | None = None
    merged_id: str | None = None  # the anonymous profile merged into the customer

    @property
    def needles(self) -> set[str]:
        """Every string that identifies the person: ids, aliases (their values) and the address."""
        values = {self.customer_id, self.user_id, self.email, self.anonymous_id, self.merged_id}
        return {v for v in values if v}


# --- helpers -----------------------------------------------------------------------------------------


def _scan_raw(table_name: str) -> Iterator[dict[str, Any]]:
    client = boto3.client("dynamodb", region_name=get_settings().region)
    for page in client.get_paginator("scan").paginate(TableName=table_name, ConsistentRead=True):
        yield from page["Items"]


def _holdings(needles: set[str]) -> list[tuple[str, str]]:
    """(table, item text) of every item, in every table of the models module, mentioning a needle."""
    specs = table_specs()
    assert {s.table_name for s in specs} == {m.Meta.table_name for m in ALL_MODELS}
    found: list[tuple[str, str]] = []
    for spec in specs:
        for item in _scan_raw(spec.table_name):
            text = json.dumps(item, default=str, ensure_ascii=False)
            if any(needle in text for needle in needles):
                found.append((spec.logical_name, text[:300]))
    return found


def _idempotency_payloads() -> list[dict[str, Any]]:
    """The stored return values of the email channel's idempotency records."""
    return [
        json.loads(item["data"]["S"])
        for item in _scan_raw(get_settings().idempotency_table)
        if "data" in item and "S" in item["data"]
    ]


def _subscribe(stack: LocalStack, client: Client, person: Person) -> str:
    """Sign up to the newsletter (double opt-in) and click the confirmation link; returns the link.

    The click stores the consent_granted interaction; its stream record is left undelivered."""
    status, body, _ = client.call(
        "POST", "/v1/forms/newsletter", form={"email": person.email, "first_name": "Erin"}
    )
    assert status in (200, 201, 202, 303), body
    stack.drain()
    [confirmation] = emails_to(stack, person.email)
    link = re.search(r"http://[^/]+(/v1/consent/confirm\?token=\S+)", confirmation["Body"])
    assert link is not None
    assert client.call("POST", link.group(1))[0] == 200  # the confirmation page's button
    return link.group(1)


def _queue_welcome(customer_id: str) -> None:
    """What the campaigns function does with the consent_granted interaction's bus event: decide the
    welcome campaign and put a CampaignTriggered email on the bus (it waits in the email queue)."""
    [granted] = [i for i in InteractionModel.query(customer_id) if i.kind == "consent_granted"]
    event = InteractionTracked(
        customer_id=customer_id,
        event_id=granted.event_id,
        kind=granted.kind,
        name=granted.name,
        occurred_at=granted.occurred_at,
    )
    decisions = campaigns.handle_event(event)
    assert [(d.campaign_id, d.outcome) for d in decisions] == [("welcome", "sent")]


def _export_texts(export_id: str) -> dict[str, str]:
    view = segments.view(export_id)
    assert view["status"] == "succeeded", view
    return {f["key"]: get_object(f["key"]).decode("utf-8") for f in view["manifest"]["files"]}


def _files_mentioning(texts: dict[str, str], needles: set[str]) -> list[str]:
    return [key for key, text in texts.items() if any(n in text for n in needles)]


def _order(person: Person, number: int, day: str, anonymous: bool = False) -> dict[str, Any]:
    call: dict[str, Any] = {
        "userId": person.user_id,
        "event": "Order Completed",
        "timestamp": f"{day}T12:00:00+00:00",
        "properties": {
            "order_id": f"{person.user_id}-o{number}",
            "total": 20 + number,
            "products": [{"product_id": f"sku-{number % 2}"}],
        },
    }
    if anonymous and person.anonymous_id:
        call["anonymousId"] = person.anonymous_id
    return call


def _new_person(client: Client, with_anonymous_history: bool = False) -> Person:
    user_id = unique("erase")
    email = f"{user_id}@example.com"
    anonymous_id = unique("anon") if with_anonymous_history else None
    merged_id = None
    if anonymous_id:
        status, body, _ = client.call("POST", "/v1/page", {"anonymousId": anonymous_id, "name": "Home"})
        assert status == 200, body
        merged_id = body["customer_id"]
    traits = {"email": email, "firstName": "Erin", "timezone": daytime_zone()}
    status, body, _ = client.call("POST", "/v1/identify", {"userId": user_id, "traits": traits})
    assert status == 200, body
    return Person(body["customer_id"], user_id, email, anonymous_id, merged_id)


# --- the whole story ---------------------------------------------------------------------------------


def test_erasure_reaches_every_table_export_campaign_and_email(
    stack: LocalStack, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = _new_person(client, with_anonymous_history=True)
    # Purchases; the first one names the anonymous id too, which merges the anonymous profile.
    for number, day in enumerate(("1998-02-10", "1998-04-05", "1998-06-01")):
        status, body, _ = client.call("POST", "/v1/track", _order(person, number, day, anonymous=number == 0))
        assert status == 200, body
        assert body["customer_id"] == person.customer_id
    confirm_link = _subscribe(stack, client, person)  # drains: aggregates, confirmation email
    anonymous_profile = customers_dal.get(person.merged_id or "")
    assert anonymous_profile is not None
    assert anonymous_profile.merged_into == person.customer_id

    # Scores from a scoring run, and campaign decisions (the run's SegmentChanged, the purchases).
    status, run, _ = client.call("POST", "/v1/scoring/runs", {"as_of": AS_OF, "segments": 1}, private=True)
    assert (status, run["status"]) == (202, "succeeded"), run
    assert scores_dal.get(person.customer_id) is not None
    earlier_export = exports.export_id_for_run(run["run_id"])
    assert _files_mentioning(_export_texts(earlier_export), {person.customer_id})  # it was exported then

    # --- work in flight when the erasure arrives --------------------------------------------------
    _queue_welcome(person.customer_id)  # a decided campaign email, queued, not delivered
    assert {d.campaign_id for d in DecisionModel.query(person.customer_id)} >= {"welcome"}
    for number, day in ((3, "1998-06-20"), (4, "1998-06-25")):  # stream records not delivered yet
        assert client.call("POST", "/v1/track", _order(person, number, day))[0] == 200
    page = {"anonymousId": person.anonymous_id, "name": "Pricing"}
    assert client.call("POST", "/v1/page", page)[0] == 200
    publish(  # a bus event for the campaigns function, still in its queue
        [
            SegmentChanged(
                customer_id=person.customer_id,
                run_id="in-flight",
                previous_segment=None,
                segment="Champions",
                recency_score=5,
                frequency_score=5,
                monetary_score=5,
            )
        ]
    )
    # A scoring run that started before the erasure: fitted, then applying when the DELETE arrives
    # (between its scan of the customers and its write of the scores).
    racing = scoring.start(datetime.fromisoformat(AS_OF).date(), total_segments=1)["run_id"]
    scoring.summarise_segment(racing, 0, 1)
    scoring.fit_models(racing)
    emails_before = len(emails_to(stack, person.email))
    assert emails_before == 1  # the confirmation
    dead_letters_before = len(stack.dispatcher.log.dead_lettered)  # type: ignore[union-attr]
    erased: list[dict[str, Any]] = []
    real_batch_get = scores_dal.batch_get

    def erase_then_batch_get(ids: list[str]) -> dict[str, Any]:
        if not erased:
            status, body, _ = client.call("DELETE", f"/v1/customers/{person.customer_id}", private=True)
            assert status == 200, body
            erased.append(body)
        return real_batch_get(ids)

    monkeypatch.setattr(scores_dal, "batch_get", erase_then_batch_get)
    scoring.apply_segment(racing, 0, 1)
    monkeypatch.setattr(scores_dal, "batch_get", real_batch_get)
    assert len(erased) == 1
    assert erased[0]["erased"]["profiles"] == 2  # the customer and the merged anonymous one
    assert scores_dal.get(person.customer_id) is None  # the run's late score write did not stay

    # --- everything in flight is delivered; later runs, exports and sweeps ---------------------------
    stack.drain()
    scoring.finish(racing)
    racing_export = exports.export_scoring_run(racing)["export_id"]
    status, later, _ = client.call("POST", "/v1/scoring/runs", {"as_of": AS_OF, "segments": 1}, private=True)
    assert (status, later["status"]) == (202, "succeeded"), later
    status, prospects, _ = client.call("POST", "/v1/segments/prospects/exports", private=True)
    assert status == 202, prospects
    # The daily sweep, today and a year on (deferred decisions due, inactivity, anniversaries); only for
    # the person's ids: a sweep over everyone would trigger campaigns for other tests' customers.
    ids = {person.customer_id, anonymous_profile.customer_id}
    now = datetime.now(UTC)
    assert campaigns.sweep(now, only=ids) == {}
    assert campaigns.sweep(now + timedelta(days=366), only=ids) == {}
    stack.drain()

    # --- nothing holds or reaches the person ---------------------------------------------------------
    assert client.call("GET", f"/v1/customers/{person.customer_id}", private=True)[0] == 404
    assert _holdings(person.needles) == []
    for export_id in (racing_export, exports.export_id_for_run(later["run_id"]), prospects["export_id"]):
        assert _files_mentioning(_export_texts(export_id), person.needles) == []
    assert len(emails_to(stack, person.email)) == emails_before  # nothing sent after the erasure
    new_dead = stack.dispatcher.log.dead_lettered[dead_letters_before:]  # type: ignore[union-attr]
    assert not [d for d in new_dead if any(n in json.dumps(d, default=str) for n in person.needles)]
    # The email channel's idempotency records keep no personal data (no message id, no address; a
    # failure's reason names the error, never the address).
    assert all(set(payload) <= {"sent", "skipped", "failed"} for payload in _idempotency_payloads())
    # The links the person was sent no longer work.
    assert client.call("GET", confirm_link)[0] == 400
    assert client.call("POST", _path(unsubscribe_url(person.customer_id)))[0] == 400


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


# --- focused races -----------------------------------------------------------------------------------


def test_a_campaign_deciding_while_the_person_is_erased_records_and_sends_nothing(
    stack: LocalStack, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The campaigns function read the profile, then the erasure ran, then it recorded its decision."""
    person = _new_person(client)
    _subscribe(stack, client, person)
    real_decide = campaigns.decide

    def erase_then_decide(*args: Any, **kwargs: Any) -> Any:
        customer_service.erase(person.customer_id)
        return real_decide(*args, **kwargs)

    monkeypatch.setattr(campaigns, "decide", erase_then_decide)
    [granted] = [i for i in InteractionModel.query(person.customer_id) if i.kind == "consent_granted"]
    made = campaigns.handle_event(
        InteractionTracked(
            customer_id=person.customer_id,
            event_id=granted.event_id,
            kind=granted.kind,
            occurred_at=granted.occurred_at,
        )
    )
    monkeypatch.setattr(campaigns, "decide", real_decide)
    assert made == []  # nobody left to decide for
    stack.drain()
    assert list(DecisionModel.query(person.customer_id)) == []
    assert _holdings(person.needles) == []
    assert len(emails_to(stack, person.email)) == 1  # the confirmation only


@pytest.mark.parametrize("withdrawal", ["unsubscribe", "erasure"])
def test_a_queued_campaign_email_is_not_sent_after_consent_or_the_person_is_gone(
    stack: LocalStack, client: Client, withdrawal: str
) -> None:
    person = _new_person(client)
    _subscribe(stack, client, person)
    _queue_welcome(person.customer_id)
    if withdrawal == "unsubscribe":
        assert client.call("POST", _path(unsubscribe_url(person.customer_id)))[0] == 200
    else:
        assert client.call("DELETE", f"/v1/customers/{person.customer_id}", private=True)[0] == 200
    before = len(stack.dispatcher.log.dead_lettered)  # type: ignore[union-attr]
    skipped_before = _count(_idempotency_payloads(), lambda p: p.get("skipped") is not None)
    stack.drain()
    assert [m["Subject"] for m in emails_to(stack, person.email)] == ["Please confirm your subscription"]
    # Skipped, recorded once as such, not retried.
    assert len(stack.dispatcher.log.dead_lettered) == before  # type: ignore[union-attr]
    assert _count(_idempotency_payloads(), lambda p: p.get("skipped") is not None) == skipped_before + 1
    if withdrawal == "erasure":
        assert _holdings(person.needles) == []


def _count(payloads: list[dict[str, Any]], predicate: Callable[[dict[str, Any]], bool]) -> int:
    return sum(1 for p in payloads if predicate(p))


def test_identities_of_an_erased_person_are_gone(client: Client, stack: LocalStack) -> None:
    """The aliases (user, email, anonymous) no longer resolve: the next visit is a new person."""
    person = _new_person(client, with_anonymous_history=True)
    assert client.call("POST", "/v1/track", _order(person, 0, "1998-05-05", anonymous=True))[0] == 200
    stack.drain()
    assert client.call("DELETE", f"/v1/customers/{person.customer_id}", private=True)[0] == 200
    stack.drain()
    for alias in (f"user:{person.user_id}", f"email:{person.email}", f"anon:{person.anonymous_id}"):
        assert IdentityModel.count(alias) == 0
    assert _holdings(person.needles) == []
