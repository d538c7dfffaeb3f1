"""DynamoDB tables: the synthesised tables equal the PynamoDB models' table_specs()."""

from __future__ import annotations

from typing import Any

import pytest

from shared.dal.models import KeyAttribute, TableSpec, table_specs

from .conftest import Synth

SPECS = table_specs()


def _key_schema(partition: KeyAttribute, sort: KeyAttribute | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition.name, "KeyType": "HASH"}]
    if sort:
        schema.append({"AttributeName": sort.name, "KeyType": "RANGE"})
    return schema


def _attribute_definitions(spec: TableSpec) -> list[dict[str, str]]:
    keys = [spec.partition_key, spec.sort_key]
    for index in spec.global_indexes:
        keys += [index.partition_key, index.sort_key]
    unique = {k.name: k.type for k in keys if k is not None}
    return sorted(({"AttributeName": n, "AttributeType": t} for n, t in unique.items()), key=str)


def _table(synth: Synth, spec: TableSpec) -> dict[str, Any]:
    logical_id = synth.logical_id(synth.stack.data.tables[spec.logical_name])
    resource: dict[str, Any] = synth.resources[logical_id]
    assert resource["Type"] == "AWS::DynamoDB::Table"
    return resource


def test_one_table_per_spec(dev: Synth) -> None:
    tables = [r for r in dev.resources.values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert len(tables) == len(SPECS)
    assert sorted(dev.stack.data.tables) == sorted(s.logical_name for s in SPECS)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.logical_name)
def test_table_matches_model(dev: Synth, spec: TableSpec) -> None:
    props = _table(dev, spec)["Properties"]
    assert props["KeySchema"] == _key_schema(spec.partition_key, spec.sort_key)
    assert sorted(props["AttributeDefinitions"], key=str) == _attribute_definitions(spec)
    expected_indexes = [
        {
            "IndexName": index.name,
            "KeySchema": _key_schema(index.partition_key, index.sort_key),
            "Projection": {"ProjectionType": "ALL"},
        }
        for index in spec.global_indexes
    ]
    assert props.get("GlobalSecondaryIndexes", []) == expected_indexes
    if spec.stream:
        assert props["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    else:
        assert "StreamSpecification" not in props
    if spec.ttl_attribute:
        assert props["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in props


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.logical_name)
def test_table_protection(dev: Synth, prod: Synth, spec: TableSpec) -> None:
    for synth in (dev, prod):
        props = _table(synth, spec)["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["SSESpecification"]["SSEEnabled"] is True
    assert _table(prod, spec)["Properties"]["DeletionProtectionEnabled"] is True
    assert _table(prod, spec)["DeletionPolicy"] == "Retain"
    assert _table(dev, spec)["DeletionPolicy"] == "Delete"


def test_interactions_have_ttl_and_stream() -> None:
    interactions = next(s for s in SPECS if s.logical_name == "Interactions")
    assert interactions.ttl_attribute == "expires_at"
    assert interactions.stream
