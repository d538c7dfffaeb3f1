"""One Logger and Metrics per function (service name from POWERTOOLS_SERVICE_NAME).

The Tracer lives in :mod:`functions.common.tracing`: importing the X-Ray SDK costs about 0.25 s of cold
start, so the public tracking function relies on Lambda's active tracing alone (invocation segments, no
in-process subsegments) and only the other functions import it. Every handler imports this module, so the
SnapStart runtime hooks (:mod:`functions.common.snapstart`) are registered in every function.
"""

import warnings

from aws_lambda_powertools import Logger, Metrics

from functions.common import snapstart  # noqa: F401  (registers the SnapStart runtime hooks)

# An invocation that records no metric (a 404, a batch of skipped records) is normal here, not a mistake
# worth a UserWarning in the logs at every such invocation.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

logger = Logger()
metrics = Metrics(namespace="RelationshipMarketing")
