"""unallocated-spend: a cost source whose latest billing month leaves too much cost unallocated.

Per source, its latest month with a current import; the unallocated share is the cost no rule
or pool took, over the import's billed total, per currency (reconciliation's figures:
``costs.selectors.reconciliation``). Above ``PROPYLON_AUDIT_UNALLOCATED_SHARE`` (a fraction,
default 0.05) the CoE owns a finding: cost nobody answers for is what allocation rules and tags
are for. Portfolio runs only (``per_use_case=False``): the share belongs to no use case.

The subject is the source's name as a slug and the month ("aws-focus-export:2026-11"): a new
month is a new finding, and a month whose share falls under the threshold clears its own.
"""

from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal

from django.conf import settings
from django.db.models import Max
from django.urls import reverse
from django.utils.text import slugify

from costs.models import CostImport, CostSource
from costs.selectors.reconciliation import reconcile
from portal.auditing import AuditScope, Observation, register_check
from portal.choices import SeverityChoices


@register_check(
    id="unallocated-spend",
    title="Unallocated spend above the threshold",
    severity=SeverityChoices.MEDIUM,
    controls=("cost_visibility.costs_attributed",),
    description="More than PROPYLON_AUDIT_UNALLOCATED_SHARE of a cost source's latest billing month is "
    "unallocated: tag the resources or add allocation rules so every cost has an owner.",
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
    threshold: Decimal = settings.PROPYLON_AUDIT_UNALLOCATED_SHARE
    lines_by_subject = defaultdict(list)
    sources = CostSource.objects.filter(pk__in=latest)
    for line in reconcile(sources=sources, period_start=min(latest.values())):
        if line.period != latest.get(line.source_id) or line.billed_total <= 0:
            continue
        if line.unallocated / line.billed_total > threshold:
            lines_by_subject[(line.source_name, line.period)].append(line)
    link = reverse("costs:rule-list")
    for (source_name, period), lines in sorted(lines_by_subject.items()):
        shares = [
            f"{line.unallocated.quantize(Decimal('0.01'))} {line.currency} of "
            f"{line.billed_total.quantize(Decimal('0.01'))} {line.currency} ({line.unallocated_share} %)"
            for line in lines
        ]
        yield Observation(
            subject_key=f"{slugify(source_name)}:{period:%Y-%m}",
            title=f"{source_name}: {max(line.unallocated_share for line in lines)} % of {period:%B %Y} is unallocated",
            detail=(
                f"Unallocated in {period:%B %Y}: {'; '.join(shares)}, above the {(threshold * 100).normalize():f} % threshold. "
                "Tag the resources with their use case, or add allocation rules or shared pools for them."
            ),
            owned_by_coe=True,
            link=link,
            data={
                "source": lines[0].source_id,
                "period": f"{period:%Y-%m}",
                "shares": {line.currency: str(line.unallocated_share) for line in lines},
            },
        )
