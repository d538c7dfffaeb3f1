"""One Logger and Metrics per function (service name from POWERTOOLS_SERVICE_NAME).

The Tracer lives in :mod:`functions.common.tracing`: importing the X-Ray SDK costs about 0.25 s of cold
start, so the public tracking function relies on Lambda's active tracing alone (invocation segments, no
in-process subsegments) and only the other functions import it.
"""

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics(namespace="RelationshipMarketing")
