"""Fixtures of the health-signal tests: environments, a use case of the support team, a token
that may post signals, and a helper that stores points directly."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from inventory.models import Environment
from operations.models import HealthSignal
from portal.models import TokenKind, TokenScope
from portal.services import api_token_create

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def environments(db):
    return {
        "production": Environment.objects.create(slug="production", name="Production", kind="production"),
        "staging": Environment.objects.create(slug="staging", name="Staging", kind="staging"),
    }


@pytest.fixture
def use_case(support_team, file_use_case):
    return file_use_case(support_team, submit=True)


@pytest.fixture
def token_client():
    """An API client authenticated by a new token of ``user`` with ``scopes``."""

    def make(user, *scopes, kind=TokenKind.MACHINE):
        token, key = api_token_create(user=user, name="monitoring", scopes=scopes or [TokenScope.SIGNALS_INGEST],
                                      kind=kind)  # fmt: skip
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        client.token = token
        return client

    return make


@pytest.fixture
def add_signal():
    def add(use_case, environment, metric, value, observed_at):
        return HealthSignal.objects.create(
            use_case=use_case,
            environment=environment,
            metric=metric,
            value=Decimal(str(value)),
            observed_at=observed_at,
        )

    return add
