"""The costs part of the demo portfolio, in two sections (portal/demo.py loads them in order).

**Costs** (``load_costs``): three months of a FOCUS export, imported for real. The export is
generated as a file (gzip CSV, FOCUS 1.x columns) and read by the same parser and service as any
customer export, so the demo exercises the real path. Most spend carries the ``use-case`` tag of
a demo use case, a slice of AI spend is untagged, and a shared platform account (networking, the
Kubernetes control plane, the retrieval layer's search cluster) carries no use case at all: what
allocation rules and shared pools are for.

**Allocation** (``load_allocation_demo``), loaded after the export. Rules: the shared platform
account is a pool split among the GenAI use cases in proportion to their direct cost; the
``use-case`` tag names the use case; the untagged GPU instance belongs to the ML platform team.
AWS Support, the credit and the scratch bucket match nothing and stay visible as unallocated.
Budgets: the support chatbot near 80 % of its budget in the latest month, the knowledge
assistant over it. KPI readings give value, so ROI shows.

Loading twice changes nothing: the same months give the same file, and the same file is an
unchanged import; each allocation object is looked up by name (or its use case and month) before
it is created, and allocation is a pure recomputation.
"""

import csv
import gzip
import io
import json
import random
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

from django.db.models import Sum

from costs.models import (
    AllocationRule,
    Budget,
    CostAllocation,
    CostSource,
    KpiReading,
    SharedPool,
    cost_import_root,
)
from costs.services.allocation import allocation_rule_save, shared_pool_save
from costs.services.allocation_engine import allocate
from costs.services.budgets import budget_save, check_budget_alerts
from costs.services.imports import cost_import_run
from costs.services.sources import cost_source_create, cost_source_update
from costs.services.value import kpi_reading_record
from inventory.models import Kpi, Team, UseCase
from portal.dates import month_start, next_month, previous_month

SOURCE_NAME = "Demo FOCUS export (AWS)"
PAYER_ACCOUNT = "210987654321"
AI_ACCOUNT = "111111111111"
PLATFORM_ACCOUNT = "222222222222"
MONTHS = 3
COLUMNS = (
    "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd",
    "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeClass", "ProviderName", "PublisherName",
    "InvoiceIssuerName", "ServiceName", "ServiceCategory", "SubAccountId", "SubAccountName", "ResourceId",
    "RegionId", "SkuId", "ConsumedQuantity", "ConsumedUnit", "BilledCost", "EffectiveCost", "ListCost",
    "ContractedCost", "Tags",
)  # fmt: skip
# use case key, service, resource, daily cost range (USD), effective / billed (commitment discounts)
TAGGED_SPEND = (
    ("UC-0001", "Amazon Bedrock", "bedrock/claude-support-bot", (38, 55), "1"),
    ("UC-0002", "Amazon Bedrock", "bedrock/agent-reply-suggestions", (12, 20), "1"),
    ("UC-0003", "Amazon SageMaker", "sagemaker/endpoint/legal-summariser", (25, 32), "0.72"),
    ("UC-0004", "Amazon EC2", "ec2/instance/i-0contractsearch-g5", (18, 24), "0.65"),
    ("UC-0005", "Amazon Bedrock", "bedrock/knowledge-assistant", (30, 44), "1"),
    ("UC-0007", "Amazon SageMaker", "sagemaker/endpoint/call-quality", (9, 14), "0.72"),
    ("UC-0008", "Amazon SageMaker", "sagemaker/training/volume-forecast", (4, 7), "0.72"),
    ("UC-0009", "Amazon SageMaker", "sagemaker/endpoint/invoice-fraud", (6, 9), "0.72"),
)
UNTAGGED_AI_SPEND = (
    ("Amazon EC2", "ec2/instance/i-0untagged-gpu-p4d", (22, 35)),
    ("Amazon S3", "s3/ml-scratch-bucket", (2, 4)),
)
PLATFORM_SPEND = (
    ("Amazon Elastic Kubernetes Service", "Compute", "eks/cluster/ml-platform", (7, 8)),
    ("Amazon VPC", "Networking", "vpc/nat-gateway/platform", (5, 9)),
    ("Amazon OpenSearch Service", "Databases", "opensearch/domain/shared-retrieval", (14, 17)),
)
SERVICE_CATEGORY = {
    "Amazon Bedrock": "AI and Machine Learning",
    "Amazon SageMaker": "AI and Machine Learning",
    "Amazon EC2": "Compute",
    "Amazon S3": "Storage",
}
TIME = "%Y-%m-%dT%H:%M:%SZ"


