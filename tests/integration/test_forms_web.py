"""Form posts as browsers and API clients send them, through the local HTTP adapter and the real handler:
origins enforced before anything is stored or mailed, content negotiation (pages for navigations, JSON
with a code for fetch and API clients), CORS for allow-listed origins, multipart bodies (built by
urllib3, the encoder of `requests`)."""

from __future__ import annotations

import json
from typing import Any
from urllib import error, request

import pytest
from urllib3 import encode_multipart_formdata

from infra.local.stack import LocalStack
from shared.dal.models import IdentityModel
from tests.helpers import emails_to, unique
from tests.site import Site

# What Chromium sends on a form navigation.
NAVIGATION = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "Sec-Fetch-Mode": "navigate",
}
FOREIGN = "http://127.0.0.1:9"  # a port nothing is served from: never allow-listed


def _post(
    stack: LocalStack, path: str, body: bytes, content_type: str, headers: dict[str, str]
) -> tuple[int, dict[str, str], str]:
    req = request.Request(
        stack.api_url + path, data=body, method="POST", headers={"Content-Type": content_type, **headers}
    )

    class _Keep(request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    try:
        with request.build_opener(_Keep).open(req, timeout=60) as response:
            return response.status, dict(response.headers), response.read().decode()
    except error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def _form(
    stack: LocalStack, form_id: str, fields: dict[str, str], headers: dict[str, str]
) -> tuple[int, dict[str, str], str]:
    from urllib.parse import urlencode

    return _post(
        stack,
        f"/v1/forms/{form_id}",
        urlencode(fields).encode(),
        "application/x-www-form-urlencoded",
        headers,
    )


def _nothing_stored_or_mailed(stack: LocalStack, email: str) -> None:
    stack.drain()
    assert list(IdentityModel.scan(IdentityModel.alias == f"email:{email}")) == []
    assert emails_to(stack, email) == []


def test_a_page_on_a_foreign_origin_is_refused_before_anything_is_stored(
    stack: LocalStack, site: Site
) -> None:
    email = f"{unique('foreign')}@example.com"
    fields = {"email": email, "consent_email": "on"}
    status, headers, body = _form(stack, "newsletter", fields, {"Origin": FOREIGN})
    assert status == 403
    assert json.loads(body)["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in headers
    # No Origin (an older browser, or a stripped header): the Referer decides.
    status, _, body = _form(stack, "newsletter", fields, {"Referer": f"{FOREIGN}/signup.html", **NAVIGATION})
    assert status == 403
    assert "cannot be sent from this web site" in body
    assert "<a href" not in body  # no way "back" to a page that may not post here
    status, _, _ = _form(stack, "newsletter", fields, {"Origin": "null"})  # sandboxed frame, data: URL
    assert status == 403
    _nothing_stored_or_mailed(stack, email)
    # The same post from the allow-listed site is taken.
    status, headers, body = _form(stack, "newsletter", fields, {"Origin": site.origin})
    assert status == 200, body
    assert headers["Access-Control-Allow-Origin"] == site.origin
    assert json.loads(body)["confirmation_email"] is True
    stack.drain()
    assert len(emails_to(stack, email)) == 1


def test_navigations_get_readable_pages_in_the_form_language_with_a_way_back(
    stack: LocalStack, site: Site
) -> None:
    back = f"{site.origin}/signup.html"
    nav = {**NAVIGATION, "Origin": site.origin, "Referer": back}
    cases = [
        ("newsletter", {"email": "ann-x@localhost"}, 422, "email address is not valid"),
        ("newsletter", {"first_name": "Ann"}, 422, "A required field is empty: email"),
        ("no-such-form", {"email": "a@example.com"}, 404, "This form does not exist"),
        (
            "newsletter",
            {"email": "a@example.com", "redirect": "https://evil.example.net/"},
            422,
            "may not go to",
        ),
        ("lettre", {"email": "pas-une-adresse"}, 422, "L&#x27;adresse e-mail n&#x27;est pas valide"),
    ]
    for form_id, fields, status_wanted, words in cases:
        status, headers, body = _form(stack, form_id, fields, nav)
        assert status == status_wanted, (form_id, fields, body)
        assert headers["Content-Type"].startswith("text/html")
        assert words in body, body
        assert f"href='{back}'" in body
    # The API client's view of the same errors: JSON with a code.
    status, _, body = _form(stack, "newsletter", {"first_name": "Ann"}, {"Origin": site.origin})
    assert (status, json.loads(body)["code"], json.loads(body)["fields"]) == (422, "missing_field", ["email"])
    status, _, body = _form(stack, "newsletter", {"email": "x@localhost"}, {})
    assert (status, json.loads(body)["code"]) == (422, "invalid_email")


def test_without_a_redirect_a_navigation_gets_a_thank_you_page(stack: LocalStack, site: Site) -> None:
    nav = {**NAVIGATION, "Origin": site.origin, "Referer": f"{site.origin}/signup.html"}
    status, _, body = _form(stack, "newsletter", {"email": f"{unique('ty')}@example.com"}, nav)
    assert status == 200
    assert "<title>Thank you</title>" in body
    assert "check your inbox" in body
    status, _, body = _form(stack, "contact", {"email": f"{unique('ty')}@example.com", "message": "hi"}, nav)
    assert status == 200
    assert "Thank you" in body
    assert "inbox" not in body
    status, _, body = _form(stack, "lettre", {"email": f"{unique('ty')}@example.com"}, nav)
    assert "<title>Merci</title>" in body
    assert "boîte de réception" in body


def test_multipart_bodies_are_read_and_files_refused(stack: LocalStack, site: Site) -> None:
    email = f"{unique('multi')}@example.com"
    body, content_type = encode_multipart_formdata(
        {"email": email, "first_name": "Zoë", "consent_email": "on", "website": ""}
    )
    status, headers, answer = _post(
        stack, "/v1/forms/newsletter", body, content_type, {"Origin": site.origin}
    )
    assert status == 200, answer
    assert json.loads(answer)["stored"] == 1
    assert headers["Access-Control-Allow-Origin"] == site.origin
    [identity] = IdentityModel.scan(IdentityModel.alias == f"email:{email}")
    assert identity.customer_id
    other = f"{unique('file')}@example.com"
    body, content_type = encode_multipart_formdata({"email": other, "cv": ("cv.txt", b"hello", "text/plain")})
    status, _, answer = _post(stack, "/v1/forms/contact", body, content_type, {"Origin": site.origin})
    assert (status, json.loads(answer)["code"]) == (415, "files_not_accepted")
    _nothing_stored_or_mailed(stack, other)


def test_the_preflight_of_a_json_fetch_allows_the_listed_site_only(stack: LocalStack, site: Site) -> None:
    def preflight(origin: str) -> dict[str, str]:
        req = request.Request(
            f"{stack.api_url}/v1/forms/newsletter",
            method="OPTIONS",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        with request.urlopen(req, timeout=60) as response:
            return dict(response.headers)

    allowed = preflight(site.origin)
    assert allowed["Access-Control-Allow-Origin"] == site.origin
    assert "content-type" in allowed["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Origin" not in preflight(FOREIGN)


def test_the_embed_code_posts_to_this_api(stack: LocalStack) -> None:
    with request.urlopen(f"{stack.api_url}/v1/forms/newsletter/embed", timeout=60) as response:
        code = response.read().decode()
        assert response.headers["Content-Type"].startswith("text/plain")
    assert f"action='{stack.api_url}/v1/forms/newsletter'" in code
    assert "<script" not in code
    with request.urlopen(f"{stack.api_url}/v1/forms/newsletter/embed?script=true", timeout=60) as response:
        assert "fetch(form.action" in response.read().decode()
    with pytest.raises(error.HTTPError) as refused:
        request.urlopen(f"{stack.api_url}/v1/forms/nope/embed", timeout=60)
    assert refused.value.code == 404
    assert json.loads(refused.value.read())["code"] == "unknown_form"
