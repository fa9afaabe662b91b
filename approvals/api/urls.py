"""Approvals' API routes, registered on the portal's router from ``ApprovalsConfig.ready()``."""

from django.urls import path

from approvals.api import maturity
from approvals.api.audits import AuditCheckListView, AuditRunViewSet
from approvals.api.findings import FindingViewSet
from approvals.api.gates import (
    ApprovalEventViewSet,
    ApprovalRequestViewSet,
    GatePolicyViewSet,
    LifecycleStageViewSet,
    LifecycleTransitionViewSet,
    NotificationViewSet,
)
from approvals.api.metrics import CoeMetricsView
from approvals.api.risk import RiskAssessmentViewSet, RiskCatalogView, RiskRegisterEntryViewSet

viewsets = (
    ("lifecycle-stages", LifecycleStageViewSet),
    ("lifecycle-transitions", LifecycleTransitionViewSet),
    ("gate-policies", GatePolicyViewSet),
    ("approval-requests", ApprovalRequestViewSet),
    ("approval-events", ApprovalEventViewSet),
    ("notifications", NotificationViewSet),
    ("risk-assessments", RiskAssessmentViewSet),
    ("risk-register", RiskRegisterEntryViewSet),
    ("maturity-assessments", maturity.MaturityAssessmentViewSet),
    ("maturity-evidence", maturity.MaturityEvidenceViewSet),
    ("findings", FindingViewSet),
    ("audit-runs", AuditRunViewSet),
)

urlpatterns = [
    path("risk-catalog/", RiskCatalogView.as_view(), name="risk-catalog"),
    path("coe-metrics/", CoeMetricsView.as_view(), name="coe-metrics"),
    # Nested under a use case: served before the router's use-case routes.
    path("use-cases/<str:key>/maturity/", maturity.UseCaseMaturityView.as_view(), name="usecase-maturity"),
    path(
        "use-cases/<str:key>/maturity/assess/",
        maturity.UseCaseMaturityAssessView.as_view(),
        name="usecase-maturity-assess",
    ),
    path("maturity-rubric/", maturity.MaturityRubricView.as_view(), name="maturity-rubric"),
    path("audit-checks/", AuditCheckListView.as_view(), name="audit-checks"),
]
