"""Reads behind the cost pages and API: series by month, the portfolio overview, a use case's
cost tab, reconciliation, ROI and budget status.

Every figure starts from a restricted queryset (portal.permissions.restrict) and is one
aggregate query over pre-computed CostAllocation rows, so the number of queries is the same for
ten line items or ten million, and for five use cases or five thousand (DESIGN.md §6). The one
read of line items — what drives a use case's direct cost — is a single grouped query per
source over one month.
"""

from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal

from django.db.models import CharField, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from costs.choices import AllocationBucketChoices, AllocationRuleKindChoices
from costs.models import (
    Budget,
    CostAllocation,
    CostDriver,
    CostImport,
    CostProfileTotal,
    CostSource,
    KpiReading,
)
from costs.money import cents, exact
from costs.policies import may_view_billing
from costs.selectors.budgets import BudgetStatus, budget_statuses, spend_by
from costs.selectors.reconciliation import reconcile
from costs.selectors.value import portfolio_roi, roi_by_use_case, unit_costs
from costs.services.allocation_engine import (
    _key_value,
    _key_value_alias,
    _tag_alias,
    _tag_text,
    rule_condition,
)
from inventory.models import Team, UseCase
from portal.dates import month_start, months_between, next_month, previous_month
from portal.permissions import Action, restrict

ZERO = Decimal(0)
GROUPINGS = ("use_case", "team", "business_unit")
DEFAULT_MONTHS = 6
TOP = 10


def this_month() -> date:
    return month_start(datetime.now(UTC).date())


def last_month(end: date) -> date:
    """The last month of a range whose ``end`` is exclusive."""
    return previous_month(end)


def month_range(start: date | None, last: date | None, *, first: date | None = None) -> tuple[date, date]:
    """[start, end) from an inclusive first and last month; default: the six months up to the
    latest month with billing data (this month once it has data), starting no earlier than the
    first month with data (``first``, else the first month with billing data) — months before
    it would be drawn as zeros, and every line would seem to ramp up from nothing."""
    end = next_month(month_start(last)) if last else next_month(budget_period())
    if start is None:
        start = end
        for _ in range(DEFAULT_MONTHS):
            start = previous_month(start)
        first = first or first_period()
        if first is not None and start < first < end:
            start = first
    start = month_start(start)
    if start >= end:
        start = previous_month(end)
    return start, end


def allocations_visible_to(user) -> QuerySet:
    return restrict(CostAllocation.objects.all(), user, Action.VIEW)


def sees_whole_bill(user) -> bool:
    return may_view_billing(user)


def _money(value) -> Decimal:
    """An exact sum (never rounded here: figures are rounded once, when shown; costs.money)."""
    return exact(value)


#
# Series
#


def _grouping(rows: QuerySet, by: str) -> QuerySet:
    """Rows with ``g_key`` and ``g_label`` for the grouping; team-level and unallocated cost
    get their own keys so that nothing silently disappears from a chart."""
    if by == "use_case":
        return rows.annotate(
            g_key=Coalesce(
                F("use_case__key"), F("team__slug"), Value("unallocated"), output_field=CharField()
            ),
            g_label=Coalesce(
                F("use_case__name"), F("team__name"), Value("Unallocated"), output_field=CharField()
            ),
            g_kind=F("bucket"),
        )
    if by == "team":
        return rows.annotate(
            g_key=Coalesce(
                F("team__slug"),
                F("use_case__owning_team__slug"),
                Value("unallocated"),
                output_field=CharField(),
            ),
            g_label=Coalesce(
                F("team__name"),
                F("use_case__owning_team__name"),
                Value("Unallocated"),
                output_field=CharField(),
            ),
            g_kind=Value("team"),
        )
    return rows.annotate(
        g_key=Coalesce(
            F("team__business_unit__slug"),
            F("use_case__business_unit__slug"),
            Value("unallocated"),
            output_field=CharField(),
        ),
        g_label=Coalesce(
            F("team__business_unit__name"),
            F("use_case__business_unit__name"),
            Value("Unallocated"),
            output_field=CharField(),
        ),
        g_kind=Value("business_unit"),
    )


