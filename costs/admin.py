from django.contrib import admin
from django.db import models

from costs.models import (
    AllocationRule,
    AllocationState,
    Budget,
    BudgetAlert,
    CostAllocation,
    CostImport,
    CostSource,
    KpiReading,
    SharedPool,
)
from portal.admin import ReadOnlyAdminMixin


@admin.register(CostSource)
class CostSourceAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "location", "enabled", "created_at")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "location")
    # Write-only: the secret is set on the portal's source form, never shown back here.
    exclude = ("secret_access_key",)
    readonly_fields = ("has_secret",)
    # Django 6 changes URLField's default scheme; endpoints are https unless written otherwise.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(CostImport)
class CostImportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: imports change only through the import service (a new delivery replaces one)."""

    list_display = ("pk", "source", "billing_period_start", "status", "is_current", "row_count", "started_at")
    list_filter = ("status", "is_current", "format", "source")
    search_fields = ("source__name", "identifier", "location")


# Rules, pools, allocations, budgets and KPI readings are shown to admins for diagnosis; they
# change only on the portal's pages and API, whose services validate the whole and queue the
# recomputation of allocation.


@admin.register(AllocationRule)
class AllocationRuleAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("position", "name", "kind", "target_kind", "enabled")
    list_filter = ("kind", "target_kind", "enabled")
    search_fields = ("name", "tag_key", "tag_value", "service_name")


@admin.register(SharedPool)
class SharedPoolAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "split_method")


@admin.register(CostAllocation)
class CostAllocationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("period", "source", "currency", "bucket", "use_case", "team", "effective_cost")
    list_filter = ("bucket", "cost_kind", "currency", "source")


@admin.register(AllocationState)
class AllocationStateAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("period", "source", "status", "cost_import", "computed_at", "attempted_at")
    list_filter = ("status", "source")


@admin.register(Budget)
class BudgetAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("pk", "use_case", "team", "amount", "currency")


@admin.register(BudgetAlert)
class BudgetAlertAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("budget", "period", "threshold", "spent", "created_at")


@admin.register(KpiReading)
class KpiReadingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("kpi", "period", "value", "monetized_value", "recorded_by")
