"""Signing in to the console in a real browser, as a person would: the console's Sign in button, the
(local) hosted UI's form, back to the console with a code traded for tokens (PKCE)."""

from __future__ import annotations

from typing import Any

from infra.local.stack import LocalStack
from tests.e2e.chromium import TIMEOUT_MS

__all__ = ["TIMEOUT_MS", "open_view", "sign_in"]


def sign_in(page: Any, stack: LocalStack, email: str, password: str | None = None, wait: bool = True) -> None:
    page.goto(f"{stack.api_url}/dashboard/", wait_until="domcontentloaded")
    page.wait_for_selector("#signin:not([hidden])", timeout=TIMEOUT_MS)
    page.click("#signin-button")
    page.wait_for_selector("#signin-form", timeout=TIMEOUT_MS)
    page.fill("#username", email)
    page.fill("#password", password if password is not None else stack.cognito.password)
    page.click("#signin-submit")
    if wait:
        page.wait_for_selector("#app[data-state='ready']", timeout=TIMEOUT_MS)


def open_view(page: Any, hash_path: str) -> None:
    """Navigate inside the console (hash routes) and wait for the view's data."""
    page.evaluate(
        "(h) => { document.getElementById('app').dataset.state = 'loading'; location.hash = h; }", hash_path
    )
    page.wait_for_selector("#app[data-state='ready']", timeout=TIMEOUT_MS)
