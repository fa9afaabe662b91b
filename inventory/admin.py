from django.contrib import admin
from django.contrib.auth.models import Group
from django.db import models

from inventory.models import (
    BusinessUnit,
    Component,
    Dataset,
    DatasetVersion,
    DataSource,
    Environment,
    Model,
    ModelVersion,
    PromptTemplate,
    PromptVersion,
    Release,
    Team,
)
from inventory.services.organisation import team_set_members

HTTPS_URLS = {models.URLField: {"assume_scheme": "https"}}


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


#
# What use cases are built from. Teams maintain these on the use case's Releases tab (through
# inventory.services.usecases); the admin is for administrators repairing records.
#


class TeamOwnedAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "owning_team", "created_at")
    list_filter = ("owning_team",)
    search_fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}
    formfield_overrides = HTTPS_URLS


class FrozenPinsMixin:
    """A version a frozen release pins is what an approval covered. Inline permissions are asked
    per parent, so once any version of the asset is pinned by a frozen release, its versions are
    read-only here (new versions can still be added); pinned versions are never deleted."""

    def _versions(self, obj):
        return self.model.objects.filter(**{self.fk_name: obj})

    def has_change_permission(self, request, obj=None):
        if obj is not None and self._versions(obj).filter(releases__frozen_at__isnull=False).exists():
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and self._versions(obj).filter(releases__isnull=False).exists():
            return False
        return super().has_delete_permission(request, obj)


class ModelVersionInline(FrozenPinsMixin, admin.TabularInline):
    model = ModelVersion
    fk_name = "model"
    extra = 0
    fields = ("version", "sha256", "artifact_uri", "registry_url", "created_at")
    formfield_overrides = HTTPS_URLS


class PromptVersionInline(FrozenPinsMixin, admin.StackedInline):
    model = PromptVersion
    fk_name = "template"
    extra = 0
    fields = ("version", "content", "content_sha256", "created_at")
    readonly_fields = ("content_sha256",)


class DatasetVersionInline(FrozenPinsMixin, admin.StackedInline):
    model = DatasetVersion
    fk_name = "dataset"
    extra = 0
    fields = ("version", "sha256", "location", "lineage", "created_at")


@admin.register(Model)
class ModelAdmin(TeamOwnedAdmin):
    list_display = ("name", "slug", "owning_team", "provider", "vendor")
    list_filter = ("provider", "owning_team")
    inlines = [ModelVersionInline]


@admin.register(PromptTemplate)
class PromptTemplateAdmin(TeamOwnedAdmin):
    inlines = [PromptVersionInline]


@admin.register(Dataset)
class DatasetAdmin(TeamOwnedAdmin):
    list_display = ("name", "slug", "owning_team", "sensitivity")
    filter_horizontal = ("sources",)
    inlines = [DatasetVersionInline]


@admin.register(DataSource)
class DataSourceAdmin(TeamOwnedAdmin):
    list_display = ("name", "slug", "owning_team", "system", "sensitivity")


@admin.register(Component)
class ComponentAdmin(TeamOwnedAdmin):
    pass


@admin.register(Environment)
class EnvironmentAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "kind")
    list_filter = ("kind",)
    prepopulated_fields = {"slug": ("name",)}


@admin.register(Release)
class ReleaseAdmin(admin.ModelAdmin):
    """Open releases can be corrected; a frozen one (used by a gate request or a deployment) is
    read-only and cannot be deleted: assemble a new release instead."""

    list_display = ("use_case", "version", "code_ref", "created_at", "frozen_at")
    list_filter = (("frozen_at", admin.EmptyFieldListFilter),)
    search_fields = ("use_case__key", "use_case__name", "version", "code_ref")
    raw_id_fields = ("use_case",)
    filter_horizontal = ("model_versions", "prompt_versions", "dataset_versions")
    readonly_fields = ("created_by", "created_at", "frozen_at", "frozen_reason")

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_frozen:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_frozen:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
