"""The demo portfolio's deployments (loaded by ``propylon quickstart``), one story per state:

* UC-0008 contact-centre forecast: release 2026.09 went to production through its approved gate
  and runs there now; in staging, 2026.11 replaced it and was rolled back to 2026.09 (the
  holiday feature misread the Easter week);
* UC-0001 support chatbot: a first staging run of 0.3.0 failed at the pipeline, the second one
  is running now (its production gate still waits in the reviewers' queue).

The quick start makes no network call, so each team's demo pipeline is a webhook target (its
own, per environment) at an example address and the stories are written as their callbacks would have left them, placed in
the past as a whole (requested, dispatched, reported). Releases are frozen by the deployments
that used them, with the real reason. Safe to load again: nothing is added once a deployment
exists.
"""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from inventory.models import Environment, UseCase
from inventory.services.catalog import release_freeze
from operations import secrets
from operations.choices import DeploymentEventKindChoices as Kind
from operations.choices import DeploymentStatusChoices as Status
from operations.models import Deployment, DeploymentEvent, DeploymentTarget, HealthSignal
from operations.services.signals import health_threshold_save, signals_ingest

DEMO_PIPELINE_URL = "https://deploy.example.com/hooks/propylon"


def _target(environment: Environment, use_case: UseCase) -> DeploymentTarget:
    """The team's own pipeline for this environment (the environment's default stays free for
    admins to configure)."""
    target = DeploymentTarget.objects.filter(environment=environment, use_case=use_case, enabled=True).first()
    return target or DeploymentTarget.objects.create(
        name=f"Demo pipeline: {use_case.key} ({environment.name})",
        slug=f"demo-{use_case.key.lower()}-{environment.slug}",
        kind="webhook",
        environment=environment,
        use_case=use_case,
        url=DEMO_PIPELINE_URL,
        secret_encrypted=secrets.encrypt(f"demo-{use_case.key.lower()}-{environment.slug}-signing-secret"),
        secret_set_at=timezone.now(),
    )


def _story(
    use_case, version, environment, *, by, days_ago, outcome, message="", rollback_of=None, approval=None
):
    """One deployment as its events would have left it; returns it."""
    release = use_case.releases.get(version=version)
    requested = timezone.now() - timedelta(days=days_ago)
    target = _target(environment, use_case)
    deployment = Deployment.objects.create(
        use_case=use_case, release=release, environment=environment, target=target, approval=approval,
        rollback_of=rollback_of, requested_by=by, requested_at=requested, status=Status.QUEUED,
    )  # fmt: skip
    release_freeze(release=release, reason=f"deployment #{deployment.pk} to {environment.name}")
    what = f"Rollback of #{rollback_of.pk}: redeploy" if rollback_of else "Deploy"
    steps = [
        (
            Kind.REQUESTED,
            Status.QUEUED,
            by,
            f"{what} release {version} to {environment.name} through {target.name}.",
        )
    ]
    steps.append((Kind.DISPATCH_STARTED, Status.QUEUED, None, f"Attempt 1 to {target.name}."))
    if outcome == Status.FAILED:
        steps.append((Kind.FAILED, Status.FAILED, None, message))
    else:
        steps.append((Kind.DISPATCHED, Status.DISPATCHED, None, f"Accepted by {target.name}."))
        steps.append((Kind.CALLBACK, Status.RUNNING, None, "Rolling out."))
        if outcome == Status.SUCCEEDED:
            steps.append((Kind.CALLBACK, Status.SUCCEEDED, None, message or "Rolled out and healthy."))
    for minutes, (kind, status, actor, text) in enumerate(steps):
        DeploymentEvent.objects.create(
            deployment=deployment, kind=kind, status=status, actor=actor,
            at=requested + timedelta(minutes=2 * minutes), message=text,
        )  # fmt: skip
    finished = requested + timedelta(minutes=2 * (len(steps) - 1))
    deployment.status = outcome
    deployment.attempts = 1
    deployment.dispatch_started_at = requested + timedelta(minutes=2)
    deployment.dispatched_at = None if outcome == Status.FAILED else requested + timedelta(minutes=4)
    deployment.finished_at = finished if outcome in Status.FINISHED else None
    deployment.external_id = "" if outcome == Status.FAILED else f"run-{deployment.pk}"
    deployment.message = steps[-1][3]
    if outcome == Status.SUCCEEDED:
        Deployment.objects.filter(use_case=use_case, environment=environment, is_current=True).update(
            is_current=False
        )
        deployment.is_current = True
    deployment.save()
    return deployment


