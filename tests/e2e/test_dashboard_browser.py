"""The marketing dashboard in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright):
after a scoring run and its export, the page shows the RFM heat map, segments with download links that
work, the funnel and campaign results, for a user signed in through the console's sign-in. Saves a
screenshot to artifacts/dashboard.png."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from infra.local.demo import Client
from infra.local.dispatcher import load_handler
from infra.local.lambda_context import LocalContext
from infra.local.stack import LocalStack
from tests.e2e.chromium import ARTIFACTS, TIMEOUT_MS
from tests.e2e.console_pages import sign_in
from tests.helpers import post_batches, prefixed_orders

pytestmark = pytest.mark.browser

AS_OF = "1998-06-30"


@pytest.fixture(scope="module")
def scored_and_exported(stack: LocalStack, client: Client) -> dict[str, Any]:
    prefix = f"dash-{uuid.uuid4().hex[:6]}"
    calls = prefixed_orders(prefix, 60)
    post_batches(client, calls)
    stack.drain()
    status, run, _ = client.call("POST", "/v1/scoring/runs", {"as_of": AS_OF, "segments": 2}, private=True)
    assert status == 202, run
    assert run["status"] == "succeeded", run
    exported = load_handler("export")(
        {"trigger": "scoring_run", "run_id": run["run_id"]}, LocalContext("export")
    )
    assert exported["status"] == "succeeded", exported
    return {"run": run, "export_id": exported["export_id"]}


def _open_dashboard(browser: Any, url: str) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.goto(url, wait_until="domcontentloaded")
    return context, page, problems


def test_dashboard_shows_heat_map_segments_links_funnel_and_campaigns(
    browser: Any, stack: LocalStack, client: Client, scored_and_exported: dict[str, Any]
) -> None:
    run = scored_and_exported["run"]
    summary = run["summary"]
    context, page, problems = _open_dashboard(browser, f"{stack.api_url}/dashboard/")
    try:
        sign_in(page, stack, "marketing@example.com")
        assert "code=" not in page.url  # the authorization code left the address bar
        assert page.get_by_test_id("run-id").inner_text() == run["run_id"]

        # RFM heat map: 25 cells, each with the run summary's count.
        cells = page.locator("[data-testid^='rfm-cell-']")
        assert cells.count() == 25
        for r in range(1, 6):
            for f in range(1, 6):
                cell = page.get_by_test_id(f"rfm-cell-{r}{f}")
                expected = int(summary["rfm_grid"].get(f"{r}{f}", 0))
                assert int(cell.get_attribute("data-count") or -1) == expected
                assert cell.inner_text().replace(",", "") == str(expected)
        assert sum(int(c.get_attribute("data-count") or 0) for c in cells.all()) == sum(
            summary["segment_counts"].values()
        )

        # Pareto share of the top 20 %.
        share = summary["pareto_top20_revenue_share"]
        assert page.get_by_test_id("pareto-share").inner_text() == f"{share * 100:.1f} %"

        # Segments: sizes, and a download link to this run's export that really downloads the CSV.
        from shared.exporting.rows import slug

        present = {s: n for s, n in summary["segment_counts"].items() if n}
        for segment, count in present.items():
            key = slug(segment)
            assert page.get_by_test_id(f"segment-count-{key}").inner_text().replace(",", "") == str(count)
            link = page.get_by_test_id(f"download-{key}")
            assert link.count() == 1
            href = link.get_attribute("href") or ""
            assert "X-Amz-Expires=" in href
            assert scored_and_exported["export_id"] in (link.get_attribute("title") or "")
            response = page.request.get(href)
            assert response.status == 200
            assert response.body().startswith(b"customer_id,email,first_name,last_name,consent_email")
        assert page.get_by_test_id("download-prospects").count() == 1

        # Funnel: one bar per stage, counts from the run.
        for stage in ("subscriber", "lead", "marketing_qualified", "customer"):
            item = page.get_by_test_id(f"funnel-{stage}")
            assert int(item.get_attribute("data-count") or -1) == int(summary["stage_counts"].get(stage, 0))

        # Campaign results: one row per campaign of the catalogue, with its report.
        status, listing, _ = client.call("GET", "/v1/campaigns", private=True)
        assert status == 200
        for campaign in listing["campaigns"]:
            row = page.get_by_test_id(f"campaign-row-{campaign['id']}")
            assert row.count() == 1
            sent = page.get_by_test_id(f"campaign-sent-{campaign['id']}").inner_text()
            assert sent.isdigit(), sent

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

        # "Export now" runs an export and the segment's link then points to the new file.
        biggest = slug(max(present, key=lambda s: present[s]))
        page.get_by_test_id(f"export-{biggest}").click()
        page.wait_for_function(
            "([id, old]) => !document.querySelector(`[data-testid='download-${id}']`).title.includes(old)",
            arg=[biggest, scored_and_exported["export_id"]],
            timeout=TIMEOUT_MS,
        )
        assert "succeeded" in page.locator("#status").inner_text()
        assert problems == []
    finally:
        context.close()


def test_dashboard_shows_only_the_sign_in_until_signed_in(
    browser: Any, stack: LocalStack, scored_and_exported: dict[str, Any]
) -> None:
    """The console no longer asks for an API key: an anonymous visitor sees the sign-in and nothing else;
    a wrong password stays on the hosted UI; the right one opens the dashboard."""
    context, page, problems = _open_dashboard(browser, f"{stack.api_url}/dashboard/")
    try:
        page.wait_for_selector("#signin:not([hidden])", timeout=TIMEOUT_MS)
        assert page.locator("#app").is_hidden()
        assert page.get_by_test_id("rfm-cell-55").count() == 0  # nothing of the data was drawn
        assert page.locator("#api-key").count() == 0
        sign_in(page, stack, "marketing@example.com", password="not-the-password", wait=False)
        page.wait_for_selector("#signin-error", timeout=TIMEOUT_MS)
        assert "Incorrect" in page.locator("#signin-error").inner_text()
        page.fill("#username", "marketing@example.com")
        page.fill("#password", stack.cognito.password)
        page.click("#signin-submit")
        page.wait_for_selector("#app[data-state='ready']", timeout=TIMEOUT_MS)
        assert page.get_by_test_id("rfm-cell-55").count() == 1
        assert [p for p in problems if "401" not in p] == []  # the wrong password's 401 is logged
    finally:
        context.close()
