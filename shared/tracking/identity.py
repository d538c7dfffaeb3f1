"""Identity: normalised identifiers, their aliases, and deterministic customer ids."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final

_EMAIL_RE: Final = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,253}\.[^@\s]{2,63}$")
ALIAS_PRIORITY: Final[tuple[str, ...]] = ("user", "email", "anon")


class InvalidEmailError(ValueError):
    pass


def normalise_email(raw: str) -> str:
    """Trim and lower-case an email address (the whole address: providers treat it case-insensitively)."""
    email = raw.strip().lower()
    if not _EMAIL_RE.match(email):
        raise InvalidEmailError(f"not a valid email address: {raw!r}")
    return email


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
