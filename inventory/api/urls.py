"""Inventory's API routes, registered on the portal's router from ``InventoryConfig.ready()``."""

from inventory.api import catalog
from inventory.api.views import BusinessUnitViewSet, TeamViewSet

viewsets = (
    ("business-units", BusinessUnitViewSet),
    ("teams", TeamViewSet),
    ("use-cases", catalog.UseCaseViewSet),
    ("releases", catalog.ReleaseViewSet),
    ("kpis", catalog.KpiViewSet),
    ("components", catalog.ComponentViewSet),
    ("data-sources", catalog.DataSourceViewSet),
    ("models", catalog.ModelViewSet),
    ("model-versions", catalog.ModelVersionViewSet),
    ("prompts", catalog.PromptTemplateViewSet),
    ("prompt-versions", catalog.PromptVersionViewSet),
    ("datasets", catalog.DatasetViewSet),
    ("dataset-versions", catalog.DatasetVersionViewSet),
    ("environments", catalog.EnvironmentViewSet),
)

urlpatterns: list = []
