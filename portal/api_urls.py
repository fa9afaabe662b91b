"""The REST API under /api/: one router for every app, the schema and its documentation."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from approvals.api.views import (
    LifecycleStageViewSet,
    LifecycleTransitionViewSet,
    RiskAssessmentViewSet,
    RiskCatalogView,
    RiskRegisterEntryViewSet,
)
from costs.api.views import CostSourceViewSet
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
router.register("risk-assessments", RiskAssessmentViewSet)
router.register("risk-register", RiskRegisterEntryViewSet)
router.register("cost-sources", CostSourceViewSet)

app_name = "api"

urlpatterns = [
    path("me/", MeView.as_view(), name="me"),
    path("risk-catalog/", RiskCatalogView.as_view(), name="risk-catalog"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's initialiser as a file, so the CSP needs no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    *router.urls,
]
