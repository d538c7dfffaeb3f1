"""Consent links in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright): opening
a link shows a page and changes nothing; its one button makes the change; the browser refuses nothing
the page asks of it (the form posts back to the same URL)."""

from __future__ import annotations

from typing import Any

import pytest

from infra.local.demo import Client
from infra.local.stack import LocalStack
from shared.services.tracking import unsubscribe_url
from tests.e2e.chromium import TIMEOUT_MS
from tests.helpers import unique
from tests.integration.test_consent import _confirm_link, _email_status

pytestmark = pytest.mark.browser


def test_a_person_confirms_then_unsubscribes_with_the_pages_buttons(
    stack: LocalStack, client: Client, browser: Any
) -> None:
    email = f"{unique('browser')}@example.com"
    status, body, _ = client.call(
        "POST", "/v1/forms/newsletter", form={"email": email, "consent_email": "on"}
    )
    assert status == 200, body
    customer_id = body["customer_id"]
    stack.drain()
    page = browser.new_page()
    try:
        page.goto(stack.api_url + _confirm_link(stack, email), timeout=TIMEOUT_MS)
        assert page.title() == "Confirm your subscription"
        assert _email_status(client, customer_id) == "pending"  # opening the link changed nothing
        page.get_by_role("button").click()
        page.wait_for_load_state()
        assert page.title() == "Subscription confirmed"
        assert _email_status(client, customer_id) == "granted"

        page.goto(unsubscribe_url(customer_id, base_url=stack.api_url), timeout=TIMEOUT_MS)
        assert page.title() == "Unsubscribe"
        assert _email_status(client, customer_id) == "granted"
        page.get_by_role("button", name="Unsubscribe").click()
        page.wait_for_load_state()
        assert page.title() == "You are unsubscribed"
        assert _email_status(client, customer_id) == "revoked"
    finally:
        page.close()
