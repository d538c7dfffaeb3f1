"""DynamoDB tables, one per :func:`shared.dal.models.table_specs` entry (the PynamoDB models are the source
of truth for key schemas, indexes, streams and TTL)."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from infra.config import StageConfig
from shared.dal.models import KeyAttribute, TableSpec, table_specs

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


def _attribute(key: KeyAttribute) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=_ATTRIBUTE_TYPES[key.type])


class DataTables(Construct):
    """Every table: on-demand, point-in-time recovery, encrypted (AWS managed key), optional deletion
    protection and retention (prod)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        self.specs: dict[str, TableSpec] = {}
        self.tables: dict[str, dynamodb.Table] = {}
        for spec in table_specs():
            table = dynamodb.Table(
                self,
                spec.logical_name,
                partition_key=_attribute(spec.partition_key),
                sort_key=_attribute(spec.sort_key) if spec.sort_key else None,
                billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                encryption=dynamodb.TableEncryption.AWS_MANAGED,
                stream=dynamodb.StreamViewType.NEW_IMAGE if spec.stream else None,
                time_to_live_attribute=spec.ttl_attribute,
                deletion_protection=config.deletion_protection,
                removal_policy=config.removal_policy,
            )
            for index in spec.global_indexes:
                table.add_global_secondary_index(
                    index_name=index.name,
                    partition_key=_attribute(index.partition_key),
                    sort_key=_attribute(index.sort_key) if index.sort_key else None,
                    projection_type=dynamodb.ProjectionType.ALL,
                )
            self.specs[spec.logical_name] = spec
            self.tables[spec.logical_name] = table

    def table(self, logical_name: str) -> dynamodb.Table:
        return self.tables[logical_name]

    def spec(self, logical_name: str) -> TableSpec:
        return self.specs[logical_name]