def _supersede(replaced: Deployment, rollback: Deployment) -> None:
    replaced.refresh_from_db()
    replaced.status = Status.ROLLED_BACK
    replaced.save()
    DeploymentEvent.objects.create(
        deployment=replaced, kind=Kind.SUPERSEDED, status=Status.ROLLED_BACK, at=rollback.finished_at,
        message=f"Replaced by rollback #{rollback.pk} to release {rollback.release.version}.",
    )  # fmt: skip


def load_deployments_demo(people: dict) -> None:
    if Deployment.objects.exists():
        return
    environments = {environment.slug: environment for environment in Environment.objects.all()}
    staging, production = environments.get("staging"), environments.get("production")
    if staging is None or production is None:
        return
    forecast = UseCase.objects.get(key="UC-0008")
    chatbot = UseCase.objects.get(key="UC-0001")
    sofia, lena = people["sofia"], people["lead"]

    approval = forecast.approval_requests.filter(
        release__version="2026.09", to_stage__key="production", status="approved"
    ).first()
    _story(forecast, "2026.09", staging, by=sofia, days_ago=360, outcome=Status.SUCCEEDED)
    if approval is not None:
        _story(
            forecast,
            "2026.09",
            production,
            by=sofia,
            days_ago=355,
            outcome=Status.SUCCEEDED,
            approval=approval,
        )
    newer = _story(forecast, "2026.11", staging, by=sofia, days_ago=20, outcome=Status.SUCCEEDED)
    rollback = _story(
        forecast, "2026.09", staging, by=sofia, days_ago=18, outcome=Status.SUCCEEDED, rollback_of=newer,
        message="Back on 2026.09: the holiday feature misread the Easter week.",
    )  # fmt: skip
    _supersede(newer, rollback)

    _story(
        chatbot, "0.3.0", staging, by=lena, days_ago=3, outcome=Status.FAILED,
        message="The target refused the deployment: POST https://deploy.example.com/hooks/propylon answered "
        "400 Bad Request: unknown environment “stage”.",
    )  # fmt: skip
    _story(chatbot, "0.3.0", staging, by=lena, days_ago=0.01, outcome=Status.RUNNING)


#
# Health signals: the forecast in production reports every six hours; its drift creeps past the
# threshold after the holiday season (the nightly audit's threshold-breach finding). The fraud
# scoring reports nothing: nobody watches it (the audit's missing-signal finding).
#

HEALTH_THRESHOLDS = (
    # metric, minimum, maximum, stale after (hours)
    ("latency_p95_ms", None, Decimal("800"), 24),
    ("error_rate", None, Decimal("0.02"), 24),
    ("drift_score", None, Decimal("0.30"), 24),
)


def _health_value(metric: str, step: int, steps: int) -> Decimal:
    """A plausible series: latency and errors wobble, drift rises over the last week."""
    wobble = (step * 37 % 11) - 5
    if metric == "latency_p95_ms":
        return Decimal(420 + 12 * wobble)
    if metric == "error_rate":
        return Decimal("0.006") + Decimal(wobble) / Decimal("2000")
    late = max(0, step - (steps - 28))
    return (Decimal("0.12") + Decimal(wobble) / Decimal("500") + Decimal(late) * Decimal("0.0085")).quantize(
        Decimal("0.0001")
    )


def load_health_demo(people: dict) -> None:
    forecast = UseCase.objects.filter(key="UC-0008").first()
    production = Environment.objects.filter(kind="production").order_by("pk").first()
    if forecast is None or production is None or HealthSignal.objects.filter(use_case=forecast).exists():
        return
    for metric, minimum, maximum, stale_after in HEALTH_THRESHOLDS:
        health_threshold_save(
            use_case=forecast, metric=metric, environment=production, minimum=minimum, maximum=maximum,
            stale_after_hours=stale_after,
        )  # fmt: skip
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    steps = 30 * 4
    points = [
        {
            "use_case": forecast.key,
            "environment": production.slug,
            "metric": metric,
            "value": str(_health_value(metric, step, steps)),
            "observed_at": (now - timedelta(hours=6 * (steps - 1 - step))).isoformat(),
        }
        for step in range(steps)
        for metric, *_bounds in HEALTH_THRESHOLDS
    ]
    signals_ingest(points=points, use_cases=UseCase.objects.filter(pk=forecast.pk), now=now)
