from django.contrib import admin
from django.contrib.auth.models import Group

from inventory.models import BusinessUnit, Team
from inventory.services import team_set_members


@admin.register(BusinessUnit)
class BusinessUnitAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "head")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "business_unit", "lead")
    list_filter = ("business_unit",)
    search_fields = ("name", "slug")
    filter_horizontal = ("members",)
    readonly_fields = ("group",)

    def save_model(self, request, obj, form, change):
        if obj.group_id is None:
            obj.group, _ = Group.objects.get_or_create(name=Team.group_name_for(obj.slug))
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # Keep the permission group in step with the membership edited here.
        team = form.instance
        team_set_members(team=team, members=[*team.members.all(), *([team.lead] if team.lead else [])])