def monthly_series(
    rows: QuerySet, *, by: str, start: date, end: date, limit: int | None = None
) -> list[dict]:
    """One series per group and currency: effective cost per month in [start, end), biggest
    total first. With ``limit``, the biggest groups are picked in SQL first, so the cost of the
    page does not grow with the number of use cases that have cost (docs/benchmarks.md)."""
    months = months_between(start, end)
    labels = [f"{month:%Y-%m}" for month in months]
    index = {month: position for position, month in enumerate(months)}
    in_range = _grouping(rows.filter(period__gte=start, period__lt=end), by)
    if limit:
        biggest = (
            in_range.values("g_key", "currency")
            .annotate(total=Sum("effective_cost"))
            .order_by("-total", "g_key")
        )[:limit]
        wanted = {(row["g_key"], row["currency"]) for row in biggest}
        in_range = in_range.filter(g_key__in={key for key, _currency in wanted})
    grouped = (
        in_range.values("g_key", "g_label", "g_kind", "currency", "period")
        .annotate(amount=Sum("effective_cost"))
        .order_by()
    )
    series: dict[tuple, dict] = {}
    for group in grouped:
        key = (group["g_key"], group["currency"])
        if limit and key not in wanted:
            continue
        entry = series.get(key)
        if entry is None:
            label = group["g_label"]
            if by == "use_case" and group["g_kind"] == AllocationBucketChoices.TEAM:
                label = f"{label} (team-level)"
            entry = series[key] = {
                "key": group["g_key"],
                "label": label,
                "currency": group["currency"],
                "months": labels,  # shared, never changed: the same months for every series
                "amounts": [ZERO] * len(months),
                "kind": group["g_kind"],
            }
        entry["amounts"][index[group["period"]]] += _money(group["amount"])
    result = []
    for entry in series.values():
        entry["total"] = sum(entry["amounts"], ZERO)
        result.append(entry)
    result.sort(key=lambda entry: (-entry["total"], entry["label"]))
    return result[:limit] if limit else result


def month_totals(rows: QuerySet, *, start: date, end: date) -> list[dict]:
    """Per currency: total, direct, shared and unallocated per month (one query)."""
    months = months_between(start, end)
    index = {month: position for position, month in enumerate(months)}
    totals: dict[str, dict] = {}
    grouped = (
        rows.filter(period__gte=start, period__lt=end)
        .values("currency", "period", "bucket", "cost_kind")
        .annotate(amount=Sum("effective_cost"))
        .order_by()
    )
    for group in grouped:
        entry = totals.setdefault(
            group["currency"],
            {
                "currency": group["currency"],
                "months": [f"{month:%Y-%m}" for month in months],
                "direct": [ZERO] * len(months),
                "shared": [ZERO] * len(months),
                "unallocated": [ZERO] * len(months),
            },
        )
        if group["bucket"] == AllocationBucketChoices.UNALLOCATED:
            part = "unallocated"
        elif group["cost_kind"] == "shared":
            part = "shared"
        else:
            part = "direct"
        entry[part][index[group["period"]]] += _money(group["amount"])
    for entry in totals.values():
        entry["total"] = [
            a + b + c for a, b, c in zip(entry["direct"], entry["shared"], entry["unallocated"], strict=True)
        ]
        entry["table"] = [
            row
            for row in zip(entry["months"], entry["direct"], entry["shared"], entry["unallocated"], entry["total"],
                           strict=True)
            if any(row[1:])
        ]  # fmt: skip
        entry["grand_total"] = sum(entry["total"], ZERO)
        entry["unallocated_total"] = sum(entry["unallocated"], ZERO)
        entry["unallocated_share"] = (
            (entry["unallocated_total"] * 100 / entry["grand_total"]).quantize(Decimal("0.1"))
            if entry["grand_total"]
            else None
        )
    return sorted(totals.values(), key=lambda entry: -entry["grand_total"])


def chart_series(series: list[dict]) -> list[dict]:
    """Plotly gets strings at the JSON boundary (json_script): money stays Decimal until here."""
    return [
        {
            "name": f"{entry['label']} ({entry['currency']})",
            "x": entry["months"],
            "y": [str(a) for a in entry["amounts"]],
        }
        for entry in series
    ]


#
# Pages
#


