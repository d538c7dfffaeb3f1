"""Fixtures for the campaign tests: the default catalogue and a customer factory."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shared.campaigns.catalogue import Catalogue, load_catalogue
from shared.campaigns.customer import CustomerView

CustomerFactory = Callable[..., CustomerView]


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture
def make_customer() -> CustomerFactory:
    """A consenting, reachable customer in Paris; keyword arguments override any field."""

    def make(**overrides: Any) -> CustomerView:
        data: dict[str, Any] = {
            "customer_id": "c-1",
            "email": "ada@example.com",
            "phone": "+33600000000",
            "first_name": "Ada",
            "timezone": "Europe/Paris",
            "consent": {"email": {"status": "granted", "source": "form"}, "sms": {"status": "granted"}},
            "created_at": "2024-02-01T10:00:00Z",
            "first_seen_at": "2024-02-01T10:00:00Z",
            "last_seen_at": "2025-12-20T10:00:00Z",
            "purchase_days": ["2024-03-10", "2025-06-01", "2025-12-20"],
            "total_spent": 240.0,
            "is_customer": True,
            "segment": "Loyal",
            "lead_score": 55.0,
            "stage": "customer",
        }
        data.update(overrides)
        return CustomerView.model_validate(data)

    return make
