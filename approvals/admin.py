from django.contrib import admin

from approvals.models import LifecycleStage, LifecycleTransition
from portal.admin import ReadOnlyAdminMixin


class TransitionInline(admin.TabularInline):
    """Shown, not edited: transitions change on /lifecycle/, where gates and requests are checked."""

    model = LifecycleTransition
    fk_name = "from_stage"
    extra = 0
    can_delete = False
    readonly_fields = ("to_stage", "requires_gate")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LifecycleStage)
class LifecycleStageAdmin(admin.ModelAdmin):
    """Labels, order and colours may be touched here; keys stay stable, and deleting (which must
    check what uses a stage) is done on /lifecycle/ through approvals.services.lifecycle."""

    list_display = ("label", "key", "kind", "order")
    ordering = ("order",)
    inlines = [TransitionInline]

    def get_readonly_fields(self, request, obj=None):
        return ("key",) if obj is not None else ()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


#
# Maturity assessment: read-only here; assessments are computed, evidence goes through
# approvals.services.maturity (hashes, withdrawal) from the use case's Maturity tab or the API.
#

from approvals.models import MaturityAssessment, MaturityEvidence  # noqa: E402


@admin.register(MaturityAssessment)
class MaturityAssessmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("use_case", "version", "readiness", "level", "trigger", "assessed_at")
    list_filter = ("level", "trigger", "rubric_version")
    search_fields = ("use_case__key", "use_case__name")
    list_select_related = ("use_case",)


@admin.register(MaturityEvidence)
class MaturityEvidenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("use_case", "check_key", "kind", "added_by", "added_at", "withdrawn_at")
    list_filter = ("kind",)
    search_fields = ("use_case__key", "check_key", "note", "url")
    list_select_related = ("use_case", "added_by")


#
# Gates: read-only here. Policies are edited on /gates/policies/ (approvals.services.gates validates
# them); requests, decisions and events change only through their services.
#

from approvals.models import ApprovalEvent, ApprovalRequest, GateApproverRequirement, GatePolicy  # noqa: E402


class GateApproverRequirementInline(admin.TabularInline):
    model = GateApproverRequirement
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(GatePolicy)
class GatePolicyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("transition", "risk_tier", "min_readiness", "blocked", "validity_days", "review_sla_days")
    list_filter = ("risk_tier", "blocked")
    list_select_related = ("transition__from_stage", "transition__to_stage")
    inlines = [GateApproverRequirementInline]


class ApprovalEventInline(admin.TabularInline):
    model = ApprovalEvent
    extra = 0
    can_delete = False
    fields = ("at", "kind", "actor", "message")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("reference", "use_case", "release", "to_stage", "status", "submitted_at", "expires_at")
    list_filter = ("status", "to_stage")
    search_fields = ("use_case__key", "use_case__name")
    list_select_related = ("use_case", "release", "to_stage")
    inlines = [ApprovalEventInline]


#
# Risk classification: read-only here. Classifications are answered on the use case's risk page
# (a new version each time) and register entries kept there, where the services check them.
#

from approvals.models import RiskAssessment, RiskRegisterEntry  # noqa: E402


@admin.register(RiskAssessment)
class RiskAssessmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("use_case", "version", "tier", "role", "is_gpai", "assessed_by", "assessed_at")
    list_filter = ("tier", "role", "is_gpai", "catalog_version")
    search_fields = ("use_case__key", "use_case__name")
    list_select_related = ("use_case", "assessed_by")


@admin.register(RiskRegisterEntry)
class RiskRegisterEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "title",
        "use_case",
        "category",
        "likelihood",
        "severity",
        "status",
        "owner",
        "review_date",
    )
    list_filter = ("status", "category")
    search_fields = ("title", "use_case__key", "use_case__name")
    list_select_related = ("use_case", "owner")


#
# Audits and findings: read-only here. Audits raise and clear findings; people work them on
# /findings/, where the services keep the status table and segregation of duties.
#

from approvals.models import AuditRun, Finding  # noqa: E402


@admin.register(AuditRun)
class AuditRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("pk", "use_case", "status", "channel", "requested_by", "started_at", "duration_ms")
    list_filter = ("status", "channel")
    search_fields = ("use_case__key",)
    list_select_related = ("use_case", "requested_by")


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("title", "check_id", "severity", "status", "use_case", "owner", "owned_by_coe", "due_at")
    list_filter = ("status", "severity", "check_id", "owned_by_coe")
    search_fields = ("title", "key", "use_case__key")
    list_select_related = ("use_case", "owner")
