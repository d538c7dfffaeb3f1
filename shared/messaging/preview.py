"""Preview an email template with a sample person, in a language: subject, text and HTML.

python -m shared.messaging.preview --list
python -m shared.messaging.preview welcome --locale fr
python -m shared.messaging.preview cross-sell --locale pl --first-name Zofia --html preview.html
make preview ARGS="win-back --locale uk"
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from shared.messaging.templates import languages, render_email, template_ids

SAMPLE: dict[str, str] = {
    "first_name": "Ann",
    "recommended_products": "Espresso cups, Milk frother",
    "confirm_url": "https://api.example.com/v1/consent/confirm?token=SAMPLE",
    "unsubscribe_url": "https://api.example.com/v1/unsubscribe?token=SAMPLE",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.messaging.preview", description=__doc__)
    parser.add_argument("template", nargs="?", help="template id (see --list)")
    parser.add_argument("--locale", default="en", help="the person's locale trait, e.g. fr, fr-CA, pl")
    parser.add_argument("--first-name", default=SAMPLE["first_name"], help="empty: a person with no name")
    parser.add_argument("--html", type=Path, help="also write the HTML part to this file")
    parser.add_argument("--list", action="store_true", help="list templates and their languages")
    args = parser.parse_args(argv)
    if args.list or not args.template:
        for template in template_ids():
            print(f"{template}: {', '.join(languages(template))}")
        return 0
    rendered = render_email(args.template, {**SAMPLE, "first_name": args.first_name}, args.locale)
    print(f"Template: {rendered.template} ({rendered.language})")
    print(f"Subject: {rendered.subject}\n")
    print(rendered.text)
    if args.html:
        args.html.write_text(rendered.html, encoding="utf-8")
        print(f"\nHTML part written to {args.html}", file=sys.stderr)
    else:
        print("\n--- HTML ---\n" + rendered.html)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
