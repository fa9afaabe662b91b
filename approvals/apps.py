from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Approvals"

    def ready(self) -> None:
        from approvals.models import LifecycleStage, LifecycleTransition
        from portal import audit

        audit.register(LifecycleStage)
        audit.register(LifecycleTransition)