def demo_months(today: date | None = None) -> list[date]:
    """The last complete months, oldest first."""
    month = month_start(today or datetime.now(UTC).date())
    months = []
    for _ in range(MONTHS):
        month = previous_month(month)
        months.append(month)
    return sorted(months)


def _money(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.0000000001'))}"


def _row(
    month,
    day,
    *,
    account,
    account_name,
    service,
    category,
    resource,
    billed,
    effective,
    listed,
    tags,
    charge="Usage",
):
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return {
        "BillingAccountId": PAYER_ACCOUNT, "BillingAccountName": "Propylon Demo Corp", "BillingCurrency": "USD",
        "BillingPeriodStart": datetime(month.year, month.month, 1, tzinfo=UTC).strftime(TIME),
        "BillingPeriodEnd": datetime.combine(next_month(month), datetime.min.time(), tzinfo=UTC).strftime(TIME),
        "ChargePeriodStart": start.strftime(TIME), "ChargePeriodEnd": (start + timedelta(days=1)).strftime(TIME),
        "ChargeCategory": charge, "ChargeClass": "", "ProviderName": "AWS", "PublisherName": "AWS",
        "InvoiceIssuerName": "AWS", "ServiceName": service, "ServiceCategory": category,
        "SubAccountId": account, "SubAccountName": account_name,
        "ResourceId": f"arn:aws:{resource}" if resource else "NULL", "RegionId": "eu-west-1",
        "SkuId": "NULL",
        "ConsumedQuantity": "24" if resource else "NULL", "ConsumedUnit": "Hours" if resource else "NULL",
        "BilledCost": _money(billed), "EffectiveCost": _money(effective), "ListCost": _money(listed),
        "ContractedCost": _money(billed), "Tags": json.dumps(tags) if tags else "{}",
    }  # fmt: skip


def demo_rows(month: date) -> list[dict]:
    """One month of the demo export; the same month always gives the same rows."""
    generator = random.Random(f"propylon-demo-{month:%Y-%m}")  # noqa: S311  (demo figures, not security)

    def amount(low: int, high: int) -> Decimal:
        return Decimal(generator.randint(low * 10_000, high * 10_000)) / 10_000

    rows = []
    day = month
    while day < next_month(month):
        for key, service, resource, (low, high), ratio in TAGGED_SPEND:
            billed = amount(low, high)
            tags = {"use-case": key, "cost-center": "ai-portfolio"}
            rows.append(_row(month, day, account=AI_ACCOUNT, account_name="ai-workloads", service=service,
                             category=SERVICE_CATEGORY[service], resource=resource, billed=billed,
                             effective=billed * Decimal(ratio), listed=billed * Decimal("1.15"), tags=tags))  # fmt: skip
        for service, resource, (low, high) in UNTAGGED_AI_SPEND:
            billed = amount(low, high)
            rows.append(_row(month, day, account=AI_ACCOUNT, account_name="ai-workloads", service=service,
                             category=SERVICE_CATEGORY[service], resource=resource, billed=billed,
                             effective=billed, listed=billed, tags={}))  # fmt: skip
        for service, category, resource, (low, high) in PLATFORM_SPEND:
            billed = amount(low, high)
            rows.append(_row(month, day, account=PLATFORM_ACCOUNT, account_name="platform-shared", service=service,
                             category=category, resource=resource, billed=billed, effective=billed,
                             listed=billed, tags={"team": "ml-platform"}))  # fmt: skip
        day += timedelta(days=1)
    usage = sum(Decimal(row["BilledCost"]) for row in rows)
    rows.append(_row(month, month, account=AI_ACCOUNT, account_name="ai-workloads", service="AWS Support (Business)",
                     category="Management and Governance", resource="", billed=usage * Decimal("0.03"),
                     effective=usage * Decimal("0.03"), listed=usage * Decimal("0.03"), tags={}))  # fmt: skip
    rows.append(_row(month, month, account=AI_ACCOUNT, account_name="ai-workloads", service="AWS Credits",
                     category="Other", resource="", billed=Decimal("-150"), effective=Decimal("-150"),
                     listed=Decimal(0), tags={}, charge="Credit"))  # fmt: skip
    return rows


def write_demo_export(folder: Path, months: list[date]) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for month in months:
        writer.writerows(demo_rows(month))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "focus-demo-export.csv.gz"
    # mtime=0: the same rows give the same bytes, so reloading the demo is an unchanged import.
    data = gzip.compress(buffer.getvalue().encode(), mtime=0)
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)
    return path


