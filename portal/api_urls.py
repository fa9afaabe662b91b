"""The REST API under /api/: one router for every app, the schema and its documentation."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from approvals.api.gates import (
    ApprovalEventViewSet,
    ApprovalRequestViewSet,
    GatePolicyViewSet,
    LifecycleStageViewSet,
    LifecycleTransitionViewSet,
    NotificationViewSet,
)
from approvals.api.risk import (
    RiskAssessmentViewSet,
    RiskCatalogView,
    RiskRegisterEntryViewSet,
)
from costs.api.views import CostImportViewSet, CostSourceViewSet
from inventory.api import catalog
from inventory.api.views import BusinessUnitViewSet, TeamViewSet
from portal.api.audit import AuditEntryViewSet
from portal.api.jobs import JobRunViewSet
from portal.api.me import MeView
from portal.api.people import PersonViewSet
from portal.api.tokens import ApiTokenViewSet


class PortalRouter(DefaultRouter):
    include_format_suffixes = False


router = PortalRouter()
router.register("jobs", JobRunViewSet)
router.register("business-units", BusinessUnitViewSet)
router.register("teams", TeamViewSet)
router.register("use-cases", catalog.UseCaseViewSet)
router.register("releases", catalog.ReleaseViewSet)
router.register("kpis", catalog.KpiViewSet)
router.register("components", catalog.ComponentViewSet)
router.register("data-sources", catalog.DataSourceViewSet)
router.register("models", catalog.ModelViewSet)
router.register("model-versions", catalog.ModelVersionViewSet)
router.register("prompts", catalog.PromptTemplateViewSet)
router.register("prompt-versions", catalog.PromptVersionViewSet)
router.register("datasets", catalog.DatasetViewSet)
router.register("dataset-versions", catalog.DatasetVersionViewSet)
router.register("environments", catalog.EnvironmentViewSet)
router.register("audit", AuditEntryViewSet)
router.register("tokens", ApiTokenViewSet)
router.register("people", PersonViewSet)
router.register("lifecycle-stages", LifecycleStageViewSet)
router.register("lifecycle-transitions", LifecycleTransitionViewSet)
router.register("gate-policies", GatePolicyViewSet)
router.register("approval-requests", ApprovalRequestViewSet)
router.register("approval-events", ApprovalEventViewSet)
router.register("notifications", NotificationViewSet)
router.register("risk-assessments", RiskAssessmentViewSet)
router.register("risk-register", RiskRegisterEntryViewSet)
router.register("cost-sources", CostSourceViewSet)
router.register("cost-imports", CostImportViewSet)

# Allocation, budgets and value (costs.api.allocation).
from costs.api import allocation as allocation_api  # noqa: E402

router.register("allocation-rules", allocation_api.AllocationRuleViewSet)
router.register("shared-pools", allocation_api.SharedPoolViewSet)
router.register("cost-allocations", allocation_api.CostAllocationViewSet)
router.register("budgets", allocation_api.BudgetViewSet)
router.register("budget-alerts", allocation_api.BudgetAlertViewSet)
router.register("kpi-readings", allocation_api.KpiReadingViewSet)

# Maturity assessment (approvals.api.maturity): nested under a use case, before the router's
# use-case routes so /use-cases/{key}/maturity/ is not read as a use-case action.
from approvals.api import maturity as maturity_api  # noqa: E402

router.register("maturity-assessments", maturity_api.MaturityAssessmentViewSet)
router.register("maturity-evidence", maturity_api.MaturityEvidenceViewSet)
maturity_urls = [
    path(
        "use-cases/<str:key>/maturity/", maturity_api.UseCaseMaturityView.as_view(), name="usecase-maturity"
    ),
    path(
        "use-cases/<str:key>/maturity/assess/",
        maturity_api.UseCaseMaturityAssessView.as_view(),
        name="usecase-maturity-assess",
    ),
    path("maturity-rubric/", maturity_api.MaturityRubricView.as_view(), name="maturity-rubric"),
]

# CoE metrics (approvals.api.metrics)
from approvals.api.metrics import CoeMetricsView  # noqa: E402

app_name = "api"

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    path("risk-catalog/", RiskCatalogView.as_view(), name="risk-catalog"),
    path("coe-metrics/", CoeMetricsView.as_view(), name="coe-metrics"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's initialiser as a file, so the CSP needs no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    *maturity_urls,
    *router.urls,
]
