from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.core.exceptions import ValidationError
from django.db import models

from portal.models import ApiToken, AuditEntry, JobLogLine, JobRun, Notification, User
from portal.notifications import notification_resend
from portal.permissions import restrict


class ReadOnlyAdminMixin:
    """An admin page that shows and never writes: the records change only through their services
    (or are append-only), so not even an administrator adds, changes or deletes them here."""

    # Read-only pages still build a form; links are https unless written otherwise (Django 6's
    # default, asked for now so 5.2 does not warn).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        *DjangoUserAdmin.fieldsets,
        ("Profile", {"fields": ("title",)}),
    )
    list_display = ("username", "email", "first_name", "last_name", "title", "is_active", "is_staff")


class JobLogLineInline(admin.TabularInline):
    model = JobLogLine
    extra = 0
    can_delete = False
    readonly_fields = ("time", "level", "message")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "label",
        "status",
        "progress",
        "actor_label",
        "channel",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "channel", "task_name")
    search_fields = ("label", "task_name", "actor_label")
    readonly_fields = [field.name for field in JobRun._meta.fields]
    inlines = [JobLogLineInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are created with `propylon create_api_token`; the admin shows and revokes them."""

    list_display = (
        "name",
        "user",
        "kind",
        "key_prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("kind",)
    search_fields = ("name", "user__username", "key_prefix")
    readonly_fields = ("user", "kind", "scopes", "key_prefix", "created_at", "created_by", "last_used_at")
    exclude = ("key_hash",)

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the trail is append-only, even for administrators."""

    list_display = ("id", "time", "action", "actor_label", "channel", "object_repr")
    list_filter = ("action", "channel", "actor_kind")
    search_fields = ("actor_label", "object_repr", "message")


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: notifications are written by portal.notifications.notify() and delivered once.
    Failed ones can be resent (a sent one never is)."""

    list_display = ("subject", "channel", "recipient", "created_at", "sent_at", "attempts", "error")
    list_filter = ("channel", ("sent_at", admin.EmptyFieldListFilter))
    search_fields = ("subject", "key", "recipient__username")
    list_select_related = ("recipient",)
    actions = ["resend_failed"]

    @admin.action(description="Resend selected failed notifications")
    def resend_failed(self, request, queryset):
        resent, refused = 0, []
        for notification in restrict(queryset, request.user, "custom:resend"):
            try:
                notification_resend(notification=notification)
            except ValidationError as exc:
                refused.append(" ".join(exc.messages))
            else:
                resent += 1
        if resent:
            self.message_user(
                request, f"{resent} failed notification{'s' * (resent != 1)} resent.", messages.SUCCESS
            )
        for message in refused:
            self.message_user(request, message, messages.WARNING)
