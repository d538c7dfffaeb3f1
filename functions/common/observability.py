"""One Logger, Metrics and Tracer per function (service name from POWERTOOLS_SERVICE_NAME)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
metrics = Metrics(namespace="RelationshipMarketing")
tracer = Tracer()
