"""MIME messages as they go on the wire (what SES receives in ``SendRawEmail``).

Two rules the standard library's defaults break, and this module keeps:

- ``List-Unsubscribe`` (RFC 2369) holds ``<URI>``, and RFC 2047 encoded-words are not allowed in it; a
  header set the usual way is folded at 78 characters and a long token-bearing URL then goes out as
  ``=?utf-8?q?…?=``, which mail providers do not read. The two list headers are therefore written raw
  (``set_raw``) under a policy that never refolds raw headers (``refold_source="none"``): they reach the
  wire byte for byte, each on one line (a URL has no folding whitespace; lines stay under RFC 5322's 998).
- Header text comes from people (names in subjects): every control character, CR and LF included, is
  turned into a space, so no value can add a header line or make the library refuse the message.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Final

# SMTP line endings; headers the library builds are folded at 78; raw headers are left as they are.
WIRE_POLICY: Final = policy.SMTP.clone(refold_source="none")
MAX_LINE: Final = 998  # RFC 5322 2.1.1, without the CRLF
ONE_CLICK: Final = "List-Unsubscribe=One-Click"  # RFC 8058 section 3.1
# RFC 3986 characters, minus the ones that would end or break ``<URI>`` in a header.
_URI: Final = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")


class MessageError(ValueError):
    """The message cannot be built as given (a permanent failure: retrying cannot help)."""


def single_line(text: str) -> str:
    """``text`` with every control or separator character made a space, and runs of spaces collapsed."""
    cleaned = "".join(" " if unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} else ch for ch in text)
    return " ".join(cleaned.split())


@dataclass(frozen=True)
class Email:
    sender: str
    to: str  # one addr-spec, validated at intake (shared.tracking.identity.normalise_email)
    subject: str
    body: str
    unsubscribe_url: str | None = None  # adds List-Unsubscribe and List-Unsubscribe-Post (RFC 8058)
    headers: dict[str, str] = field(default_factory=dict)  # extra ASCII headers (X-Campaign-Id, ...)
    html: str | None = None  # an HTML alternative to the text body (multipart/alternative)


def _address(addr_spec: str) -> Address:
    local, at, domain = addr_spec.rpartition("@")
    if not at or not local or not domain:
        raise MessageError("not an addr-spec")
    try:
        address = Address(username=local, domain=domain)
    except (ValueError, IndexError) as exc:  # the library refuses CR/LF and malformed parts
        raise MessageError("not an addr-spec") from exc
    if address.addr_spec != addr_spec:  # it had to be quoted: not a plain dot-atom addr-spec
        raise MessageError("not a plain addr-spec")
    return address


def build(email: Email, now: datetime) -> EmailMessage:
    message = EmailMessage(policy=WIRE_POLICY)
    message["Date"] = format_datetime(now)
    sender = _address(email.sender)
    message["Message-ID"] = make_msgid(domain=sender.domain)
    message["From"] = sender
    message["To"] = _address(email.to)
    message["Subject"] = single_line(email.subject)
    if email.unsubscribe_url is not None:
        if not _URI.fullmatch(email.unsubscribe_url):
            raise MessageError("the unsubscribe URL is not a plain http(s) URI")
        list_unsubscribe = f"<{email.unsubscribe_url}>"
        if len("List-Unsubscribe: ") + len(list_unsubscribe) > MAX_LINE:
            raise MessageError("the unsubscribe URL is too long for one header line")
        message.set_raw("List-Unsubscribe", list_unsubscribe)
        message.set_raw("List-Unsubscribe-Post", ONE_CLICK)
    for name, value in email.headers.items():
        message[name] = single_line(value)
    message.set_content(email.body)
    if email.html is not None:
        message.add_alternative(email.html, subtype="html")
    return message


def to_bytes(email: Email, now: datetime) -> bytes:
    """The message as SES receives it."""
    return build(email, now).as_bytes(policy=WIRE_POLICY)
