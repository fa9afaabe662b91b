"""Jobs of deployments: dispatch one deployment, poll the targets that can be asked.

Thin callers of operations.services.deployments; both are ``@job``s, so they appear at /jobs/.
"""

from django.db.models import Q

from operations.choices import DeploymentStatusChoices
from operations.models import Deployment
from operations.services.deployments import (
    DISPATCH_TASK,
    deployment_apply_poll,
    deployment_dispatch,
    deployments_expire,
)
from operations.targets.base import TargetError, client_for
from portal.jobs import JobContext, job
from portal.models import JobLogLevel


@job(
    name=DISPATCH_TASK,
    label="Dispatch a deployment",
    description="Send one queued deployment to its target (retries transient failures with backoff).",
)
def dispatch_deployment(run: JobContext, *, deployment_id: int) -> dict:
    """Idempotent: a deployment that is no longer queued is left alone, and a redelivery after a
    worker died mid-dispatch never dispatches twice in effect (see the service's docstring)."""
    eager = (
        bool(getattr(dispatch_deployment.request, "is_eager", False))
        or dispatch_deployment.app.conf.task_always_eager
    )
    outcome = deployment_dispatch(deployment_id=deployment_id, eager=eager, log=run.log)
    deployment = Deployment.objects.filter(pk=deployment_id).values("status", "attempts").first() or {}
    return {"deployment": deployment_id, "outcome": outcome, **deployment}


@job(
    name="operations.poll_deployments",
    label="Poll deployment targets",
    description="Ask the targets that support polling how their in-flight deployments are doing; end as "
    "failed those without an outcome for PROPYLON_DEPLOY_OUTCOME_HOURS.",
    on_demand=True,
)
def poll_deployments(run: JobContext) -> dict:
    flying = (
        Deployment.objects.filter(
            status__in=[DeploymentStatusChoices.DISPATCHED, DeploymentStatusChoices.RUNNING]
        )
        .filter(~Q(target=None), target__enabled=True)
        .select_related("target", "release", "use_case", "environment")
    )
    asked = moved = 0
    for deployment in flying:
        try:
            client = client_for(deployment.target)
            if not client.supports_polling:
                continue
            asked += 1
            report = client.poll(deployment)
        except TargetError as exc:
            run.log(f"Deployment #{deployment.pk}: {exc}", JobLogLevel.WARNING)
            continue
        if deployment_apply_poll(deployment_id=deployment.pk, report=report):
            moved += 1
    expired = deployments_expire()
    if expired:
        run.log(
            f"{expired} deployment(s) reported no outcome in time and were ended as failed.",
            JobLogLevel.WARNING,
        )
    return {"asked": asked, "moved": moved, "expired": expired}
