"""The console in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright), signed in as each
role through the sign-in page, walking every page and saving a screenshot of each to artifacts/console-*.

Data: CDNOW orders of a few customers, one person who signed up through the newsletter form and confirmed
by the emailed link (a consent timeline with sources and wording version), a scoring run and its export,
and a campaign decision. ``marketing`` sees customers, segments and campaigns but no GDPR or switch
controls (and the API refuses those calls even when made from the page's own session); ``admin`` downloads
everything held on the person, erases them behind a typed confirmation, and switches a campaign off and on.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from infra.local.demo import Client
from infra.local.dispatcher import load_handler
from infra.local.lambda_context import LocalContext
from infra.local.stack import LocalStack
from tests.e2e.chromium import ARTIFACTS
from tests.e2e.console_pages import TIMEOUT_MS, open_view, sign_in
from tests.helpers import post_batches, prefixed_orders

pytestmark = pytest.mark.browser

AS_OF = "1998-06-30"


@pytest.fixture(scope="module")
def world(stack: LocalStack, client: Client) -> dict[str, Any]:
    prefix = f"cons-{uuid.uuid4().hex[:6]}"
    calls = prefixed_orders(prefix, 40)
    post_batches(client, calls)
    # One buyer also signs up to the newsletter and confirms by the emailed link.
    buyer = calls[0]["userId"]
    email = f"{buyer}@example.com"
    status, body, _ = client.call("POST", "/v1/identify", {"userId": buyer, "traits": {"email": email}})
    assert status == 200, body
    status, body, _ = client.call("POST", "/v1/forms/newsletter", form={"email": email})
    assert status in (200, 303), body
    stack.drain()
    links = [
        found.group(1)
        for mail in stack.sent_emails()
        if email in mail.get("To", "")
        for found in [re.search(r"http://[^/]+(/v1/consent/confirm\?token=\S+)", mail["Body"])]
        if found
    ]
    assert links, "no confirmation email"
    status, _, _ = client.call("POST", links[-1])
    assert status in (200, 303)
    stack.drain()
    status, run, _ = client.call("POST", "/v1/scoring/runs", {"as_of": AS_OF, "segments": 2}, private=True)
    assert status == 202, run
    assert run["status"] == "succeeded", run
    exported = load_handler("export")(
        {"trigger": "scoring_run", "run_id": run["run_id"]}, LocalContext("export")
    )
    assert exported["status"] == "succeeded", exported
    stack.drain()
    status, found, _ = client.call("GET", f"/v1/customers?email={email}", private=True)
    assert status == 200, found
    return {"run": run, "email": email, "customer_id": found["customer_id"], "user_id": buyer}


def _context(browser: Any) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    return context, page, problems


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=True)


def _api_from_page(page: Any, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """A call made with the page's own session (its ID token), as a curious user could from the devtools."""
    result: dict[str, Any] = page.evaluate(
        """async ([method, path, body]) => {
            const token = sessionStorage.getItem("rm-console-id-token");
            const init = { method, headers: { Authorization: `Bearer ${token}` } };
            if (body !== null) {
                init.headers["Content-Type"] = "application/json";
                init.body = JSON.stringify(body);
            }
            const response = await fetch(path, init);
            return { status: response.status, body: await response.json() };
        }""",
        [method, path, body],
    )
    return result


def _walk_customer(page: Any, world: dict[str, Any], role: str) -> None:
    open_view(page, "#/customers")
    page.fill("#search-value", world["email"])
    page.click("#search-button")
    page.wait_for_selector(
        f"#profile[data-customer-id='{world['customer_id']}']:not([hidden])", timeout=TIMEOUT_MS
    )
    page.wait_for_selector("#app[data-state='ready']", timeout=TIMEOUT_MS)
    timeline = page.get_by_test_id("consent-timeline").inner_text()
    assert "granted" in timeline
    assert "newsletter-v1" in timeline  # the wording version the person agreed to
    assert "confirmation-link" in timeline  # the source of the grant
    assert "Order Completed" in page.get_by_test_id("interactions").inner_text()
    scores = page.get_by_test_id("scores").inner_text()
    assert world["run"]["run_id"] in scores
    # Scores over runs: the chart (inline SVG, a point per run with a CLV) and each run's row.
    dots = page.locator("[data-testid='score-history'] svg circle.dot.clv")
    assert dots.count() >= 1
    assert world["run"]["run_id"] in (dots.last.get_attribute("data-run") or "")
    newest = page.locator("[data-testid='score-history-runs'] tbody tr").first
    assert newest.get_attribute("data-run") == world["run"]["run_id"]
    assert page.get_by_test_id("suppression").inner_text() == "Not suppressed"
    assert page.get_by_test_id("decisions").count() == 1
    _shot(page, f"{role}-customer")


def _walk_segment(page: Any, role: str) -> None:
    open_view(page, "#/segments")
    first = page.locator("[data-testid^='segment-link-']").first
    slug = (first.get_attribute("data-testid") or "").removeprefix("segment-link-")
    open_view(page, f"#/segments/{slug}")
    bars = page.locator("[data-testid='segment-chart'] rect.col")
    assert bars.count() >= 1
    assert page.locator("[data-testid='segment-sample'] tbody tr").count() >= 1
    page.click("#segment-export")
    page.wait_for_selector("[data-testid='segment-download']", timeout=TIMEOUT_MS)
    href = page.get_by_test_id("segment-download").get_attribute("href") or ""
    response = page.request.get(href)
    assert response.status == 200
    assert response.body().startswith(b"customer_id,")
    _shot(page, f"{role}-segment")


