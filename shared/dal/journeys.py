"""Journey state items, kept in the decisions table (one per person x journey, ``{journey id}#journey``).

Keeping them with the decisions gives, with no new table nor grant: the sparse ``due`` index (an active
state item is "deferred" until ``send_after``, so the existing due sweep finds it), the ``by-campaign``
index (the funnel reads a journey's states and step decisions in one query), and erasure (deleting a
person's decisions deletes their journeys). Each change is one conditional write on the state's version;
a send step's decision is written in the same transaction, so the two never disagree.
"""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from shared.campaigns.journeys import JourneyState, state_key
from shared.campaigns.rules import Decision, DecisionRecord
from shared.dal.campaigns import due_shard
from shared.dal.errors import is_conditional_failure
from shared.dal.identities import cancelled_by_condition
from shared.dal.models import DecisionModel

# How a state is stored in the decision attributes the other readers know (the due sweep, profiles).
_OUTCOME = {"active": "deferred"}


def _outcome(state: JourneyState) -> str:
    return _OUTCOME.get(state.status, "skipped")


def _reason(state: JourneyState) -> str | None:
    if state.status == "active":
        return None
    return state.status if state.reason is None else f"{state.status}:{state.reason}"


def _state(item: DecisionModel) -> JourneyState:
    reason = item.reason.split(":", 1)[1] if item.reason and ":" in item.reason else None
    return JourneyState(
        journey_id=item.campaign_id,
        customer_id=item.customer_id,
        entry_trigger_id=item.trigger_id,
        entered_at=item.decided_at,  # an ISO string, validated into a datetime
        status=item.journey_status,
        arm="control" if item.journey_arm == "control" else "treated",
        step=int(item.journey_step or 0),
        version=int(item.journey_version or 0),
        path=tuple((item.journey_path or "").split()),
        send_after=item.send_after,
        reason=reason,
    )


def enter(state: JourneyState, catalogue_version: str) -> bool:
    """Record an entry, once per person and journey: False if the person already entered it."""
    active = state.status == "active" and state.send_after is not None
    item = DecisionModel(
        state.customer_id,
        state.state_key,
        campaign_id=state.journey_id,
        trigger_id=state.entry_trigger_id,
        decided_at=state.entered_at.isoformat(),
        outcome=_outcome(state),
        reason=_reason(state),
        send_after=state.send_after.isoformat() if state.send_after else None,
        catalogue_version=catalogue_version,
        trigger_occurred_at=state.entered_at.isoformat(),
        due_shard=due_shard(state.customer_id) if active else None,
        journey_arm=state.arm,
        journey_status=state.status,
        journey_step=state.step,
        journey_version=state.version,
        journey_path=" ".join(state.path) or None,
    )
    try:
        item.save(condition=DecisionModel.decision_key.does_not_exist())
    except PutError as exc:
        if is_conditional_failure(exc):
            return False
        raise
    return True


def get(customer_id: str, journey_id: str) -> JourneyState | None:
    try:
        item = DecisionModel.get(customer_id, state_key(journey_id), consistent_read=True)
    except DoesNotExist:
        return None
    return _state(item) if item.journey_status else None


def write(
    previous_version: int,
    state: JourneyState,
    decision: Decision | None,
    decision_outcome: str | None,
    catalogue_version: str,
) -> bool:
    """Move a state on, once: the update holds only if the stored version is still ``previous_version``
    (False: another advance, a retry or an erasure got there first; nothing is written nor recreated).
    ``decision``: a send step's decision, stored as ``decision_outcome`` in the same transaction."""
    active = state.status == "active" and state.send_after is not None
    actions: list[Action] = [
        DecisionModel.outcome.set(_outcome(state)),
        DecisionModel.journey_status.set(state.status),
        DecisionModel.journey_step.set(state.step),
        DecisionModel.journey_version.set(state.version),
    ]
    reason = _reason(state)
    actions.append(DecisionModel.reason.set(reason) if reason else DecisionModel.reason.remove())
    path = " ".join(state.path)
    actions.append(DecisionModel.journey_path.set(path) if path else DecisionModel.journey_path.remove())
    if active and state.send_after is not None:
        actions += [
            DecisionModel.send_after.set(state.send_after.isoformat()),
            DecisionModel.due_shard.set(due_shard(state.customer_id)),
        ]
    else:
        actions += [DecisionModel.send_after.remove(), DecisionModel.due_shard.remove()]
    with TransactWrite(connection=DecisionModel._get_connection().connection) as transaction:
        transaction.update(
            DecisionModel(state.customer_id, state.state_key),
            actions=actions,
            condition=DecisionModel.journey_version == previous_version,
        )
        if decision is not None:
            transaction.save(
                DecisionModel(
                    decision.customer_id,
                    decision.decision_key,
                    campaign_id=decision.campaign_id,
                    trigger_id=decision.trigger_id,
                    decided_at=decision.decided_at.isoformat(),
                    outcome=decision_outcome or decision.outcome,
                    reason=decision.reason,
                    channel=decision.channel,
                    catalogue_version=catalogue_version,
                    trigger_occurred_at=decision.decided_at.isoformat(),
                ),
                condition=DecisionModel.decision_key.does_not_exist(),
            )
    return True


def try_write(
    previous_version: int,
    state: JourneyState,
    decision: Decision | None,
    decision_outcome: str | None,
    catalogue_version: str,
) -> bool:
    """:func:`write`, False when a condition did not hold (anything else is raised: transient)."""
    try:
        return write(previous_version, state, decision, decision_outcome, catalogue_version)
    except TransactWriteError as exc:
        if cancelled_by_condition(exc):
            return False
        raise


def for_journey(journey_id: str) -> tuple[list[JourneyState], list[DecisionRecord]]:
    """A journey's state items and its send steps' decisions (one query of the by-campaign index)."""
    states: list[JourneyState] = []
    decisions: list[DecisionRecord] = []
    for item in DecisionModel.by_campaign.query(journey_id):
        if item.journey_status:
            states.append(_state(item))
        else:
            decisions.append(DecisionRecord.model_validate(item.attribute_values))
    return states, decisions
