"""AWS Cost Explorer GetCostAndUsage, grouped by the use-case tag and the service, per day.

Each (day, tag value, service) group becomes one line item: UnblendedCost is the billed cost,
AmortizedCost the effective cost; Cost Explorer has no public list price, so ListCost stays
empty. The whole month is pulled page by page (each page is a paid request); days Cost
Explorer marks ``Estimated`` make the import estimated, and the daily schedule pulls such a
month again until it is final.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from costs.choices import ChargeCategoryChoices
from costs.ingest import normalize as n
from costs.ingest.errors import CostImportError
from costs.ingest.readers import _aws_reason

BILLED_METRIC = "UnblendedCost"
EFFECTIVE_METRIC = "AmortizedCost"
MAX_PAGES = 1_000


@dataclass
class CostExplorerAnswer:
    """Every page of one month's answer, and what identifies it."""

    pages: list[dict] = field(default_factory=list)
    estimated: bool = False

    @property
    def identifier(self) -> str:
        # The numbers themselves identify the answer: a re-pull that returns the same figures
        # changes nothing, a revised estimate replaces the month.
        content = [page.get("ResultsByTime", []) for page in self.pages]
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()

    @property
    def group_count(self) -> int:
        return sum(
            len(result.get("Groups", [])) for page in self.pages for result in page.get("ResultsByTime", [])
        )


def request_for(period_start: date, period_end: date, tag_key: str) -> dict:
    return {
        "TimePeriod": {"Start": period_start.isoformat(), "End": period_end.isoformat()},
        "Granularity": "DAILY",
        "Metrics": [BILLED_METRIC, EFFECTIVE_METRIC],
        "GroupBy": [{"Type": "TAG", "Key": tag_key}, {"Type": "DIMENSION", "Key": "SERVICE"}],
    }


def fetch(client, *, period_start: date, period_end: date, tag_key: str, on_page=None) -> CostExplorerAnswer:
    answer = CostExplorerAnswer()
    request = request_for(period_start, period_end, tag_key)
    token = None
    while True:
        if len(answer.pages) >= MAX_PAGES:
            raise CostImportError(
                f"returned more than {MAX_PAGES} pages; narrow the source.", file="Cost Explorer"
            )
        try:
            page = client.get_cost_and_usage(**request, **({"NextPageToken": token} if token else {}))
        except Exception as exc:
            raise CostImportError(
                f"GetCostAndUsage failed ({_aws_reason(exc)}).",
                file="Cost Explorer",
                row=f"page {len(answer.pages) + 1}",
            ) from None
        page.pop("ResponseMetadata", None)
        answer.pages.append(page)
        answer.estimated = answer.estimated or any(r.get("Estimated") for r in page.get("ResultsByTime", []))
        if on_page:
            on_page(len(answer.pages))
        token = page.get("NextPageToken")
        if not token:
            return answer


def rows(
    answer: CostExplorerAnswer, *, period_start: date, period_end: date, tag_key: str
) -> Iterator[tuple[str, dict]]:
    """Normalised rows; the "row" of a message is the page, day and group."""
    for page_number, page in enumerate(answer.pages, start=1):
        for result in page.get("ResultsByTime", []):
            day_text = (result.get("TimePeriod") or {}).get("Start", "")
            for group in result.get("Groups", []):
                keys = group.get("Keys") or []
                where = f"page {page_number}, {day_text}, group {' / '.join(keys)}"
                try:
                    yield where, _row(result, group, period_start, period_end, tag_key)
                except CostImportError as exc:
                    raise exc.located(file="Cost Explorer", row=where) from None


def _row(result: dict, group: dict, period_start: date, period_end: date, tag_key: str) -> dict:
    period = result.get("TimePeriod") or {}
    start = n.timestamp(period.get("Start"), "TimePeriod.Start")
    end = n.timestamp(period.get("End"), "TimePeriod.End") if period.get("End") else start + timedelta(days=1)
    keys = group.get("Keys") or []
    tag_part = next((k for k in keys if k.startswith(f"{tag_key}$")), None)
    services = [k for k in keys if k is not tag_part]
    tags = {}
    if tag_part is not None:
        # "use-case$UC-0001"; "use-case$" is spend without the tag.
        value = tag_part.split("$", 1)[1]
        if value:
            tags[tag_key] = value
    metrics = group.get("Metrics") or {}
    amounts = {}
    units = set()
    for metric in (BILLED_METRIC, EFFECTIVE_METRIC):
        entry = metrics.get(metric)
        if not isinstance(entry, dict):
            raise CostImportError("is missing from the group's metrics.", column=metric)
        amounts[metric] = n.decimal(entry.get("Amount"), metric, required=True)
        units.add(n.currency(entry.get("Unit"), f"{metric}.Unit"))
    if len(units) > 1:
        raise CostImportError(
            f"metrics are in different currencies ({', '.join(sorted(units))}).", column=EFFECTIVE_METRIC
        )
    if start.date() < period_start or start.date() >= period_end:
        raise CostImportError(f"{start:%Y-%m-%d} is outside the month asked for.", column="TimePeriod.Start")
    return {
        "billing_period_start": period_start,
        "billing_period_end": period_end,
        "charge_period_start": start.astimezone(UTC),
        "charge_period_end": end.astimezone(UTC),
        "provider": "AWS",
        "billing_account_id": "",
        "sub_account_id": "",
        "service_name": n.text(services[0] if services else "", "SERVICE", "service_name"),
        "service_category": "",
        "resource_id": "",
        "region": "",
        "sku_id": "",
        "charge_category": ChargeCategoryChoices.USAGE,
        "charge_class": "",
        "provider_charge_type": "",
        "usage_quantity": None,
        "usage_unit": "",
        "billed_cost": amounts[BILLED_METRIC],
        "effective_cost": amounts[EFFECTIVE_METRIC],
        "list_cost": None,
        "billing_currency": units.pop(),
        "tags": tags,
    }


def today_utc() -> date:
    return datetime.now(UTC).date()
