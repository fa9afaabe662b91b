from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """Running AI systems: deployment targets, deployments and health signals.

    The layer above approvals: a production deployment asks approvals for the covering approval
    (invariant 1), and the operations audit checks register with portal.auditing.
    """

    name = "operations"
    verbose_name = "Operations"

    def ready(self) -> None:
        from django.core import checks

        from operations import policies  # noqa: F401  (registers the operations permission policies)
        from operations.api import urls as api_urls
        from operations.checks import secret_keys
        from operations.models import Deployment, DeploymentTarget, HealthThreshold
        from operations.policies import may_view_targets
        from portal import audit, context_processors
        from portal.api import routes

        # Secrets are write-only: the trail records that one changed, never its value or ciphertext.
        audit.register(
            DeploymentTarget,
            exclude={
                "updated_at",
                # Bookkeeping of the test button: the test itself is a typed entry (target_send_test).
                "last_test_at",
                "last_test_result",
            },
            secret={"secret_encrypted", "callback_secret_encrypted", "read_token_encrypted"},
        )
        audit.register(Deployment, exclude={"updated_at"})
        audit.register(HealthThreshold)

        from operations import (
            audit_checks,  # noqa: F401  (registers production-without-approval)
            signal_checks,  # noqa: F401  (registers the health audit checks)
            tasks,  # noqa: F401 - registers the deployment jobs with Celery and the jobs page
        )
        from portal.policies import has_any_role

        checks.register(secret_keys, checks.Tags.security, deploy=True)
        context_processors.register(
            label="Deployments",
            url_name="operations:deployment-list",
            section="deployments",
            visible=has_any_role,
        )
        context_processors.register(
            label="Deployment targets",
            url_name="operations:target-list",
            section="deployment-targets",
            visible=may_view_targets,
        )
        routes.register(viewsets=api_urls.viewsets, urlpatterns=api_urls.urlpatterns)

        from inventory import usecase_tabs
        from operations.views.deployments import deployments_tab_context

        usecase_tabs.fill(
            "deployments", template="operations/_deployments_tab.html", context=deployments_tab_context
        )

        from operations.demo import load_deployments_demo, load_health_demo
        from portal import demo

        # After the gates (70): production takes only the release UC-0008's approved gate covers.
        demo.register("Deployments, including a rollback", load_deployments_demo, order=80)
        demo.register("Health signals and thresholds", load_health_demo, order=85)

        from operations.views import signals as signal_views

        signal_views.register()
