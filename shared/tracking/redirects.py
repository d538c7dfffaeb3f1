"""Where a form may send the browser after a post: an allow-list checked on the URL as browsers read it.

A URL is checked on what a browser would do with it, not on what a lenient Python parser says: the WHATWG
URL Standard (through ``ada-url``, the parser Node.js uses) decides the scheme and host, and the answer's
``Location`` is the URL as that parser serialises it. Inputs on which parsers disagree are refused before
parsing: backslashes (browsers read ``\\`` as ``/`` in http(s) URLs, so ``http://evil.com\\@ok/`` goes to
evil.com), user info (``user@host``), and any control character, CR/LF/tab included (browsers drop those
silently; here they could reach the ``Location`` header).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection


class RedirectError(ValueError):
    """The redirect URL is refused (a 422 at the API)."""


def safe_redirect(requested: str, allowed_hosts: Collection[str]) -> str:
    """The URL to put in ``Location``, or raise :class:`RedirectError`."""
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp", "Zs"} for ch in requested):
        raise RedirectError("redirect: control characters and spaces are not allowed")
    if "\\" in requested:
        raise RedirectError("redirect: backslashes are not allowed")
    from ada_url import URL  # here: only a post with a redirect needs the parser (off the cold start)

    try:
        url = URL(requested)
    except ValueError:
        raise RedirectError("redirect: not a valid URL") from None
    if url.protocol not in {"http:", "https:"}:
        raise RedirectError("redirect: only http and https URLs are allowed")
    if url.username or url.password or "@" in requested.split("//", 1)[-1].split("/", 1)[0]:
        raise RedirectError("redirect: user info (user@host) is not allowed")
    if url.hostname.lower() not in allowed_hosts:
        raise RedirectError(f"redirect: host {url.hostname!r} is not an allowed redirect host")
    return url.href
