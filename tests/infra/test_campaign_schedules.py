"""Issue 18 in the synthesised stack: the due sweep runs every 5 minutes on the sparse due index, and the
daily sweep's segments reach the campaigns queue through one bus rule."""

from __future__ import annotations

from shared.dal.models import table_specs
from shared.events import RULES, SOURCE

from .conftest import Synth
from .helpers import get_att


def test_due_sweep_every_five_minutes(dev: Synth) -> None:
    rule = dev.resources[dev.logical_id(dev.stack.campaigns.due_sweep)]["Properties"]
    assert rule["ScheduleExpression"] == dev.stack.config.campaign_due_sweep_schedule == "rate(5 minutes)"
    (target,) = rule["Targets"]
    assert target["Arn"] == get_att(dev.logical_id(dev.stack.campaigns.campaigns.function))
    assert target["Input"] == '{"sweep":"due"}'
    assert target["DeadLetterConfig"]["Arn"] == get_att(dev.logical_id(dev.stack.routing.target_dlq))


def test_decisions_have_a_sparse_due_index_keyed_by_shard_and_send_time() -> None:
    spec = next(s for s in table_specs() if s.logical_name == "CampaignDecisions")
    due = next(ix for ix in spec.global_indexes if ix.name == "due")
    assert (due.partition_key.name, due.sort_key and due.sort_key.name) == ("due_shard", "send_after")


def test_sweep_segments_are_routed_to_the_campaigns_queue() -> None:
    pattern, queue = RULES["CampaignSweeps"]
    assert queue == "CampaignsQueue"
    assert pattern == {"source": [SOURCE], "detail-type": ["CampaignSweepRequested"]}
