"""Web forms in a real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright), as a web
designer uses them: the embed code of ``GET /v1/forms/{form_id}/embed`` pasted into a page of a site on
another local port (an allow-listed origin) signs a person up, as a plain post (navigation) and with the
optional fetch() script; each error shows a readable page with a way back; the same code on a page of a
foreign origin is refused and nothing is stored or mailed. Screenshots go to artifacts/forms-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib import request

import pytest

from infra.local.stack import LocalStack
from shared.dal.models import IdentityModel
from tests.e2e.chromium import ARTIFACTS, TIMEOUT_MS
from tests.helpers import emails_to, unique
from tests.site import Site

pytestmark = pytest.mark.browser

PAGE = """<!doctype html><html lang=en><meta charset=utf-8><title>Sign up</title>
<body><h1>Our shop</h1>
{code}
</body></html>"""


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    opened = browser.new_page()
    opened.set_default_timeout(TIMEOUT_MS)
    try:
        yield opened
    finally:
        opened.close()


def _embed(stack: LocalStack, form_id: str, script: bool = False) -> str:
    url = f"{stack.api_url}/v1/forms/{form_id}/embed" + ("?script=true" if script else "")
    with request.urlopen(url, timeout=60) as response:
        return str(response.read().decode())


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"forms-{name}.png"), full_page=True)


def _stored(email: str) -> bool:
    return bool(list(IdentityModel.scan(IdentityModel.alias == f"email:{email}")))


def _fill(page: Any, email: str) -> None:
    page.get_by_label("Email address").fill(email)
    page.get_by_label("First name").fill("Ann")
    page.get_by_label("Yes, send me the newsletter by email.").check()


def test_the_pasted_embed_code_signs_a_person_up_without_javascript(
    stack: LocalStack, site: Site, page: Any
) -> None:
    url = site.put("/signup.html", PAGE.format(code=_embed(stack, "newsletter")))
    page.goto(url)
    email = f"{unique('nav')}@example.com"
    _fill(page, email)
    honeypot = page.locator("input[name=website]")
    assert not honeypot.is_visible() or honeypot.bounding_box()["x"] < 0  # off-screen, not display:none
    page.get_by_role("button", name="Subscribe").click()
    page.wait_for_load_state()
    assert page.title() == "Thank you"
    assert "check your inbox" in page.content()
    _shot(page, "thank-you")
    stack.drain()
    assert _stored(email)
    [confirmation] = emails_to(stack, email)
    assert "confirm" in confirmation["Body"]
    page.get_by_role("link", name="Back to the web site").click()
    page.wait_for_load_state()
    assert page.url.startswith(site.origin)


def test_the_fetch_variant_signs_up_in_place_and_shows_errors_in_place(
    stack: LocalStack, site: Site, page: Any
) -> None:
    url = site.put("/signup-fetch.html", PAGE.format(code=_embed(stack, "newsletter", script=True)))
    page.goto(url)
    status = page.get_by_role("status")
    # An address the browser's type=email accepts but the API does not: the answer shows in place.
    page.get_by_label("Email address").fill("ann-x@localhost")
    page.get_by_role("button", name="Subscribe").click()
    page.wait_for_function("document.querySelector('[role=status]').textContent.length > 0")
    assert "email address is not valid" in status.text_content()
    assert page.url == url
    email = f"{unique('fetch')}@example.com"
    _fill(page, email)
    page.get_by_role("button", name="Subscribe").click()
    page.wait_for_function("document.querySelector('[role=status]').textContent.startsWith('We have')")
    assert "check your inbox" in status.text_content()
    assert page.url == url  # no navigation: the fetch() answer was readable (CORS)
    _shot(page, "fetch")
    stack.drain()
    assert _stored(email)
    assert len(emails_to(stack, email)) == 1


ERROR_CASES = [
    # (name, form id the page posts to, email, extra hidden fields, words on the page)
    ("invalid-email", "newsletter", "ann-x@localhost", {}, "The email address is not valid"),
    ("missing-email", "newsletter", "", {}, "A required field is empty: email"),
    ("unknown-form", "no-such-form", "a@example.com", {}, "This form does not exist"),
    ("redirect-host", "newsletter", "a@example.com", {"redirect": "https://evil.example/"}, "may not go to"),
]


@pytest.mark.parametrize(("name", "form_id", "email", "hidden", "words"), ERROR_CASES)
def test_each_error_shows_a_readable_page_with_a_way_back(
    stack: LocalStack,
    site: Site,
    page: Any,
    name: str,
    form_id: str,
    email: str,
    hidden: dict[str, str],
    words: str,
) -> None:
    code = _embed(stack, "newsletter").replace("/v1/forms/newsletter'", f"/v1/forms/{form_id}'")
    inputs = "".join(f"<input type=hidden name='{k}' value='{v}'>" for k, v in hidden.items())
    code = code.replace("</form>", inputs + "</form>")
    url = site.put(f"/error-{name}.html", PAGE.format(code=code))
    page.goto(url)
    page.eval_on_selector("form", "form => form.noValidate = true")  # a browser that does not check
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Subscribe").click()
    page.wait_for_load_state()
    assert page.title() == "Your form was not sent"
    assert words in page.content()
    _shot(page, f"error-{name}")
    page.get_by_role("link", name="Back to the form").click()
    page.wait_for_url(url)
    assert page.get_by_label("Email address").input_value() == email  # back as the visitor left it


@pytest.mark.parametrize("script", [False, True], ids=["navigation", "fetch"])
def test_a_page_on_a_foreign_origin_is_refused_and_nothing_is_stored_or_mailed(
    stack: LocalStack, page: Any, script: bool
) -> None:
    foreign = Site().start()  # another port: an origin nobody allow-listed
    try:
        url = foreign.put("/signup.html", PAGE.format(code=_embed(stack, "newsletter", script=script)))
        page.goto(url)
        email = f"{unique('foreign')}@example.com"
        _fill(page, email)
        page.get_by_role("button", name="Subscribe").click()
        # fetch(): the browser gets no CORS grant, the script falls back to a plain post; both end here.
        page.wait_for_url(f"{stack.api_url}/v1/forms/newsletter")
        page.wait_for_load_state()
        assert page.title() == "Your form was not sent"
        assert "cannot be sent from this web site" in page.content()
        _shot(page, "foreign-" + ("fetch" if script else "navigation"))
    finally:
        foreign.stop()
    stack.drain()
    assert not _stored(email)
    assert emails_to(stack, email) == []