def portfolio_overview(user, *, start: date, end: date, team: str = "", business_unit: str = "") -> dict:
    rows = allocations_visible_to(user)
    if team:
        rows = rows.filter(Q(team__slug=team) | Q(use_case__owning_team__slug=team))
    if business_unit:
        rows = rows.filter(
            Q(team__business_unit__slug=business_unit) | Q(use_case__business_unit__slug=business_unit)
        )
    totals = month_totals(rows, start=start, end=end)
    last = previous_month(end)
    spends = spend_by(rows.annotate(everything=Value(1)), target="everything", period=last)
    for entry in totals:
        spend = spends.get((1, entry["currency"]))
        entry["forecast_month"] = last
        entry["forecast"] = None if spend is None or spend.forecast is None else cents(spend.forecast)
        entry["forecast_complete"] = spend is not None and spend.complete
    by_business_unit = monthly_series(rows, by="business_unit", start=start, end=end)
    by_team = monthly_series(rows, by="team", start=start, end=end)
    top_use_cases = monthly_series(
        rows.filter(use_case__isnull=False), by="use_case", start=start, end=end, limit=TOP
    )
    return {
        "totals": totals,
        "by_business_unit": by_business_unit,
        "by_team": by_team,
        "top_use_cases": top_use_cases,
        "chart": {
            "charts": [
                {
                    "element": f"chart-total-{entry['currency']}",
                    "type": "bar",
                    "stacked": True,
                    "series": [
                        {"name": "Direct", "x": entry["months"], "y": [str(v) for v in entry["direct"]]},
                        {"name": "Shared", "x": entry["months"], "y": [str(v) for v in entry["shared"]]},
                        {
                            "name": "Unallocated",
                            "x": entry["months"],
                            "y": [str(v) for v in entry["unallocated"]],
                        },
                    ],
                    "currency": entry["currency"],
                }
                for entry in totals
            ]
            + [
                {
                    "element": "chart-business-units",
                    "type": "bar",
                    "stacked": True,
                    "series": chart_series(by_business_unit),
                },
                {
                    "element": "chart-teams",
                    "type": "line",
                    "stacked": False,
                    "series": chart_series(by_team[:TOP]),
                },
            ]
        },
    }


def may_see_costs_of(user, use_case) -> bool:
    """Cost of a use case: for portfolio readers, and for the teams that own it."""
    if sees_whole_bill(user):
        return True

    return Team.objects.filter(pk=use_case.owning_team_id, group__user=user).exists()


def cost_drivers(use_case, *, period: date) -> dict:
    """Top services and resources behind the use case's direct cost in one month, across
    sources: read from what the allocation engine kept (CostDriver), never from line items."""
    result = {}
    for kind, key in (("service", "services"), ("resource", "resources")):
        grouped = (
            CostDriver.objects.filter(use_case=use_case, period=period, kind=kind)
            .values("name", "currency")
            .annotate(amount=Sum("effective_cost"), lines=Sum("line_count"))
            .order_by("-amount", "name")[:TOP]
        )
        result[key] = [
            {"name": row["name"] or "—", "currency": row["currency"], "amount": _money(row["amount"]),
             "lines": row["lines"]}
            for row in grouped
        ]  # fmt: skip
    return result


def use_case_month_range(user, use_case, start: date | None, last: date | None) -> tuple[date, date]:
    """The Costs tab's range: by default it starts at the use case's own first month with cost
    (as the user sees it), not at the portfolio's, whose earlier months would be zero bars here."""
    first = (
        allocations_visible_to(user)
        .filter(use_case=use_case)
        .order_by("period")
        .values_list("period", flat=True)
        .first()
    )
    return month_range(start, last, first=first)


