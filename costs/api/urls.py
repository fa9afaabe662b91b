"""Costs' API routes, registered on the portal's router from ``CostsConfig.ready()``."""

from costs.api import allocation
from costs.api.views import CostImportViewSet, CostSourceViewSet

viewsets = (
    ("cost-sources", CostSourceViewSet),
    ("cost-imports", CostImportViewSet),
    ("allocation-rules", allocation.AllocationRuleViewSet),
    ("shared-pools", allocation.SharedPoolViewSet),
    ("cost-allocations", allocation.CostAllocationViewSet),
    ("budgets", allocation.BudgetViewSet),
    ("budget-alerts", allocation.BudgetAlertViewSet),
    ("kpi-readings", allocation.KpiReadingViewSet),
)

urlpatterns: list = []
