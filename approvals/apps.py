from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"

    def ready(self) -> None:
        from approvals.models import LifecycleStage, LifecycleTransition, RiskAssessment, RiskRegisterEntry
        from portal import audit

        audit.register(LifecycleStage)
        audit.register(LifecycleTransition)
        audit.register(RiskAssessment)
        # updated_at moves on every save; the fields that changed are what the trail shows.
        audit.register(RiskRegisterEntry, exclude={"updated_at"})

        from approvals import signals
        from approvals.models import MaturityAssessment, MaturityEvidence

        audit.register(MaturityAssessment)
        audit.register(MaturityEvidence)
        signals.connect_signals()

        from approvals import tasks  # noqa: F401 - registers approvals.scan_gates with Celery and the jobs page
        from approvals.models import (
            ApprovalComment,
            ApprovalDecision,
            ApprovalEvent,
            ApprovalRequest,
            GateApproverRequirement,
            GatePolicy,
        )

        audit.register(GatePolicy, exclude={"updated_at"})
        audit.register(GateApproverRequirement)
        audit.register(ApprovalRequest)
        audit.register(ApprovalDecision)
        audit.register(ApprovalComment)
        audit.register(ApprovalEvent)

        from approvals.catalogs import maturity as maturity_catalog
        from portal.audit_display import register_key_labels

        # The trail's JSON values (maturity results and scores, snapshots) name dimensions and
        # checks by key; pages show their titles.
        register_key_labels({dimension.key: dimension.title for dimension in maturity_catalog.DIMENSIONS})
        register_key_labels({key: check.title for key, check in maturity_catalog.CHECKS.items()})

        from approvals.api import urls as api_urls
        from portal.api import routes

        routes.register(viewsets=api_urls.viewsets, urlpatterns=api_urls.urlpatterns)