def use_case_costs(user, use_case, *, start: date, end: date, period: date | None = None) -> dict:
    """The use case's "Costs" tab."""
    if not may_see_costs_of(user, use_case):
        return {"costs_hidden": True}
    rows = allocations_visible_to(user).filter(use_case=use_case)
    months = months_between(start, end)
    index = {month: position for position, month in enumerate(months)}
    per_currency: dict[str, dict] = {}
    pools: dict[tuple, dict] = defaultdict(lambda: {"amount": ZERO})
    grouped = (
        rows.filter(period__gte=start, period__lt=end)
        .values("currency", "period", "cost_kind", "pool__name")
        .annotate(amount=Sum("effective_cost"))
        .order_by()
    )
    for group in grouped:
        entry = per_currency.setdefault(
            group["currency"],
            {"currency": group["currency"], "months": [f"{m:%Y-%m}" for m in months],
             "direct": [ZERO] * len(months), "shared": [ZERO] * len(months)},
        )  # fmt: skip
        entry[group["cost_kind"]][index[group["period"]]] += _money(group["amount"])
        if group["pool__name"]:
            pool = pools[(group["pool__name"], group["currency"])]
            pool.update(name=group["pool__name"], currency=group["currency"])
            pool["amount"] += _money(group["amount"])
    for entry in per_currency.values():
        entry["total"] = sum(entry["direct"], ZERO) + sum(entry["shared"], ZERO)
        entry["rows"] = [
            {"month": month, "direct": direct, "shared": shared, "total": direct + shared}
            for month, direct, shared in zip(entry["months"], entry["direct"], entry["shared"], strict=True)
            if direct or shared
        ]
    latest = period or rows.order_by("-period").values_list("period", flat=True).first()
    drivers = cost_drivers(use_case, period=latest) if latest else {"services": [], "resources": []}
    readings = restrict(KpiReading.objects.all(), user)
    roi = roi_by_use_case(allocations=rows, readings=readings, start=start, end=end).get(use_case.pk)
    budgets = budget_statuses(
        restrict(Budget.objects.filter(use_case=use_case), user), period=budget_period()
    )
    return {
        "costs_hidden": False,
        "cost_currencies": sorted(per_currency.values(), key=lambda entry: -entry["total"]),
        "cost_pools": sorted(pools.values(), key=lambda entry: -entry["amount"]),
        "drivers_period": latest,
        "drivers": drivers,
        "unit_costs": unit_costs(use_case=use_case, allocations=rows, start=start, end=end),
        "roi": roi,
        "budgets": budgets,
        "cost_range": (start, previous_month(end)),
        "cost_chart": {
            "charts": [
                {
                    "element": f"chart-uc-{entry['currency']}",
                    "type": "bar",
                    "stacked": True,
                    "currency": entry["currency"],
                    "series": [
                        {"name": "Direct", "x": entry["months"], "y": [str(v) for v in entry["direct"]]},
                        {"name": "Shared", "x": entry["months"], "y": [str(v) for v in entry["shared"]]},
                    ],
                }
                for entry in per_currency.values()
            ]
        },
    }


def reconciliation_for(user, *, start: date, end: date):
    sources = restrict(CostSource.objects.all(), user, Action.VIEW)
    return reconcile(sources=sources, period_start=start, period_end=end)


def roi_report(user, *, start: date, end: date) -> dict:
    allocations = allocations_visible_to(user)
    readings = restrict(KpiReading.objects.all(), user)
    per_use_case = roi_by_use_case(allocations=allocations, readings=readings, start=start, end=end)
    use_cases = {
        item.pk: item
        for item in restrict(UseCase.objects.all(), user)
        .filter(pk__in=per_use_case)
        .select_related("owning_team")
    }
    rows = [{"use_case": use_cases[pk], "roi": roi} for pk, roi in per_use_case.items() if pk in use_cases]
    rows.sort(key=lambda row: (row["roi"].ratio is None, -(row["roi"].ratio or 0), row["use_case"].key))
    return {"rows": rows, "portfolio": portfolio_roi({row["use_case"].pk: row["roi"] for row in rows})}


def budget_status_dict(status: BudgetStatus) -> dict:
    budget = status.budget
    return {
        "budget": budget.pk,
        "target": str(budget.use_case.key if budget.use_case_id else budget.team.slug),
        "period": f"{status.period:%Y-%m}",
        "amount": str(budget.amount),
        "currency": budget.currency,
        "actual": str(status.actual),  # already rounded once (BudgetStatus)
        "percent": str(status.percent),
        "forecast": None if status.forecast is None else str(status.forecast),
        "forecast_percent": None if status.forecast_percent is None else str(status.forecast_percent),
        "thresholds_reached": status.reached,
        "state": status.state,
    }


