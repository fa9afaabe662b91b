"""The allocation part of the demo portfolio, loaded after the demo FOCUS export (costs/demo.py).

Rules: the shared platform account is a pool split among the GenAI use cases in proportion to
their direct cost; the ``use-case`` tag names the use case; the untagged GPU instance belongs to
the ML platform team. AWS Support, the credit and the scratch bucket match nothing and stay
visible as unallocated. Budgets: the support chatbot near 80 % of its budget in the latest month,
the knowledge assistant over it. KPI readings give value, so ROI shows.

Loading twice changes nothing: each object is looked up by name (or its use case and month)
before it is created, and allocation is a pure recomputation.
"""

from datetime import date
from decimal import ROUND_CEILING, Decimal

from django.db.models import Sum

from costs.demo import PLATFORM_ACCOUNT, SOURCE_NAME, demo_months
from costs.models import AllocationRule, Budget, CostAllocation, CostSource, KpiReading, SharedPool
from costs.services.allocation import allocation_rule_save, shared_pool_save
from costs.services.allocation_engine import allocate
from costs.services.budgets import budget_save, check_budget_alerts
from costs.services.value import kpi_reading_record
from inventory.models import Kpi, Team, UseCase

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
