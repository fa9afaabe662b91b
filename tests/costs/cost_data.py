"""Small, exact billing data for the allocation, reconciliation, budget and value tests: FOCUS
rows written to a real CSV file and imported through the real import service."""

import itertools
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from costs.services.imports import cost_import_run
from costs.services.sources import cost_source_create
from inventory.services.usecases import usecase_create
from inventory.testing import TeamFactory
from portal.dates import next_month
from portal.testing.factories import UserFactory
from tests.costs.billing_files import FOCUS_COLUMNS, write_csv

TIME = "%Y-%m-%dT%H:%M:%SZ"
_files = itertools.count(1)


def line(month: date, cost: str, *, day: int = 1, tags: dict | None = None, service: str = "Amazon Bedrock",
         account: str = "111122223333", sub_account: str = "444455556666", resource: str = "",
         provider: str = "AWS", currency: str = "USD", effective: str | None = None) -> dict:  # fmt: skip
    start = datetime(month.year, month.month, day, tzinfo=UTC)
    period_start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end_month = next_month(month)
    return {
        "BillingAccountId": account, "BillingAccountName": "Payer", "BillingCurrency": currency,
        "BillingPeriodStart": period_start.strftime(TIME),
        "BillingPeriodEnd": datetime(end_month.year, end_month.month, 1, tzinfo=UTC).strftime(TIME),
        "ChargePeriodStart": start.strftime(TIME), "ChargePeriodEnd": (start + timedelta(days=1)).strftime(TIME),
        "ChargeCategory": "Usage", "ChargeClass": "", "ProviderName": provider, "PublisherName": provider,
        "InvoiceIssuerName": provider, "ServiceName": service, "ServiceCategory": "AI and Machine Learning",
        "SubAccountId": sub_account, "ResourceId": resource, "RegionId": "eu-west-1", "SkuId": "SKU",
        "ConsumedQuantity": "1", "ConsumedUnit": "Hours", "BilledCost": cost,
        "EffectiveCost": effective if effective is not None else cost, "ListCost": cost, "ContractedCost": cost,
        "Tags": json.dumps(tags) if tags else "", "x_ServiceCode": "",
    }  # fmt: skip


def import_lines(source, tmp_path, rows: list[dict]):
    """Import these rows into ``source``; returns the imports made current."""
    path = write_csv(tmp_path / f"focus-{next(_files)}.csv", FOCUS_COLUMNS, rows)
    return cost_import_run(source=source, location=str(path)).imports


def make_source(name: str = "Cloud"):
    return cost_source_create(name=name, kind="focus", location="")


def make_team(name: str):
    lead = UserFactory(username=f"lead-{name.lower().replace(' ', '-')}")
    return TeamFactory(name=name, lead=lead, members=[lead])


def make_use_case(team, name: str, **optional):
    return usecase_create(
        actor=team.lead, owning_team=team, accountable_owner=team.lead, name=name,
        purpose="Answers questions.", ai_kind="generative", data_sensitivity="internal", **optional,
    )  # fmt: skip


def D(value: str) -> Decimal:
    return Decimal(value)