def rule_previews(rules: list, *, period: date | None) -> dict[int, dict]:
    """For every rule at once (one query): line items it matches in the month as if it ran
    first, with their effective cost; plus what it actually took after the rules before it (from
    the allocation rows, one more query)."""

    result = {rule.pk: {"rows": 0, "amounts": {}, "taken": {}} for rule in rules}
    if not rules or period is None:
        return result
    # Per-profile totals kept by the last allocation of each (source, period): every rule is
    # evaluated once per billing profile, never over line items.
    items = CostProfileTotal.objects.filter(period=period)
    keys = sorted({key for rule in rules for key in rule.tag_keys})
    items = items.annotate(**{_tag_alias(key): _tag_text(key, "profile__") for key in keys})
    for rule in rules:
        if rule.kind == AllocationRuleKindChoices.USE_CASE_KEY_TAG:
            items = items.annotate(**{_key_value_alias(rule): _key_value(rule)})
    conditions = {}
    for rule in rules:
        condition = rule_condition(rule, prefix="profile__")
        if rule.source_id:
            condition &= Q(source_id=rule.source_id)
        conditions[rule.pk] = condition
    counts = items.aggregate(**{f"n{pk}": Sum("line_count", filter=c) for pk, c in conditions.items()})
    amount_aggregates = {f"a{pk}": Sum("effective_cost", filter=c) for pk, c in conditions.items()}
    per_currency = items.values("currency").order_by().annotate(**amount_aggregates)
    for group in per_currency:
        for rule in rules:
            amount = group[f"a{rule.pk}"]
            if amount is not None:
                result[rule.pk]["amounts"][group["currency"]] = _money(amount)
    for rule in rules:
        result[rule.pk]["rows"] = counts[f"n{rule.pk}"] or 0
    # Direct rows and a pool's shared rows both carry the rule: together, what the rule took.
    taken = (
        CostAllocation.objects.filter(period=period, rule__in=[rule.pk for rule in rules])
        .values("rule_id", "currency")
        .annotate(amount=Sum("effective_cost"))
        .order_by()
    )
    for group in taken:
        result[group["rule_id"]]["taken"][group["currency"]] = _money(group["amount"])
    return result


def budget_period() -> date:
    """The month budgets show by default: this month if it has data, else the latest that has."""
    latest = (
        CostImport.objects.filter(is_current=True, billing_period_start__lte=this_month())
        .order_by("-billing_period_start")
        .values_list("billing_period_start", flat=True)
        .first()
    )
    return latest or this_month()


def first_period() -> date | None:
    """The first month with billing data (a current import)."""
    return (
        CostImport.objects.filter(is_current=True, billing_period_start__isnull=False)
        .order_by("billing_period_start")
        .values_list("billing_period_start", flat=True)
        .first()
    )


def preview_period() -> date | None:
    """The latest complete month with data (else the latest month with data)."""
    periods = sorted(
        set(CostImport.objects.filter(is_current=True, billing_period_start__isnull=False)
            .values_list("billing_period_start", flat=True))
    )  # fmt: skip
    earlier = [p for p in periods if p < this_month()]
    return earlier[-1] if earlier else (periods[-1] if periods else None)


def cost_to_date(user, use_case) -> list[dict] | None:
    """What the use case has cost since its first allocated month, per currency (direct and
    its share of pools): the gate review page's "cost so far". Exact sums, rounded once when
    shown, as on the Costs tab, so the two pages agree. None when the person may not see the
    use case's cost; an empty list when nothing is attributed yet."""
    if not may_see_costs_of(user, use_case):
        return None
    grouped = (
        allocations_visible_to(user)
        .filter(use_case=use_case)
        .values("currency", "period", "cost_kind")
        .annotate(amount=Sum("effective_cost"))
        .order_by()
    )
    per_currency: dict[str, dict] = {}
    for group in grouped:
        entry = per_currency.setdefault(
            group["currency"],
            {
                "currency": group["currency"],
                "direct": ZERO,
                "shared": ZERO,
                "first": group["period"],
                "last": group["period"],
            },
        )
        entry[group["cost_kind"]] += _money(group["amount"])
        entry["first"], entry["last"] = (
            min(entry["first"], group["period"]),
            max(entry["last"], group["period"]),
        )
    for entry in per_currency.values():
        entry["total"] = entry["direct"] + entry["shared"]
    return sorted(per_currency.values(), key=lambda entry: -entry["total"])
