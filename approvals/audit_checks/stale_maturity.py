"""stale-maturity: a use case past intake whose maturity was never assessed, or not for months."""

from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import Max

from approvals.audit_checks.common import LIVE_STAGE_KINDS, governed_use_cases, now_of, use_case_link
from portal.auditing import AuditScope, Observation, register_check
from portal.choices import SeverityChoices


@register_check(
    id="stale-maturity",
    title="Maturity assessment missing or stale",
    severity=SeverityChoices.MEDIUM,
    # No rubric check says "assessed recently": the assessment is the rubric itself.
    controls=(),
    description="A use case in an active or production stage has no maturity assessment, or its latest "
    "one is older than PROPYLON_AUDIT_MATURITY_STALE_DAYS days: reassess it.",
)
def stale_maturity(scope: AuditScope) -> Iterator[Observation]:
    now = now_of(scope)
    stale_before = now - timedelta(days=settings.PROPYLON_AUDIT_MATURITY_STALE_DAYS)
    rows = (
        governed_use_cases(scope)
        .filter(lifecycle_stage__kind__in=LIVE_STAGE_KINDS)
        .annotate(last_assessed=Max("maturity_assessments__assessed_at"))
        .order_by("key")
        .values("pk", "key", "name", "last_assessed")
    )
    for row in rows:
        last = row["last_assessed"]
        if last is not None and last >= stale_before:
            continue
        if last is None:
            title = f"{row['key']} {row['name']} has no maturity assessment"
            detail = "It is past intake but its maturity was never assessed. Assess it from the Maturity tab."
        else:
            title = f"{row['key']} {row['name']}: maturity last assessed on {last:%Y-%m-%d}"
            detail = (
                f"The latest assessment is more than {settings.PROPYLON_AUDIT_MATURITY_STALE_DAYS} days old. "
                "Reassess it from the Maturity tab (new evidence, or a recompute)."
            )
        yield Observation(
            subject_key=row["key"],
            title=title,
            detail=detail,
            use_case_id=row["pk"],
            link=use_case_link(row["key"], "maturity"),
            data={"last_assessed": last.isoformat() if last else None},
        )
