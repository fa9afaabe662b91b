from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"

    def ready(self) -> None:
        from approvals import policies  # noqa: F401  (registers the governance permission policies)
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

        from approvals.models import Finding

        # Findings are created, changed and resolved by audit runs in bulk (AuditedQuerySet records
        # each). When a run last saw one changes every night for every finding: not history.
        audit.register(Finding, exclude={"last_seen_at", "last_run"})

        from approvals.catalogs import maturity as maturity_catalog
        from portal.audit_display import register_key_labels

        # The trail's JSON values (maturity results and scores, snapshots) name dimensions and
        # checks by key; pages show their titles.
        register_key_labels({dimension.key: dimension.title for dimension in maturity_catalog.DIMENSIONS})
        register_key_labels({key: check.title for key, check in maturity_catalog.CHECKS.items()})

        from approvals.api import urls as api_urls
        from portal.api import routes

        routes.register(viewsets=api_urls.viewsets, urlpatterns=api_urls.urlpatterns)

        from approvals.demo.audits import load_audit_demo
        from approvals.demo.gates import load_gates_demo
        from approvals.demo.maturity import load_maturity_demo
        from approvals.demo.risk import load_risk_demo
        from portal import demo

        demo.register("Risk classifications and registers", load_risk_demo, order=30)
        # After the cost sections (40, 50): the maturity demo then assesses with the cost facts
        # (allocations, budgets) already there, so the commit's recompute finds nothing new to version.
        demo.register("Maturity assessments", load_maturity_demo, order=60)
        demo.register("Gate requests in every state", load_gates_demo, order=70)
        # Last, after the deployments (80) and health signals (85): the audit sees the whole demo.
        demo.register("The nightly audit's findings", load_audit_demo, order=100)

        from approvals.views import usecase_tabs

        usecase_tabs.register()

        from approvals.views import findings as finding_views

        finding_views.register()

        from approvals import audit_checks  # noqa: F401  (registers approvals' audit checks)
        from portal import context_processors
        from portal.policies import has_any_role

        # The audit runs page: everyone with a role (the CoE and overseers see every run, a team
        # the runs of the use cases it reads).
        context_processors.register(
            label="Audits", url_name="approvals:audit-run-list", section="audits", visible=has_any_role
        )
