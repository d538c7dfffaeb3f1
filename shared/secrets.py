"""Secrets, fetched once per container (powertools parameters cache them)."""

from __future__ import annotations

from shared.settings import get_settings


def token_secret() -> str:
    settings = get_settings()
    if not settings.token_secret_arn:
        return settings.token_secret
    from aws_lambda_powertools.utilities.parameters import get_secret  # only in the cloud path

    return str(get_secret(settings.token_secret_arn, max_age=3600))
