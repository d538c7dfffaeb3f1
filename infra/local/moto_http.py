"""Cheaper HTTP header parsing for the local moto server's keep-alive handler and for the local stack's
own process (:func:`install_client`: the SDK clients reading moto's answers), with the same results.

``http.server`` parses each request's header block with the ``email`` package's feed parser (through
``http.client.parse_headers``): a general MIME parser, ~6 % of the moto process's CPU in ``make demo``.
An AWS SDK's header block is simple: ``Name: value`` lines, no folding, no defects. :func:`parse_headers`
builds the same ``HTTPMessage`` for such a block directly (the name/value split of the ``compat32``
policy's ``header_source_parse``, an empty payload as the feed parser leaves) and hands anything else
(a folded line, a line that is not a header, a block cut short) to the ``email`` parser as before.
"""

from __future__ import annotations

import email.parser
import http.client
import re
from typing import Any

# The feed parser's header line: a name of printable characters but ':' (and space), then ':'.
# No CR inside the line: the feed parser would split the line there.
_HEADER = re.compile(r"([\041-\071\073-\176]+):([^\r\n]*)\r?\n\Z")


def parse_headers(fp: Any, _class: type[http.client.HTTPMessage] = http.client.HTTPMessage) -> Any:
    """``http.client.parse_headers``: the same message, without the ``email`` parser for simple blocks."""
    lines: list[bytes] = http.client._read_headers(fp)  # type: ignore[attr-defined]
    if lines[-1] in (b"\r\n", b"\n"):
        message = _class()
        for raw in lines[:-1]:
            found = _HEADER.match(raw.decode("iso-8859-1"))
            if found is None:
                break  # not a plain header line: the email parser decides (defects, folding...)
            # compat32's header_source_parse: leading blanks off the value, trailing CR/LF off.
            message.set_raw(found.group(1), found.group(2).lstrip(" \t").rstrip("\r\n"))
        else:
            message.set_payload("")
            return message
    text = b"".join(lines).decode("iso-8859-1")
    return email.parser.Parser(_class=_class).parsestr(text)


class _HttpClient:
    """``http.client`` as ``http.server`` sees it, with :func:`parse_headers` in place of its own."""

    parse_headers = staticmethod(parse_headers)

    def __getattr__(self, name: str) -> Any:
        return getattr(http.client, name)


class _Http:
    client = _HttpClient()

    def __getattr__(self, name: str) -> Any:
        import http as package

        return getattr(package, name)


def install_client() -> None:
    """Make ``http.client`` itself use :func:`parse_headers` in this process (idempotent): the local
    stack's own process, where the functions' SDK clients (botocore through urllib3) read every moto
    answer's header block, and the demo's client reads the API's. Local mode only: a function deployed
    to Lambda runs with the standard library untouched."""
    if http.client.parse_headers is not parse_headers:
        http.client.parse_headers = parse_headers  # type: ignore[assignment]


def install() -> None:
    """Make ``http.server`` (its request handlers' ``parse_request``) use :func:`parse_headers`
    (idempotent; ``http.client`` itself is untouched)."""
    import http.server

    if not isinstance(http.server.__dict__.get("http"), _Http):
        http.server.http = _Http()  # type: ignore[attr-defined]
