"""Campaigns and decisions tables."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.update import Action

from shared.dal.errors import is_conditional_failure
from shared.dal.models import CampaignModel, DecisionModel


def all_campaigns() -> list[CampaignModel]:
    return list(CampaignModel.scan())


def save_campaign(
    campaign_id: str, version: str, enabled: bool, definition: dict[str, Any], now: datetime
) -> None:
    CampaignModel(
        campaign_id,
        catalogue_version=version,
        enabled=enabled,
        definition=definition,
        updated_at=now.isoformat(),
    ).save()


def set_enabled(campaign_id: str, enabled: bool, now: datetime) -> bool:
    """False if there is no such campaign."""
    try:
        CampaignModel(campaign_id).update(
            actions=[CampaignModel.enabled.set(enabled), CampaignModel.updated_at.set(now.isoformat())],
            condition=CampaignModel.campaign_id.exists(),
        )
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def record_decision(item: DecisionModel) -> bool:
    """Write a decision once: False if this (campaign, customer, trigger) was already decided."""
    try:
        item.save(condition=DecisionModel.decision_key.does_not_exist())
    except PutError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def get_decision(customer_id: str, decision_key: str) -> DecisionModel | None:
    try:
        return DecisionModel.get(customer_id, decision_key, consistent_read=True)
    except DoesNotExist:
        return None


def resolve_deferred(item: DecisionModel, outcome: str, reason: str | None, decided_at: str) -> bool:
    """Turn a deferred decision into its final outcome, once (False if another run did it first)."""
    try:
        actions: list[Action] = [DecisionModel.outcome.set(outcome), DecisionModel.decided_at.set(decided_at)]
        if reason:
            actions.append(DecisionModel.reason.set(reason))
        item.update(actions=actions, condition=DecisionModel.outcome == "deferred")
    except UpdateError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def for_campaign(campaign_id: str) -> Iterator[DecisionModel]:
    yield from DecisionModel.by_campaign.query(campaign_id)


def due_deferred(now: datetime) -> Iterator[DecisionModel]:
    yield from DecisionModel.scan(
        (DecisionModel.outcome == "deferred") & (DecisionModel.send_after <= now.isoformat())
    )
