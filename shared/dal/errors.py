"""Recognising DynamoDB and AWS outcomes: conditions that did not hold, and transient failures."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import PynamoDBException

from shared.dal.bus import PublishError

# Error codes that mean "the service is busy or briefly failing": the same request may succeed later.
TRANSIENT_ERROR_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "TransactionConflictException",
        "InternalServerError",
        "InternalFailure",
        "ServiceUnavailable",
        "SlowDown",
    }
)


def is_conditional_failure(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def is_transient_failure(exc: BaseException) -> bool:
    """Throttling, a 5xx or a network failure that outlasted the SDK's own retries (PynamoDB wraps the
    botocore error in ``cause``); a bus publish that EventBridge kept refusing counts too."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, PublishError | BotoCoreError):
            return True
        if isinstance(current, ClientError):
            error = current.response.get("Error", {})
            status = current.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            return error.get("Code") in TRANSIENT_ERROR_CODES or status >= 500
        current = getattr(current, "cause", None) or current.__cause__
    return False


# The data store's own failure type (PynamoDB's base error): handlers and services name this one, so none of
# them imports pynamodb (tests/architecture/test_data_access_boundary.py).
StoreError = PynamoDBException