def load_costs(people: dict) -> None:
    # Below the import root: a local source may read only there (docs/deployment.md).
    folder = cost_import_root() / "demo-billing"
    path = write_demo_export(folder, demo_months())
    source = CostSource.objects.filter(name=SOURCE_NAME).first() or cost_source_create(
        name=SOURCE_NAME,
        kind="focus",
        location=str(folder),
        description="Generated FOCUS 1.x export of the demo company's AWS payer account.",
    )
    if source.location != str(folder):
        # A demo made before the import root existed kept its folder outside it.
        source = cost_source_update(source=source, location=str(folder))
    cost_import_run(source=source, location=str(path), actor=people.get("admin"))


#
# Allocation: rules, the shared pool, budgets and KPI readings
#

POOL_NAME = "ML platform (shared account)"
POOL_MEMBERS = ("UC-0001", "UC-0002", "UC-0003", "UC-0004", "UC-0005")
# key, share of the latest month's spend the budget should show (0.82: near 80 %; 1.15: over)
BUDGETS = (("UC-0001", Decimal("0.82")), ("UC-0005", Decimal("1.15")))
# use case, KPI name, readings per demo month (oldest first), explicit money (None: value x unit)
READINGS = (
    ("UC-0001", "Tickets deflected per month", (Decimal("3150"), Decimal("3620"), Decimal("4180")), None),
    ("UC-0009", "Fraud caught before payment", (Decimal("182000"), Decimal("164500"), Decimal("231000")),
     (Decimal("41200.00"), Decimal("37900.00"), Decimal("52300.00"))),
)  # fmt: skip


def _rules(people: dict) -> None:
    actor = people.get("coelead")
    pool = SharedPool.objects.filter(name=POOL_NAME).first()
    if pool is None:
        members = [{"use_case": use_case} for use_case in UseCase.objects.filter(key__in=POOL_MEMBERS)]
        pool = shared_pool_save(
            name=POOL_NAME,
            split_method="direct_cost",
            description="EKS control plane, NAT gateway and the shared OpenSearch retrieval cluster.",
            members=members,
            actor=actor,
        )
    wanted = (
        {"name": "Platform account is shared", "position": 10, "sub_account_id": PLATFORM_ACCOUNT,
         "target_kind": "pool", "target_pool": pool},
        {"name": "Use-case tag names the use case", "position": 20, "kind": "use_case_key_tag"},
        {"name": "Untagged GPU box belongs to ML platform", "position": 30, "resource_pattern": "*i-0untagged-gpu-*",
         "resource_pattern_kind": "glob", "target_kind": "team", "target_team": Team.objects.get(slug="ml-platform")},
    )  # fmt: skip
    for fields in wanted:
        if not AllocationRule.objects.filter(name=fields["name"]).exists():
            allocation_rule_save(actor=actor, **fields)


def _budgets(latest: date) -> None:
    for key, share in BUDGETS:
        use_case = UseCase.objects.get(key=key)
        if Budget.objects.filter(use_case=use_case, currency="USD").exists():
            continue
        spent = CostAllocation.objects.filter(use_case=use_case, period=latest, currency="USD").aggregate(
            total=Sum("effective_cost")
        )["total"] or Decimal(0)
        # Rounded up to $10: a figure a person would set, still near the share wanted.
        amount = max(
            (Decimal(spent) / share / 10).quantize(Decimal(1), rounding=ROUND_CEILING) * 10, Decimal(10)
        )
        budget_save(use_case=use_case, amount=amount, currency="USD", notes="Demo budget.")


def _readings(people: dict, months: list[date]) -> None:
    for key, name, values, money in READINGS:
        kpi = Kpi.objects.filter(use_case__key=key, name=name).first()
        if kpi is None:
            continue
        for index, month in enumerate(months):
            if KpiReading.objects.filter(kpi=kpi, period=month).exists():
                continue
            kpi_reading_record(
                kpi=kpi,
                period=month,
                value=values[index % len(values)],
                monetized_value=money[index % len(money)] if money else None,
                note="Demo reading.",
                actor=people.get(kpi.use_case.accountable_owner.username)
                if kpi.use_case.accountable_owner
                else None,
            )


def load_allocation_demo(people: dict) -> None:
    source = CostSource.objects.filter(name=SOURCE_NAME).first()
    if source is None:
        return
    months = demo_months()
    _rules(people)
    allocate(source=source)
    _budgets(months[-1])
    _readings(people, months)
    check_budget_alerts(periods=[months[-1]])
