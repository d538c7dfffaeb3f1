"""Recognising DynamoDB outcomes that are not failures (a condition that did not hold)."""


def is_conditional_failure(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"
