"""Faults injected between the real handlers and moto: every event is retried or dead-lettered, none is
lost, none is counted twice.

The faults travel the real path (see infra/local/faults.py): botocore's and PynamoDB's retry policies,
the API's 503, the stream consumer's partial batch failures, the queues' redelivery and dead-letter.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from infra.local.demo import Client
from infra.local.faults import Fault
from infra.local.stack import LocalStack
from shared.dal.models import CustomerModel, DecisionModel, InteractionModel
from shared.settings import get_settings
from tests.helpers import bus_tap, daytime_zone, drain_queue, emails_to, unique

THROTTLED = {"error_code": "ProvisionedThroughputExceededException", "status": 400}


def _purchase(user: str, order_id: str, total: float = 10.0) -> dict[str, Any]:
    return {
        "userId": user,
        "event": "Order Completed",
        "properties": {"order_id": order_id, "total": total, "products": [{"product_id": "p-1"}]},
    }


def _customer(customer_id: str) -> CustomerModel:
    return CustomerModel.get(customer_id, consistent_read=True)


def _stored(customer_id: str) -> list[InteractionModel]:
    return list(InteractionModel.query(customer_id, consistent_read=True))


@pytest.fixture
def settled(stack: LocalStack) -> Iterator[LocalStack]:
    """Start and end each test with nothing pending, so a fault only meets this test's own work."""
    stack.drain()
    yield stack
    stack.drain()


def _sign_up(client: Client, email: str) -> tuple[int, Any, dict[str, str]]:
    return client.call("POST", "/v1/forms/newsletter", form={"email": email, "first_name": "Flo"})


def _confirm_link(stack: LocalStack, email: str) -> str:
    [mail] = [m for m in emails_to(stack, email) if "X-Campaign-Id" not in m]
    link = re.search(r"http://[^/]+(/v1/consent/confirm\?token=\S+)", mail["Body"])
    assert link is not None
    return link.group(1)


# -- DynamoDB ---------------------------------------------------------------------------------------------


def test_throttled_writes_are_retried_by_the_sdk_and_stored_once(settled: LocalStack, client: Client) -> None:
    user, order = unique("thr"), unique("order")
    with settled.faults.inject(Fault("dynamodb", "PutItem", times=2, match=order, **THROTTLED)) as fault:
        status, body, _ = client.call("POST", "/v1/track", _purchase(user, order))
    assert fault.hits == 2  # two throttled attempts, then the SDK's third attempt went through
    assert (status, body["stored"]) == (200, 1)
    settled.drain()
    customer = _customer(body["customer_id"])
    assert (customer.purchase_count, customer.total_spent) == (1, 10.0)


def test_throttling_that_outlasts_retries_is_a_503_and_the_clients_retry_stores_once(
    settled: LocalStack, client: Client
) -> None:
    user, order = unique("busy"), unique("order")
    with settled.faults.inject(Fault("dynamodb", "PutItem", times=1000, match=order, **THROTTLED)) as fault:
        status, body, headers = client.call("POST", "/v1/track", _purchase(user, order))
    assert fault.hits > 1
    assert status == 503
    assert "retry" in body["message"]
    assert headers["Retry-After"] == "2"
    settled.drain()
    assert list(InteractionModel.scan(InteractionModel.order_id == order)) == []  # nothing committed

    status, body, _ = client.call("POST", "/v1/track", _purchase(user, order))
    assert (status, body["stored"]) == (200, 1)
    status, body, _ = client.call("POST", "/v1/track", _purchase(user, order))
    assert (status, body["stored"], body["duplicates"]) == (200, 0, 1)
    settled.drain()
    assert len(_stored(body["customer_id"])) == 1
    assert _customer(body["customer_id"]).purchase_count == 1


def test_a_new_customer_whose_profile_write_failed_is_completed_by_the_retry(
    settled: LocalStack, client: Client
) -> None:
    """The profile is written before the aliases that lead to it, so a retry never finds aliases
    pointing at no profile (whose interactions could then never be counted). A new profile is written in
    a transaction (with the check that its id was never erased), and so is each alias with its profile."""
    user = unique("half")
    event = {"userId": user, "event": "Product Viewed", "messageId": unique("msg")}
    fault = Fault("dynamodb", "TransactWriteItems", times=1000, match=user, **THROTTLED)
    with settled.faults.inject(fault):
        assert client.call("POST", "/v1/track", event)[0] == 503
    status, body, _ = client.call("POST", "/v1/track", event)
    assert (status, body["stored"]) == (200, 1)
    settled.drain()
    customer = _customer(body["customer_id"])
    assert customer.interaction_count == 1
    assert f"user:{user}" in (customer.aliases or set())


