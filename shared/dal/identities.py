"""Identities table: aliases (email:, user:, anon:) resolved to customer ids."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pynamodb.exceptions import PutError

from shared.dal.errors import is_conditional_failure
from shared.dal.models import IdentityModel


def resolve(aliases: Iterable[str]) -> dict[str, str]:
    """alias -> customer id, for the aliases that are known (one BatchGetItem)."""
    keys = list(dict.fromkeys(aliases))
    if not keys:
        return {}
    return {item.alias: item.customer_id for item in IdentityModel.batch_get(keys)}


def link(alias: str, customer_id: str, now: datetime) -> str:
    """Point a new alias at ``customer_id``. If another request linked it first, that link wins and
    its customer id is returned."""
    try:
        IdentityModel(alias, customer_id=customer_id, created_at=now.isoformat()).save(
            condition=IdentityModel.alias.does_not_exist()
        )
    except PutError as exc:
        if not is_conditional_failure(exc):
            raise
        return IdentityModel.get(alias, consistent_read=True).customer_id
    return customer_id


def repoint(alias: str, customer_id: str, now: datetime) -> None:
    IdentityModel(alias, customer_id=customer_id, created_at=now.isoformat()).save()


def delete(aliases: Iterable[str]) -> None:
    with IdentityModel.batch_write() as batch:
        for alias in aliases:
            batch.delete(IdentityModel(alias))
