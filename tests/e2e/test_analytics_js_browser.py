"""analytics.js (``@segment/analytics-next`` from node_modules) in a real headless Chromium, on a shop's
page served from another local port (an allow-listed origin), posting to the local API with its default
settings: text/plain bodies to the short paths, the write key inside the body, CORS. Offline: the npm
bundle, settings passed inline, any request off this machine is aborted and reported."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from infra.local.demo import WRITE_KEY, Client
from infra.local.stack import LocalStack
from tests.e2e.chromium import TIMEOUT_MS
from tests.helpers import unique
from tests.site import ANALYTICS_UMD, Site

pytestmark = pytest.mark.browser

# The calls a shop page makes; the page's anonymous id is read back to check the alias.
SCRIPT = """
async ({writeKey, apiHost, user, email, orderId, batching}) => {
  const segmentio = {apiKey: writeKey, apiHost, protocol: "http"};
  if (batching) segmentio.deliveryStrategy = {strategy: "batching", config: {size: 6, timeout: 200}};
  const [analytics] = await AnalyticsNext.AnalyticsBrowser.load({
    writeKey,
    cdnSettings: {integrations: {"Segment.io": segmentio}},
  });
  await analytics.page("Pricing");
  const anonymousId = analytics.user().anonymousId();
  await analytics.alias(user);
  await analytics.identify(user, {email, firstName: "Ann", plan: "pro"});
  await analytics.track("Order Completed", {order_id: orderId, total: 42.5, currency: "EUR"});
  await analytics.group(user + "-g", {name: "Acme", industry: "retail"});
  await analytics.screen("Basket");
  if (batching) await new Promise((resolve) => setTimeout(resolve, 1000));  // the batch goes out
  return anonymousId;
}
"""


@pytest.fixture(scope="module")
def chromium(browser: Any) -> Any:
    assert (ANALYTICS_UMD / "index.js").exists(), "run `npm install`: @segment/analytics-next is missing"
    return browser


@pytest.mark.parametrize("batching", [False, True], ids=["default", "batching"])
def test_analytics_js_calls_all_arrive(
    stack: LocalStack, client: Client, site: Site, chromium: Any, batching: bool
) -> None:
    """Default delivery (one text/plain post per call to a short path, write key in the body) and the
    batching strategy (POST /v1/b with HTTP Basic: a CORS preflight first)."""
    api = urlsplit(stack.api_url)
    local = {site.origin, stack.api_url}
    offsite: list[str] = []
    answers: list[tuple[str, int, str | None, dict[str, Any]]] = []
    page = chromium.new_page()
    page.set_default_timeout(TIMEOUT_MS)

    def only_local(route: Any) -> None:
        split = urlsplit(route.request.url)
        if f"{split.scheme}://{split.netloc}" in local:
            route.continue_()
        else:
            offsite.append(route.request.url)
            route.abort()

    def answered(response: Any) -> None:
        if response.url.startswith(stack.api_url) and response.request.method == "POST":
            request = response.request
            answers.append(
                (
                    urlsplit(response.url).path,
                    response.status,
                    response.headers.get("access-control-allow-origin"),
                    {"content-type": request.headers.get("content-type"), **json.loads(request.post_data)},
                )
            )

    page.route("**/*", only_local)
    page.on("response", answered)
    page.goto(site.origin + "/")
    user, order_id = unique("web"), unique("order")
    email = f"{user}@example.com"
    anonymous_id = page.evaluate(
        SCRIPT,
        {
            "writeKey": WRITE_KEY,
            "apiHost": f"{api.netloc}/v1",
            "user": user,
            "email": email,
            "orderId": order_id,
            "batching": batching,
        },
    )
    page.close()

    assert offsite == []
    if batching:
        assert [path for path, *_ in answers] == ["/v1/b"]
        assert len(answers[0][3]["batch"]) == 6
    else:
        assert sorted(path for path, *_ in answers) == sorted(f"/v1/{p}" for p in "paitgs")
    for path, status, allow_origin, sent in answers:
        assert status == 200, path
        assert allow_origin == site.origin  # CORS: the page may read the answer
        assert sent["content-type"].startswith("text/plain")
        assert sent["writeKey"] == WRITE_KEY  # the key is in the body (batching also sends it as Basic)

    stack.drain()
    status, found, _ = client.call("GET", f"/v1/customers?email={email}", private=True)
    assert status == 200, found
    status, by_anonymous, _ = client.call("GET", f"/v1/customers?anonymous_id={anonymous_id}", private=True)
    assert status == 200
    assert by_anonymous["customer_id"] == found["customer_id"]
    assert found["profile"]["first_name"] == "Ann"
    assert found["profile"]["company"] == "Acme"
    assert found["profile"]["traits"]["plan"] == "pro"
    assert found["profile"]["traits"]["company_industry"] == "retail"
    aggregates = found["aggregates"]
    assert (aggregates["purchase_count"], aggregates["total_spent"]) == (1, 42.5)
    assert aggregates["engagement"]["page_view"] == 2  # the page and the screen
    assert aggregates["interaction_count"] == 6