def _walk_campaign(page: Any, client: Client, role: str) -> str:
    open_view(page, "#/campaigns")
    status, listing, _ = client.call("GET", "/v1/campaigns", private=True)
    assert status == 200
    campaign = listing["campaigns"][0]
    open_view(page, f"#/campaigns/{campaign['id']}")
    assert campaign["name"] in page.get_by_test_id("campaign-title").inner_text()
    assert page.locator("[data-testid='reasons-chart'] svg").count() == 1
    assert "treatment" in page.get_by_test_id("campaign-groups").inner_text()
    _shot(page, f"{role}-campaign")
    return str(campaign["id"])


def test_marketing_walks_every_page_without_admin_powers(
    browser: Any, stack: LocalStack, client: Client, world: dict[str, Any]
) -> None:
    context, page, problems = _context(browser)
    try:
        sign_in(page, stack, "marketing@example.com")
        assert page.get_by_test_id("roles").inner_text() == "marketing"
        assert page.get_by_test_id("run-id").inner_text() == world["run"]["run_id"]
        _shot(page, "marketing-overview")
        _walk_customer(page, world, "marketing")
        assert page.get_by_test_id("gdpr").is_hidden()
        _walk_segment(page, "marketing")
        campaign = _walk_campaign(page, client, "marketing")
        assert page.get_by_test_id("campaign-switch").is_hidden()
        # The page hides these controls; the API refuses them anyway.
        erase = _api_from_page(page, "DELETE", f"/v1/customers/{world['customer_id']}")
        assert erase["status"] == 403, erase
        assert erase["body"]["code"] == "forbidden"
        switch = _api_from_page(page, "PATCH", f"/v1/campaigns/{campaign}", {"enabled": False})
        assert switch["status"] == 403, switch
        gdpr = _api_from_page(page, "GET", f"/v1/customers/{world['customer_id']}/export")
        assert gdpr["status"] == 403, gdpr
        run = _api_from_page(page, "POST", "/v1/scoring/runs", {"as_of": AS_OF})
        assert run["status"] == 403, run
        assert [p for p in problems if "403" not in p] == []
    finally:
        context.close()


def test_admin_switches_a_campaign_exports_and_erases_a_person(
    browser: Any, stack: LocalStack, client: Client, world: dict[str, Any]
) -> None:
    context, page, problems = _context(browser)
    try:
        sign_in(page, stack, "admin@example.com")
        assert page.get_by_test_id("roles").inner_text() == "admin, marketing"
        _shot(page, "admin-overview")
        _walk_segment(page, "admin")

        campaign = _walk_campaign(page, client, "admin")
        before = page.get_by_test_id("campaign-state").get_attribute("data-enabled")
        page.click("#campaign-switch")
        page.wait_for_function(
            "(b) => document.getElementById('campaign-state').dataset.enabled !== b",
            arg=before,
            timeout=TIMEOUT_MS,
        )
        status, listing, _ = client.call("GET", "/v1/campaigns", private=True)
        assert status == 200
        assert str(next(c for c in listing["campaigns"] if c["id"] == campaign)["enabled"]).lower() != before
        page.click("#campaign-switch")  # and back
        page.wait_for_function(
            "(b) => document.getElementById('campaign-state').dataset.enabled === b",
            arg=before,
            timeout=TIMEOUT_MS,
        )

        _walk_customer(page, world, "admin")
        assert page.get_by_test_id("gdpr").is_visible()
        with page.expect_download() as download:
            page.click("#gdpr-export")
        held = json.loads(Path(download.value.path()).read_text())
        assert held["customer_id"] == world["customer_id"]
        assert held["interactions"]
        # Erasure needs the customer id typed: a wrong one erases nothing.
        page.click("#gdpr-erase")
        page.fill("#erase-typed", "someone-else")
        page.click("#erase-now")
        page.wait_for_selector("#status.error", timeout=TIMEOUT_MS)
        status, _, _ = client.call("GET", f"/v1/customers/{world['customer_id']}", private=True)
        assert status == 200
        _shot(page, "admin-erase-confirmation")
        page.fill("#erase-typed", world["customer_id"])
        page.click("#erase-now")
        page.wait_for_selector(f"#app[data-erased='{world['customer_id']}']", timeout=TIMEOUT_MS)
        status, _, _ = client.call("GET", f"/v1/customers/{world['customer_id']}", private=True)
        assert status == 404
        status, _, _ = client.call("GET", f"/v1/customers?email={world['email']}", private=True)
        assert status == 404
        assert problems == []
    finally:
        context.close()


def test_signing_out_returns_to_the_sign_in_only(
    browser: Any, stack: LocalStack, world: dict[str, Any]
) -> None:
    context, page, problems = _context(browser)
    try:
        sign_in(page, stack, "marketing@example.com")
        page.click("#signout")
        page.wait_for_selector("#signin:not([hidden])", timeout=TIMEOUT_MS)
        assert page.locator("#app").is_hidden()
        assert page.evaluate("sessionStorage.getItem('rm-console-id-token')") is None
        _shot(page, "anonymous")
        assert problems == []
    finally:
        context.close()
