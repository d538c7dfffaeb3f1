"""The local outbox: the emails SES (moto) accepted, with their links and raw headers.

The local stack serves them at ``GET /local/outbox`` (``x-api-key`` header, like the private API) and the
dashboard shows them at ``/dashboard/outbox.html``. From a terminal, while ``make local`` serves::

    python -m infra.local.outbox                 # every email: date, to, subject, links
    python -m infra.local.outbox --headers -n 3  # the last three, with their raw headers
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from email import message_from_string, policy
from typing import Any
from urllib import error, request

LINK = re.compile(r"https?://[^\s<>\"')]+")


def read_outbox(region: str) -> list[dict[str, Any]]:
    """Every email the local moto's SES accepted in ``region``, oldest first."""
    from infra.local.moto_process import sent_messages

    emails: list[dict[str, Any]] = []
    for number, sent in enumerate(sent_messages(region), start=1):
        raw = sent.raw_data
        if raw is None:  # SendEmail (not raw): no headers of its own
            body = sent.body
            emails.append(
                {
                    "number": number,
                    "from": sent.source,
                    "to": ", ".join(sent.destinations),
                    "subject": sent.subject,
                    "date": None,
                    "headers": "",
                    "body": body,
                    "links": LINK.findall(body),
                }
            )
            continue
        message = message_from_string(raw, policy=policy.default)
        text = message.get_body(preferencelist=("plain", "html"))
        body = text.get_content() if text is not None else ""
        header_block = raw.split("\n\n", 1)[0].replace("\r\n", "\n")
        links = list(dict.fromkeys(LINK.findall(body) + LINK.findall(header_block)))
        emails.append(
            {
                "number": number,
                "from": str(message.get("From", "")),
                "to": str(message.get("To", "")),
                "subject": str(message.get("Subject", "")),
                "date": str(message.get("Date")) if message.get("Date") else None,
                "headers": header_block,
                "body": body,
                "links": [link.rstrip(">.,;") for link in links],
            }
        )
    return emails


def _fetch(url: str, key: str) -> list[dict[str, Any]]:
    req = request.Request(f"{url.rstrip('/')}/local/outbox", headers={"x-api-key": key})
    with request.urlopen(req, timeout=30) as response:
        emails: list[dict[str, Any]] = json.loads(response.read())["emails"]
        return emails


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.outbox", description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the local stack's API URL")
    parser.add_argument("--key", default=os.environ.get("RM_LOCAL_API_KEY", "local-api-key"))
    parser.add_argument("-n", "--last", type=int, default=0, help="only the last N emails")
    parser.add_argument("--headers", action="store_true", help="print each email's raw headers")
    parser.add_argument("--json", action="store_true", help="print the outbox as JSON")
    args = parser.parse_args(argv)
    try:
        emails = _fetch(args.url, args.key)
    except (error.URLError, OSError) as exc:
        print(f"cannot read the outbox at {args.url}: {exc} (is `make local` running?)", file=sys.stderr)
        return 1
    if args.last:
        emails = emails[-args.last :]
    if args.json:
        print(json.dumps(emails, indent=2))
        return 0
    print(f"{len(emails)} emails")
    for mail in emails:
        print(f"\n#{mail['number']}  to {mail['to']}  —  {mail['subject']}")
        if args.headers:
            print("  " + mail["headers"].replace("\n", "\n  "))
        for link in mail["links"]:
            print(f"  link: {link}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
