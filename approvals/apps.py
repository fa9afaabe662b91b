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