def test_a_write_whose_answer_is_lost_is_stored_and_counted_once(settled: LocalStack, client: Client) -> None:
    """The put commits, the answer is lost, the SDK retries: the conditional put meets its own write."""
    user, order = unique("lost"), unique("order")
    fault = Fault("dynamodb", "PutItem", kind="lost_response", times=1, match=order)
    with settled.faults.inject(fault):
        status, body, _ = client.call("POST", "/v1/track", _purchase(user, order))
    assert fault.hits == 1
    assert status == 200
    settled.drain()
    assert [i.order_id for i in _stored(body["customer_id"])] == [order]
    assert _customer(body["customer_id"]).purchase_count == 1


def test_a_lost_aggregate_update_counts_once_and_still_tells_the_bus(
    settled: LocalStack, client: Client
) -> None:
    """The stream consumer's update commits but its answer is lost: the retry's condition fails (already
    counted) and the interaction's event is published all the same."""
    sqs, tap = bus_tap("InteractionTracked")
    user, order = unique("agg"), unique("order")
    status, body, _ = client.call("POST", "/v1/track", _purchase(user, order))
    assert status == 200
    customer_id = body["customer_id"]
    fault = Fault("dynamodb", "UpdateItem", kind="lost_response", times=1, match=customer_id)
    with settled.faults.inject(fault):
        settled.drain()  # the first update of this customer now is the aggregate update
    assert fault.hits == 1
    assert _customer(customer_id).purchase_count == 1
    published = [e["detail"] for e in drain_queue(sqs, tap) if e["detail"]["customer_id"] == customer_id]
    assert [e["order_id"] for e in published] == [order]


# -- EventBridge ------------------------------------------------------------------------------------------


def test_failed_put_events_entries_are_retried_and_sent_once(settled: LocalStack, client: Client) -> None:
    sqs, tap = bus_tap("InteractionTracked")
    orders = {unique("order"): unique("pe") for _ in range(6)}
    batch = [{"type": "track", **_purchase(user, order)} for order, user in orders.items()]
    assert client.call("POST", "/v1/batch", {"batch": batch})[1]["stored"] == 6
    fault = Fault("events", "PutEvents", kind="fail_entries", fail_every=2, match="InteractionTracked")
    with settled.faults.inject(fault):
        settled.drain()
    assert fault.hits == 1  # half the entries of the first call failed, the retry put them
    published = Counter(
        e["detail"]["order_id"] for e in drain_queue(sqs, tap) if e["detail"]["order_id"] in orders
    )
    assert published == Counter(set(orders))  # each order once: none lost, none twice


def test_a_bus_that_keeps_refusing_fails_the_stream_batch_which_is_redelivered(
    settled: LocalStack, client: Client
) -> None:
    """Every entry refused on every attempt: the consumer fails its batch, the stream redelivers it, the
    aggregates are not counted again and the events go out on the redelivery."""
    sqs, tap = bus_tap("InteractionTracked")
    user, order = unique("bus"), unique("order")
    status, body, _ = client.call("POST", "/v1/track", _purchase(user, order))
    assert status == 200
    fault = Fault("events", "PutEvents", kind="fail_entries", fail_every=1, times=4, match=order)
    with settled.faults.inject(fault):
        settled.drain()
    assert fault.hits == 4  # the publisher's four attempts within the first delivery
    assert _customer(body["customer_id"]).purchase_count == 1
    published = [e["detail"]["order_id"] for e in drain_queue(sqs, tap) if e["detail"]["order_id"] == order]
    assert published == [order]
    assert settled.dispatcher is not None
    assert not [d for d in settled.dispatcher.log.dead_lettered if order in json.dumps(d, default=str)]


