"""The prospect journey's funnel on the console's campaign page, in headless Chromium (Debian's
/usr/bin/chromium driven by Playwright), signed in as marketing: drawn from the report the API returns,
with no library and nothing from another origin (the console's strict CSP would refuse it)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from infra.local.demo import Client
from infra.local.stack import LocalStack
from shared.services import campaigns
from tests.e2e.chromium import ARTIFACTS
from tests.e2e.console_pages import open_view, sign_in
from tests.e2e.test_journeys import JOURNEY, confirmed_prospect

pytestmark = pytest.mark.browser


def test_the_campaign_page_draws_the_journey_funnel(browser: Any, stack: LocalStack, client: Client) -> None:
    customer_id, _, due = confirmed_prospect(stack, client)
    assert campaigns.sweep_due(due + timedelta(minutes=5), only={customer_id})["journey_sent"] == 1
    stack.drain()
    report = client.call("GET", f"/v1/campaigns/{JOURNEY}/report", private=True)[1]

    context = browser.new_context(viewport={"width": 1280, "height": 1200})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        sign_in(page, stack, "marketing@example.com")
        open_view(page, f"#/campaigns/{JOURNEY}")
        funnel = page.get_by_test_id("journey-funnel")
        assert funnel.is_visible()
        summary = page.get_by_test_id("journey-summary").inner_text()
        assert f"{report['funnel']['entered']} entered" in summary
        rows = page.locator("[data-testid='journey-steps'] tr[data-step]")
        assert rows.count() == len(report["funnel"]["steps"])
        guide = page.locator("[data-testid='journey-steps'] tr[data-step='guide'] td").all_inner_texts()
        step = next(s for s in report["funnel"]["steps"] if s["id"] == "guide")
        assert guide[:5] == [
            "guide",
            "send",
            str(step["reached"]),
            str(step["at"]),
            str(step["sent"] + step["queued"]),
        ]
        assert page.locator("[data-testid='journey-funnel-chart'] svg rect").count() >= len(
            report["funnel"]["steps"]
        )
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "console-journey.png"), full_page=True)
        # A single campaign's page shows no funnel.
        open_view(page, "#/campaigns/win-back")
        assert page.get_by_test_id("journey-funnel").is_hidden()
        assert problems == []
    finally:
        context.close()
