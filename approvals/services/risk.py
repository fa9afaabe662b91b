"""Writes with rules for the governance workflow. Views, API, commands and jobs all call these.

Callers check permissions (``approvals.policies.may_assess_risk``, ``restrict``); the services
check the data.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from approvals.catalogs import risk as risk_catalog
from approvals.choices import RiskEntryStatusChoices
from approvals.models import RiskAssessment, RiskRegisterEntry
from inventory.models import UseCase
from inventory.services.usecases import usecase_set_risk_tier

#
# Risk classification
#


@transaction.atomic
def risk_assessment_record(*, use_case: UseCase, answers: dict, actor) -> RiskAssessment:
    """Check the answers against the catalog, classify them, save them as the use case's next
    version and give the use case the tier. Bad answers raise a ValidationError keyed by
    question id and write nothing."""
    cleaned = risk_catalog.clean_answers(answers)
    classification = risk_catalog.classify(cleaned)
    # Two people recording at once would both read the same latest version: the row lock on the
    # use case serialises them (the unique constraint would otherwise refuse the second).
    locked = UseCase.objects.select_for_update().get(pk=use_case.pk)
    latest = RiskAssessment.objects.filter(use_case=locked).aggregate(latest=Max("version"))["latest"]
    assessment = RiskAssessment(
        use_case=locked,
        version=(latest or 0) + 1,
        catalog_version=risk_catalog.CATALOG_VERSION,
        answers=cleaned,
        tier=classification.tier,
        reasons=classification.reasons,
        duties=classification.duties,
        role=cleaned["role"],
        is_gpai=cleaned["is_gpai"],
        exemption_rationale=cleaned["derogation_rationale"],
        genai_risks=cleaned["genai_risks"],
        assessed_by=actor if getattr(actor, "is_authenticated", False) else None,
        assessed_at=timezone.now(),
    )
    assessment.full_clean()
    assessment.save()
    usecase_set_risk_tier(use_case=locked, tier=classification.tier)
    use_case.risk_tier, use_case.updated_at = locked.risk_tier, locked.updated_at
    return assessment


#
# The risk register
#

REGISTER_FIELDS = (
    "title",
    "description",
    "category",
    "likelihood",
    "severity",
    "owner",
    "mitigation",
    "residual_likelihood",
    "residual_severity",
    "review_date",
    "status",
)


def _check_owner_active(owner) -> None:
    if owner is None:
        raise ValidationError({"owner": "Every risk needs an owner."})
    if not owner.is_active:
        raise ValidationError(
            {"owner": f"{owner.get_username()} is no longer active; choose someone who is."}
        )


@transaction.atomic
def register_entry_create(*, use_case: UseCase, actor, title: str, category: str, likelihood: int,
                          severity: int, owner, residual_likelihood: int | None = None,
                          residual_severity: int | None = None, description: str = "", mitigation: str = "",
                          review_date=None, status: str = RiskEntryStatusChoices.OPEN) -> RiskRegisterEntry:  # fmt: skip
    """Add a risk to a use case's register. Without residual scores, the residual risk is the
    inherent one (nothing mitigates it yet)."""
    _check_owner_active(owner)
    now = timezone.now()
    entry = RiskRegisterEntry(
        use_case=use_case,
        title=title,
        description=description,
        category=category,
        likelihood=likelihood,
        severity=severity,
        owner=owner,
        mitigation=mitigation,
        residual_likelihood=likelihood if residual_likelihood is None else residual_likelihood,
        residual_severity=severity if residual_severity is None else residual_severity,
        review_date=review_date,
        status=status,
        created_at=now,
        updated_at=now,
    )
    entry.full_clean()
    entry.save()
    return entry


@transaction.atomic
def register_entry_update(*, entry: RiskRegisterEntry, actor, **changes) -> RiskRegisterEntry:
    unknown = set(changes) - set(REGISTER_FIELDS)
    if unknown:
        raise ValidationError(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    if "owner" in changes and changes["owner"] != entry.owner:
        _check_owner_active(changes["owner"])
    for name, value in changes.items():
        setattr(entry, name, value)
    entry.updated_at = timezone.now()
    entry.full_clean()
    entry.save()
    return entry


@transaction.atomic
def register_entry_delete(*, entry: RiskRegisterEntry, actor) -> None:
    """Remove a risk recorded by mistake; the audit trail keeps what it was. A risk that is
    dealt with is closed, not deleted."""
    entry.delete()