def test_a_refused_confirmation_request_is_a_503_and_the_retry_sends_one_email(
    settled: LocalStack, client: Client
) -> None:
    email = f"{unique('bus')}@example.com"
    fault = Fault("events", "PutEvents", kind="fail_entries", fail_every=1, times=1000, match=email)
    with settled.faults.inject(fault):
        status, _, _ = _sign_up(client, email)
    assert status == 503
    settled.drain()
    assert emails_to(settled, email) == []
    status, _, _ = _sign_up(client, email)  # the browser posts the form again
    assert status in (200, 303)
    settled.drain()
    assert len(emails_to(settled, email)) == 1


# -- SES and the campaigns queue ----------------------------------------------------------------------------


def test_ses_throttling_is_retried_by_the_queue_and_sends_once(settled: LocalStack, client: Client) -> None:
    email = f"{unique('ses')}@example.com"
    _sign_up(client, email)
    # Seven throttles: the SDK's five attempts in the first delivery, two more in the redelivery.
    fault = Fault("ses", "SendRawEmail", error_code="Throttling", status=400, times=7)
    with settled.faults.inject(fault):
        settled.drain()
    assert fault.hits == 7
    assert len(emails_to(settled, email)) == 1


def test_a_rejected_email_is_dead_lettered_after_the_retry_limit(settled: LocalStack, client: Client) -> None:
    from infra.local.dispatcher import MAX_ATTEMPTS

    email = f"{unique('rej')}@example.com"
    _sign_up(client, email)
    fault = Fault("ses", "SendRawEmail", error_code="MessageRejected", status=400, times=1000)
    with settled.faults.inject(fault):
        settled.drain()
    assert fault.hits == MAX_ATTEMPTS  # not retried by the SDK; redelivered by the queue until the limit
    assert emails_to(settled, email) == []
    assert settled.resources is not None
    sqs = boto3.client("sqs", region_name=get_settings().region)
    dead = drain_queue(sqs, settled.resources.dead_letter_urls["EmailQueue"])
    assert [d["detail"]["email"] for d in dead if d["detail"].get("email") == email] == [email]


def test_a_throttled_campaign_decision_is_redelivered_and_decided_once(
    settled: LocalStack, client: Client
) -> None:
    email = f"{unique('dec')}@example.com"
    traits = {"email": email, "timezone": daytime_zone()}  # daytime there: quiet hours defer nothing
    customer_id = client.call("POST", "/v1/identify", {"userId": unique("dec"), "traits": traits})[1][
        "customer_id"
    ]
    _sign_up(client, email)
    settled.drain()
    assert client.call("POST", _confirm_link(settled, email))[0] == 200
    # PynamoDB's four attempts fail in the first delivery of the welcome trigger; the redelivery decides.
    fault = Fault("dynamodb", "PutItem", times=4, match='"welcome"', **THROTTLED)
    with settled.faults.inject(fault):
        settled.drain()
    assert fault.hits == 4
    decisions = [d for d in DecisionModel.query(customer_id) if d.campaign_id == "welcome"]
    assert [d.outcome for d in decisions] == ["sent"]  # welcome has no hold-out
    welcome = [m for m in emails_to(settled, email) if m.get("X-Campaign-Id") == "welcome"]
    assert len(welcome) == 1


def test_a_refused_campaign_message_is_republished_by_the_redelivery_and_sent_once(
    settled: LocalStack, client: Client
) -> None:
    """The decision is written, then the bus refuses its message on every attempt: the queue redelivers
    the trigger, the decision exists already, and its message is published again and sent once."""
    email = f"{unique('pub')}@example.com"
    traits = {"email": email, "timezone": daytime_zone()}
    customer_id = client.call("POST", "/v1/identify", {"userId": unique("pub"), "traits": traits})[1][
        "customer_id"
    ]
    _sign_up(client, email)
    settled.drain()
    assert client.call("POST", _confirm_link(settled, email))[0] == 200
    fault = Fault("events", "PutEvents", kind="fail_entries", fail_every=1, times=4, match=email)
    with settled.faults.inject(fault):
        settled.drain()
    assert fault.hits == 4  # every attempt of the first delivery refused
    assert [d.outcome for d in DecisionModel.query(customer_id) if d.campaign_id == "welcome"] == ["sent"]
    welcome = [m for m in emails_to(settled, email) if m.get("X-Campaign-Id") == "welcome"]
    assert len(welcome) == 1
