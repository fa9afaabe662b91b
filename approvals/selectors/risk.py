"""Reads of the governance workflow that reach a person, always through portal.permissions."""

from django.db.models import F, QuerySet

from approvals.models import RiskAssessment, RiskRegisterEntry
from approvals.policies import may_assess_risk
from portal.permissions import restrict


def risk_assessments_for(*, user, use_case) -> QuerySet:
    """The use case's assessments the person may see, newest version first."""
    return (
        restrict(RiskAssessment.objects.all(), user)
        .filter(use_case=use_case)
        .select_related("assessed_by")
        .order_by("-version")
    )


def risk_register_for(*, user, use_case) -> QuerySet:
    """The use case's register, the worst residual risk first (then the worst inherent one)."""
    return (
        restrict(RiskRegisterEntry.objects.all(), user)
        .filter(use_case=use_case)
        .select_related("owner")
        .annotate(
            residual=F("residual_likelihood") * F("residual_severity"),
            inherent=F("likelihood") * F("severity"),
        )
        .order_by("-residual", "-inherent", "title", "pk")
    )


def risk_overview(*, user, use_case, version: str | None = None) -> dict:
    """The use case's "Risk" tab: the assessment shown (the latest, or ``version``), the version
    history, the register and whether the person may add to them."""
    history = list(risk_assessments_for(user=user, use_case=use_case))
    shown = history[0] if history else None
    if version and version.isdigit():
        shown = next((item for item in history if item.version == int(version)), shown)
    return {
        "risk_assessment": shown,
        "risk_history": history,
        "risk_entries": list(risk_register_for(user=user, use_case=use_case)),
        "may_assess_risk": may_assess_risk(user, use_case),
    }
