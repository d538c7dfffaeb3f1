"""Identities table: aliases (email:, user:, anon:) resolved to customer ids, and erased-id tombstones.

Invariants (see README, "Erasure"):

- an alias is only ever written together with its customer's profile, in one transaction that requires
  the profile to be *live* (it exists and its erasure has not started) and adds the alias to the
  profile's ``aliases``: once an erasure has marked a profile, nothing can point a new alias at it;
- erasure finds a customer's aliases through the ``by-customer`` index as well as the profile, and
  deletes each only while it still points at that customer;
- an erased customer id keeps a tombstone (``erased:<digest of the id>`` and a date: neither the id nor
  any alias or personal data) and a new
  profile is only created in a transaction that checks there is none, so an erased id never names
  anyone again and no late writer of the erased person can reach the person who comes back.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from shared.dal.errors import is_conditional_failure
from shared.dal.models import CustomerModel, IdentityModel

TOMBSTONE_PREFIX = "erased:"


class LinkRefusedError(Exception):
    """The transaction's condition on the profile did not hold (gone, being erased, or merged)."""


def tombstone_key(customer_id: str) -> str:
    """A one-way digest of the erased id: the tombstone names nobody, yet the id can be checked."""
    return TOMBSTONE_PREFIX + hashlib.sha256(customer_id.encode()).hexdigest()[:32]


def is_tombstone(alias: str) -> bool:
    return alias.startswith(TOMBSTONE_PREFIX)


def transaction() -> TransactWrite:
    return TransactWrite(connection=IdentityModel._get_connection().connection)


def cancelled_by_condition(exc: TransactWriteError) -> bool:
    """Whether a transaction was cancelled because one of its conditions did not hold (anything else,
    e.g. a conflict with a concurrent transaction, is transient and re-raised by the callers)."""
    return any(
        reason is not None and reason.code == "ConditionalCheckFailed" for reason in exc.cancellation_reasons
    )


def resolve(aliases: Iterable[str]) -> dict[str, str]:
    """alias -> customer id, for the aliases that are known (one strongly consistent BatchGetItem)."""
    keys = list(dict.fromkeys(aliases))
    if not keys:
        return {}
    return {item.alias: item.customer_id for item in IdentityModel.batch_get(keys, consistent_read=True)}


def _current(alias: str) -> str | None:
    try:
        return IdentityModel.get(alias, consistent_read=True).customer_id
    except DoesNotExist:
        return None


def link(alias: str, customer_id: str, now: datetime, profile_condition: Condition) -> str:
    """Point a new alias at ``customer_id`` (and add it to the profile's ``aliases``), atomically and only
    while ``profile_condition`` holds. If another request linked the alias first, that link wins and its
    customer id is returned. Raises :class:`LinkRefusedError` when the profile condition fails."""
    with_alias = IdentityModel(alias, customer_id=customer_id, created_at=now.isoformat())
    actions: list[Action] = [CustomerModel.aliases.add({alias})]
    try:
        with transaction() as write:
            write.save(with_alias, condition=IdentityModel.alias.does_not_exist())
            write.update(CustomerModel(customer_id), actions=actions, condition=profile_condition)
    except TransactWriteError as exc:
        if not cancelled_by_condition(exc):
            raise
        winner = _current(alias)
        if winner is not None:
            return winner
        raise LinkRefusedError(customer_id) from exc
    return customer_id


def repoint(alias: str, from_id: str, to_id: str, now: datetime, profile_condition: Condition) -> bool:
    """Move an alias from a merged customer to its survivor, only while it still points at ``from_id`` and
    the survivor satisfies ``profile_condition``. False if the alias moved meanwhile (or is gone);
    :class:`LinkRefusedError` if the survivor condition failed."""
    moved = IdentityModel(alias, customer_id=to_id, created_at=now.isoformat())
    try:
        with transaction() as write:
            write.save(moved, condition=IdentityModel.customer_id == from_id)
            write.update(
                CustomerModel(to_id),
                actions=[CustomerModel.aliases.add({alias})],
                condition=profile_condition,
            )
    except TransactWriteError as exc:
        if not cancelled_by_condition(exc):
            raise
        if _current(alias) != from_id:
            return False
        raise LinkRefusedError(to_id) from exc
    return True


def for_customer(customer_id: str) -> set[str]:
    """The aliases pointing at a customer (the index; tombstones excluded)."""
    return {
        item.alias for item in IdentityModel.by_customer.query(customer_id) if not is_tombstone(item.alias)
    }


def delete(aliases: Iterable[str], customer_id: str) -> int:
    """Delete those of ``aliases`` that still point at ``customer_id``; returns how many went."""
    deleted = 0
    for alias in aliases:
        if is_tombstone(alias):
            continue
        try:
            IdentityModel(alias).delete(condition=IdentityModel.customer_id == customer_id)
            deleted += 1
        except DeleteError as exc:
            if not is_conditional_failure(exc):
                raise
    return deleted


def add_tombstone(customer_id: str, now: datetime) -> None:
    """Remember that ``customer_id`` was erased (idempotent: the first date stays)."""
    try:
        key = tombstone_key(customer_id)
        IdentityModel(key, customer_id=key, created_at=now.isoformat()).save(
            condition=IdentityModel.alias.does_not_exist()
        )
    except PutError as exc:
        if not is_conditional_failure(exc):
            raise


def no_tombstone() -> Condition:
    return IdentityModel.alias.does_not_exist()
