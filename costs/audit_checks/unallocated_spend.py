"""unallocated-spend: a cost source whose latest billing month leaves too much cost without a
use case.

Per source, its latest month with a current import, per currency: the share of the billed cost
that reaches no use case, over everything allocated (which reconciles to the import's billed
total: ``costs.selectors.reconciliation``). That is the *unallocated* bucket (no rule matched)
plus cost a rule gave to a *team* only (the demo's untagged GPU box, which its team pays for but
no use case answers for): both are spend the portfolio cannot put against an AI use case, its
budget or its ROI. The detail shows the two parts. Above ``PROPYLON_AUDIT_UNALLOCATED_SHARE`` (a
fraction, default 0.05) the CoE owns a finding: tagging resources and writing allocation rules is
how it clears. Portfolio runs only (``per_use_case=False``): the share belongs to no use case.

The subject is the source's name as a slug and the month ("demo-focus-export-aws:2026-11"):
CostSource has no slug of its own, so renaming a source starts a new finding. A new month is a
new finding, and a month whose share falls under the threshold clears its own.
"""

from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal

from django.conf import settings
from django.db.models import Max, Sum
from django.urls import reverse
from django.utils.text import slugify

from costs.choices import AllocationBucketChoices
from costs.models import CostAllocation, CostImport
from costs.money import cents
from portal.auditing import AuditScope, Observation, register_check
from portal.choices import SeverityChoices

ZERO = Decimal(0)


@register_check(
    id="unallocated-spend",
    title="Spend without a use case above the threshold",
    severity=SeverityChoices.MEDIUM,
    controls=("cost_visibility.costs_attributed",),
    description="More than PROPYLON_AUDIT_UNALLOCATED_SHARE of a cost source's latest billing month reaches "
    "no use case (unallocated, or given to a team only): tag the resources or add allocation rules.",
    per_use_case=False,
)
def unallocated_spend(scope: AuditScope) -> Iterator[Observation]:
    latest = dict(
        CostImport.objects.filter(is_current=True, billing_period_start__isnull=False)
        .values("source_id")
        .annotate(latest=Max("billing_period_start"))
        .order_by()
        .values_list("source_id", "latest")
    )
    if not latest:
        return
    # (source, period, currency) → bucket → billed cost; one grouped query for every source.
    parts: dict[tuple, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    names: dict[int, str] = {}
    grouped = (
        CostAllocation.objects.filter(source_id__in=latest, period__gte=min(latest.values()))
        .values("source_id", "source__name", "period", "currency", "bucket")
        .annotate(billed=Sum("billed_cost"))
        .order_by()
    )
    for row in grouped:
        if row["period"] != latest[row["source_id"]]:
            continue
        names[row["source_id"]] = row["source__name"]
        parts[(row["source_id"], row["period"], row["currency"])][row["bucket"]] += Decimal(
            row["billed"] or 0
        )

    threshold: Decimal = settings.PROPYLON_AUDIT_UNALLOCATED_SHARE
    over: dict[tuple, list[dict]] = defaultdict(list)
    for (source_id, period, currency), buckets in sorted(parts.items()):
        total = sum(buckets.values(), ZERO)
        unallocated = buckets.get(AllocationBucketChoices.UNALLOCATED, ZERO)
        team_only = buckets.get(AllocationBucketChoices.TEAM, ZERO)
        if total <= 0 or (unallocated + team_only) / total <= threshold:
            continue
        over[(source_id, period)].append(
            {
                "currency": currency,
                "total": cents(total),
                "unallocated": cents(unallocated),
                "team_only": cents(team_only),
                "share": ((unallocated + team_only) * 100 / total).quantize(Decimal("0.1")),
            }
        )
    link = reverse("costs:rule-list")
    percent = f"{(threshold * 100).normalize():f} %"
    for (source_id, period), lines in over.items():
        name = names[source_id]
        described = "; ".join(
            f"{line['currency']}: {line['share']} % of {line['total']} ({line['unallocated']} unallocated, "
            f"{line['team_only']} given to a team only)"
            for line in lines
        )
        yield Observation(
            subject_key=f"{slugify(name)}:{period:%Y-%m}",
            title=f"{name}: {max(line['share'] for line in lines)} % of {period:%B %Y} reaches no use case",
            detail=(
                f"In {period:%B %Y}, {described}: above the {percent} threshold. Tag the resources with their "
                "use case, or add allocation rules or shared pools that send the cost to use cases."
            ),
            owned_by_coe=True,
            link=link,
            data={
                "source": source_id,
                "period": f"{period:%Y-%m}",
                "shares": {line["currency"]: str(line["share"]) for line in lines},
            },
        )
