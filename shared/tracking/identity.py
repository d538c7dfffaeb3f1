"""Identity: normalised identifiers, their aliases, and deterministic customer ids."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

ALIAS_PRIORITY: Final[tuple[str, ...]] = ("user", "email", "anon")


class InvalidEmailError(ValueError):
    pass


def normalise_email(raw: str) -> str:
    """One RFC 5322 addr-spec, trimmed and lower-cased (the whole address: providers treat it
    case-insensitively), with an internationalised domain in its ASCII (IDNA) form.

    Checked with ``email-validator`` (syntax only, no DNS): a dot-atom local part (no quoted strings,
    no display name, no comments), a domain with a dot, and no second address: ``x1,carol@example.com``
    is refused here rather than becoming two recipients of a message. Local parts must be ASCII, as
    SES needs them without SMTPUTF8.
    """
    # Imported on the first address (a fifth of boto3's import time, mostly its grammar's regular
    # expressions): page views and most track calls carry none.
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(
            raw.strip(),
            check_deliverability=False,
            allow_smtputf8=False,
            allow_quoted_local=False,
            allow_domain_literal=False,
            allow_display_name=False,
        )
    except EmailNotValidError:
        raise InvalidEmailError(f"not a valid email address: {raw!r}") from None
    email = checked.ascii_email
    if email is None:
        raise InvalidEmailError(f"not a valid email address: {raw!r}")
    return email.lower()


@dataclass(frozen=True)
class Identifiers:
    user_id: str | None = None
    anonymous_id: str | None = None
    email: str | None = None

    def aliases(self) -> list[str]:
        """Aliases in priority order: a known user id wins over an email, which wins over an anonymous id."""
        found: list[str] = []
        if self.user_id:
            found.append(f"user:{self.user_id}")
        if self.email:
            found.append(f"email:{self.email}")
        if self.anonymous_id:
            found.append(f"anon:{self.anonymous_id}")
        return found


def customer_id_for(alias: str, generation: int = 0) -> str:
    """Deterministic id of a new customer first seen through ``alias``.

    Deterministic so that a retried first request, or two concurrent ones, create the same customer.
    ``generation`` counts the people this alias has named before and who were erased: an erased id is
    never given out again (a tombstone keeps it), so a returning identifier starts generation + 1 and no
    late writer of the erased person can reach the new one.
    """
    seed = alias if generation == 0 else f"{alias}#{generation}"
    return "c_" + hashlib.sha256(seed.encode()).hexdigest()[:24]
