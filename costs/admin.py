from django.contrib import admin

from costs.models import CostSource


@admin.register(CostSource)
class CostSourceAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "location", "enabled", "created_at")
    list_filter = ("kind", "enabled")
    search_fields = ("name", "location")
