from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Running AI systems: deployment targets, deployments and health signals.

    The layer above approvals: a production deployment asks approvals for the covering approval
    (invariant 1), and the operations audit checks register with portal.auditing.
    """

    name = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        from operations import policies  # noqa: F401  (registers the operations permission policies)
        from operations.models import Deployment, DeploymentTarget, HealthThreshold
        from portal import audit

        # The secret is write-only: the trail records that it changed, never its ciphertext.
        audit.register(
            DeploymentTarget, exclude={"updated_at", "secret_encrypted", "callback_secret_encrypted"}
        )
        audit.register(Deployment, exclude={"updated_at"})
        audit.register(HealthThreshold)

        from operations import tasks  # noqa: F401 - registers the deployment jobs with Celery and the jobs page
        from operations.api import urls as api_urls
        from portal.api import routes

        routes.register(viewsets=api_urls.viewsets, urlpatterns=api_urls.urlpatterns)

        from inventory import usecase_tabs
        from operations.views.deployments import deployments_tab_context

        usecase_tabs.fill(
            "deployments", template="operations/_deployments_tab.html", context=deployments_tab_context
        )
