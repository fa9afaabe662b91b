from django.contrib import admin

from operations.models import Deployment, DeploymentEvent, DeploymentTarget, HealthSignal, HealthThreshold
from portal.admin import ReadOnlyAdminMixin

# Shown to admins for diagnosis. Targets change on the portal's pages and API, whose service
# encrypts the secrets and checks the options per kind; deployments, their events and signals
# change only through their services.


@admin.register(DeploymentTarget)
class DeploymentTargetAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "kind", "environment", "use_case", "enabled", "last_test_at")
    list_filter = ("kind", "enabled", "environment")
    search_fields = ("name", "slug", "url")
    # Write-only: the ciphertext is never shown, only whether a secret is stored.
    exclude = ("secret_encrypted", "callback_secret_encrypted", "read_token_encrypted")
    readonly_fields = ("has_secret", "has_callback_secret", "has_read_token", "secret_set_at")


@admin.register(Deployment)
class DeploymentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("pk", "use_case", "release", "environment", "status", "is_current", "requested_at")
    list_filter = ("status", "environment", "is_current")
    search_fields = ("use_case__key", "release__version", "external_id")


@admin.register(DeploymentEvent)
class DeploymentEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("deployment", "kind", "status", "at")
    list_filter = ("kind", "status")


@admin.register(HealthSignal)
class HealthSignalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("use_case", "environment", "metric", "value", "observed_at")
    list_filter = ("metric", "environment")


@admin.register(HealthThreshold)
class HealthThresholdAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("use_case", "environment", "metric", "minimum", "maximum")
    list_filter = ("metric",)
