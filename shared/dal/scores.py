"""Scores table: latest scores per customer."""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from shared.dal.models import ScoreModel


def get(customer_id: str) -> ScoreModel | None:
    try:
        return ScoreModel.get(customer_id)
    except DoesNotExist:
        return None


def delete(customer_id: str) -> None:
    ScoreModel(customer_id).delete()
