"""The deployment rules through the service and the dispatch job (operations.services.deployments):
invariant 1 (production needs a covering approval, at request and again at dispatch), retries,
target failures, crash safety, one current release per environment, rollback, polling."""

import json
import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from approvals.choices import ApprovalStatusChoices
from operations.choices import DeploymentEventKindChoices as Kind
from operations.choices import DeploymentStatusChoices as Status
from operations.models import Deployment, DeploymentEvent
from operations.services import deployments as services
from operations.targets import base as target_base
from operations.targets.base import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, StatusReport, sign
from operations.tasks import dispatch_deployment, poll_deployments
from operations.testing import FakeTarget
from portal.models import AuditEntry, Notification
from tests.operations.deploy_fixtures import SECRET, approve_for_production, make_target

pytestmark = pytest.mark.django_db


@pytest.fixture
def deploy(django_capture_on_commit_callbacks):
    """Request a deployment as production code does and run the dispatch job it enqueues."""

    def request(setup, version, environment, *, actor=None, rollback_of=None):
        with django_capture_on_commit_callbacks(execute=True):
            deployment = services.deployment_request(
                actor=actor or setup.lead,
                use_case=setup.use_case,
                release=setup.releases[version],
                environment=environment,
                rollback_of=rollback_of,
            )
        deployment.refresh_from_db()
        return deployment

    return request


def report(deployment, status, message=""):
    """What a valid signed callback does (the API tests sign real requests)."""
    body = json.dumps({"status": status, "message": message}).encode()
    timestamp = str(int(time.time()))
    headers = {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(SECRET, timestamp, body)}
    services.deployment_callback(deployment_id=deployment.pk, headers=headers, body=body)
    deployment.refresh_from_db()
    return deployment


def kinds(deployment) -> list[str]:
    return list(
        DeploymentEvent.objects.filter(deployment=deployment)
        .order_by("at", "pk")
        .values_list("kind", flat=True)
    )


#
# Request and dispatch
#


def test_a_staging_deployment_is_dispatched_signed_with_its_idempotency_key(deploy_setup, deploy):
    deploy_setup.fake.respond(200, {"id": "run-7", "url": "https://ci.example/run/7"})
    deployment = deploy(deploy_setup, "1.0", deploy_setup.staging)
    assert deployment.status == Status.DISPATCHED
    assert (deployment.external_id, deployment.external_url) == ("run-7", "https://ci.example/run/7")
    assert deployment.attempts == 1 and deployment.dispatch_started_at and deployment.dispatched_at
    assert kinds(deployment) == [Kind.REQUESTED, Kind.DISPATCH_STARTED, Kind.DISPATCHED]
    [received] = deploy_setup.fake.requests
    payload = received.json()
    assert (
        received.headers[IDEMPOTENCY_HEADER]
        == deployment.idempotency_key
        == f"propylon-deployment-{deployment.pk}"
    )
    assert received.headers[SIGNATURE_HEADER] == sign(
        SECRET, received.headers[TIMESTAMP_HEADER], received.body
    )
    assert payload["release_version"] == "1.0" and payload["use_case_key"] == deploy_setup.use_case.key
    assert payload["callback_url"] == f"http://portal.test/api/deployments/{deployment.pk}/callback/"
    release = deploy_setup.releases["1.0"]
    release.refresh_from_db()
    assert release.frozen_at and release.frozen_reason == f"deployment #{deployment.pk} to Staging"
    # The status changes went to the audit trail.
    assert (
        AuditEntry.objects.filter(content_type__model="deployment", object_id=str(deployment.pk)).count() >= 2
    )


def test_production_without_an_approval_is_refused_naming_the_release(deploy_setup, deploy):
    with pytest.raises(ValidationError) as refused:
        deploy(deploy_setup, "1.0", deploy_setup.production)
    message = " ".join(refused.value.messages)
    assert f"{deploy_setup.use_case.key} release 1.0" in message
    assert "production approval" in message
    assert not Deployment.objects.exists()
    assert deploy_setup.fake.requests == []


def test_production_with_an_approval_of_another_release_is_refused(deploy_setup, deploy):
    approve_for_production(deploy_setup.use_case, deploy_setup.releases["2.0"])
    with pytest.raises(ValidationError, match=r"release 1\.0"):
        deploy(deploy_setup, "1.0", deploy_setup.production)


def test_an_expired_approval_does_not_cover_and_the_refusal_says_when_it_expired(deploy_setup, deploy):
    approval = approve_for_production(deploy_setup.use_case, deploy_setup.releases["1.0"])
    approval.expires_at = timezone.now() - timedelta(days=1)
    approval.save()
    with pytest.raises(ValidationError, match="expired on"):
        deploy(deploy_setup, "1.0", deploy_setup.production)


def test_production_with_a_covering_approval_is_dispatched_and_records_it(deploy_setup, deploy):
    approval = approve_for_production(deploy_setup.use_case, deploy_setup.releases["1.0"])
    deployment = deploy(deploy_setup, "1.0", deploy_setup.production)
    assert deployment.approval == approval
    assert deployment.status == Status.DISPATCHED


def test_a_second_deployment_while_one_is_in_flight_is_refused(deploy_setup, deploy):
    first = deploy(deploy_setup, "1.0", deploy_setup.staging)
    with pytest.raises(ValidationError, match=f"#{first.pk}.*still"):
        deploy(deploy_setup, "2.0", deploy_setup.staging)


def test_a_release_of_another_use_case_and_a_missing_target_are_refused(
    deploy_setup, file_use_case, legal_team
):
    other = file_use_case(legal_team, submit=True, name="Contract review")
    with pytest.raises(ValidationError, match="not a release of"):
        services.deployment_request(
            actor=deploy_setup.lead,
            use_case=other,
            release=deploy_setup.releases["1.0"],
            environment=deploy_setup.staging,
        )
    deploy_setup.staging.deployment_targets.update(enabled=False)
    with pytest.raises(ValidationError, match="No enabled deployment target"):
        services.deployment_request(
            actor=deploy_setup.lead,
            use_case=deploy_setup.use_case,
            release=deploy_setup.releases["1.0"],
            environment=deploy_setup.staging,
        )


def test_a_use_case_target_wins_over_the_environment_default(deploy_setup, deploy, fake_target):
    with FakeTarget() as own:
        target = make_target(deploy_setup.staging, own.url, use_case=deploy_setup.use_case)
        deployment = deploy(deploy_setup, "1.0", deploy_setup.staging)
        assert deployment.target == target
        assert len(own.requests) == 1 and fake_target.requests == []


def test_a_direct_task_call_never_dispatches_an_unapproved_production_deployment(deploy_setup, run_job):
    # A row forced to queued without any approval (as if someone bypassed the service).
    deployment = Deployment.objects.create(
        use_case=deploy_setup.use_case,
        release=deploy_setup.releases["1.0"],
        environment=deploy_setup.production,
        target=deploy_setup.production.deployment_targets.get(),
    )
    run = run_job(dispatch_deployment, deployment_id=deployment.pk)
    deployment.refresh_from_db()
    assert run.status == "succeeded"
    assert deployment.status == Status.FAILED
    assert kinds(deployment) == [Kind.REFUSED]
    assert "Refused just before dispatch" in deployment.message
    assert deploy_setup.fake.requests == []
    # Calling the task body directly again changes nothing.
    dispatch_deployment.apply(kwargs={"deployment_id": deployment.pk})
    assert deploy_setup.fake.requests == []


def test_an_approval_revoked_between_request_and_dispatch_stops_it(
    deploy_setup, django_capture_on_commit_callbacks
):
    approval = approve_for_production(deploy_setup.use_case, deploy_setup.releases["1.0"])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        deployment = services.deployment_request(
            actor=deploy_setup.lead,
            use_case=deploy_setup.use_case,
            release=deploy_setup.releases["1.0"],
            environment=deploy_setup.production,
        )
    approval.status = ApprovalStatusChoices.REVOKED
    approval.revoked_at = timezone.now()
    approval.save()
    for callback in callbacks:
        callback()
    deployment.refresh_from_db()
    assert deployment.status == Status.FAILED
    assert kinds(deployment) == [Kind.REQUESTED, Kind.REFUSED]
    assert "was revoked" in deployment.message
    assert deploy_setup.fake.requests == []


#
# Target failures
#


def test_a_500_then_a_200_is_retried_once(deploy_setup, deploy):
    deploy_setup.fake.respond(500, {"error": "boom"})
    deploy_setup.fake.respond(200, {"id": "run-2"})
    deployment = deploy(deploy_setup, "1.0", deploy_setup.staging)
    assert deployment.status == Status.DISPATCHED and deployment.attempts == 2
    assert kinds(deployment) == [
        Kind.REQUESTED,
        Kind.DISPATCH_STARTED,
        Kind.RETRY,
        Kind.DISPATCH_STARTED,
        Kind.DISPATCHED,
    ]
    keys = {received.headers[IDEMPOTENCY_HEADER] for received in deploy_setup.fake.requests}
    assert len(deploy_setup.fake.requests) == 2 and keys == {deployment.idempotency_key}


def test_a_slow_answer_times_out_and_is_retried(deploy_setup, deploy):
    deploy_setup.staging.deployment_targets.update(timeout_seconds=1)
    deploy_setup.fake.respond(200, {"id": "late"}, delay=1.5)
    deploy_setup.fake.respond(200, {"id": "run-3"})
    deployment = deploy(deploy_setup, "1.0", deploy_setup.staging)
    assert deployment.status == Status.DISPATCHED and deployment.external_id == "run-3"
    retry = DeploymentEvent.objects.get(deployment=deployment, kind=Kind.RETRY)
    assert "did not answer within 1 s" in retry.message


def test_transient_failures_end_failed_after_the_last_attempt(deploy_setup, deploy, settings):
    settings.PROPYLON_DEPLOY_MAX_ATTEMPTS = 3
    for _ in range(3):
        deploy_setup.fake.respond(503)
    deployment = deploy(deploy_setup, "1.0", deploy_setup.staging)
    assert deployment.status == Status.FAILED and deployment.attempts == 3
    assert deployment.message.startswith("Gave up after 3 attempts")
    assert len(deploy_setup.fake.requests) == 3


def test_a_400_fails_at_once(deploy_setup, deploy):
    deploy_setup.fake.respond(400, {"error": "unknown environment"})
    deployment = deploy(deploy_setup, "1.0", deploy_setup.staging)
    assert deployment.status == Status.FAILED and deployment.attempts == 1
    assert "400" in deployment.message
    assert len(deploy_setup.fake.requests) == 1


def test_the_backoff_doubles_and_eager_mode_caps_it(settings):
    settings.PROPYLON_DEPLOY_RETRY_BASE_SECONDS = 2
    assert [services.retry_wait(attempt, eager=False) for attempt in (1, 2, 3)] == [2, 4, 8]
    assert services.retry_wait(5, eager=True) == 1.0


#
# Crash safety (the real killed-worker test is tests/operations/test_deployments_worker.py)
#


def _interrupted(deploy_setup, django_capture_on_commit_callbacks, environment_key="staging"):
    """A deployment whose dispatch marker was committed but whose worker died in the HTTP call."""
    with django_capture_on_commit_callbacks(execute=False):
        deployment = services.deployment_request(
            actor=deploy_setup.lead,
            use_case=deploy_setup.use_case,
            release=deploy_setup.releases["1.0"],
            environment=getattr(deploy_setup, environment_key),
        )
    step = services._begin_attempt(deployment.pk)
    assert step.request is not None
    return deployment


def test_a_redelivered_dispatch_resends_the_same_key_to_a_webhook(
    deploy_setup, django_capture_on_commit_callbacks
):
    deployment = _interrupted(deploy_setup, django_capture_on_commit_callbacks)
    services.deployment_dispatch(deployment_id=deployment.pk)
    services.deployment_dispatch(deployment_id=deployment.pk)  # a third delivery: nothing more
    deployment.refresh_from_db()
    assert deployment.status == Status.DISPATCHED and deployment.attempts == 2
    assert {r.headers[IDEMPOTENCY_HEADER] for r in deploy_setup.fake.requests} == {deployment.idempotency_key}
    assert len(deploy_setup.fake.requests) == 1


class _NonIdempotentClient(target_base.TargetClient):
    kind = "github_actions"
    sent: list = []

    def dispatch(self, request):
        self.sent.append(request)
        return target_base.DispatchResult()


def test_a_redelivered_dispatch_is_not_resent_to_a_target_without_idempotency(
    deploy_setup, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setitem(target_base._CLIENTS, "github_actions", _NonIdempotentClient)
    deploy_setup.staging.deployment_targets.update(kind="github_actions")
    _NonIdempotentClient.sent = []
    deployment = _interrupted(deploy_setup, django_capture_on_commit_callbacks)
    services.deployment_dispatch(deployment_id=deployment.pk)
    deployment.refresh_from_db()
    assert _NonIdempotentClient.sent == []
    assert deployment.status == Status.DISPATCHED
    assert "not sent again" in deployment.message


#
# Outcomes: callbacks, polling, the current release
#


def test_exactly_one_current_release_per_environment(deploy_setup, deploy):
    first = report(deploy(deploy_setup, "1.0", deploy_setup.staging), Status.SUCCEEDED)
    assert first.is_current and first.finished_at
    second = deploy(deploy_setup, "2.0", deploy_setup.staging)
    report(second, Status.RUNNING)
    first.refresh_from_db()
    assert first.is_current  # still the one running until the new one succeeds
    second = report(second, Status.SUCCEEDED)
    first.refresh_from_db()
    assert second.is_current and not first.is_current
    assert Deployment.objects.filter(environment=deploy_setup.staging, is_current=True).count() == 1
    failed = deploy(deploy_setup, "3.0", deploy_setup.staging)
    report(failed, Status.FAILED)
    second.refresh_from_db()
    assert second.is_current


def test_a_callback_cannot_move_a_finished_deployment(deploy_setup, deploy):
    deployment = report(deploy(deploy_setup, "1.0", deploy_setup.staging), Status.FAILED)
    with pytest.raises(ValidationError, match="cannot become"):
        report(deployment, Status.SUCCEEDED)


class _PollingClient(target_base.TargetClient):
    kind = "argocd"
    supports_polling = True

    def poll(self, deployment):
        return StatusReport(status=Status.SUCCEEDED, message="Synced and healthy.")


def test_polling_moves_deployments_of_targets_that_support_it(deploy_setup, deploy, run_job, monkeypatch):
    deployment = deploy(deploy_setup, "1.0", deploy_setup.staging)
    monkeypatch.setitem(target_base._CLIENTS, "argocd", _PollingClient)
    deploy_setup.staging.deployment_targets.update(kind="argocd")
    run = run_job(poll_deployments)
    deployment.refresh_from_db()
    assert run.result == {"asked": 1, "moved": 1, "expired": 0}
    assert deployment.status == Status.SUCCEEDED and deployment.is_current
    assert kinds(deployment)[-1] == Kind.POLL


#
# Rollback
#


def test_rollback_redeploys_the_previous_approved_release_and_supersedes_the_current(
    deploy_setup, deploy, django_capture_on_commit_callbacks
):
    for version in ("1.0", "2.0"):
        approve_for_production(deploy_setup.use_case, deploy_setup.releases[version])
    old = report(deploy(deploy_setup, "1.0", deploy_setup.production), Status.SUCCEEDED)
    current = report(deploy(deploy_setup, "2.0", deploy_setup.production), Status.SUCCEEDED)
    with django_capture_on_commit_callbacks(execute=True):
        rollback = services.deployment_rollback(actor=deploy_setup.lead, deployment=current)
    rollback.refresh_from_db()
    assert rollback.rollback_of == current and rollback.release == old.release
    assert deploy_setup.fake.requests[-1].json()["rollback_of"] == current.pk
    rollback = report(rollback, Status.SUCCEEDED)
    current.refresh_from_db()
    assert rollback.is_current and not current.is_current
    assert current.status == Status.ROLLED_BACK
    assert kinds(current)[-1] == Kind.SUPERSEDED


def test_rollback_is_refused_when_nothing_ran_before(deploy_setup, deploy):
    approve_for_production(deploy_setup.use_case, deploy_setup.releases["1.0"])
    only = report(deploy(deploy_setup, "1.0", deploy_setup.production), Status.SUCCEEDED)
    with pytest.raises(
        ValidationError, match=f"No earlier release of {deploy_setup.use_case.key} ran in Production"
    ):
        services.deployment_rollback(actor=deploy_setup.lead, deployment=only)


def test_rollback_is_refused_when_the_previous_release_lost_its_approval(deploy_setup, deploy):
    earlier = approve_for_production(deploy_setup.use_case, deploy_setup.releases["1.0"])
    approve_for_production(deploy_setup.use_case, deploy_setup.releases["2.0"])
    report(deploy(deploy_setup, "1.0", deploy_setup.production), Status.SUCCEEDED)
    current = report(deploy(deploy_setup, "2.0", deploy_setup.production), Status.SUCCEEDED)
    earlier.expires_at = timezone.now() - timedelta(days=2)
    earlier.save()
    with pytest.raises(ValidationError, match=r"release 1\.0's production approval .* expired on"):
        services.deployment_rollback(actor=deploy_setup.lead, deployment=current)
    assert not Deployment.objects.filter(rollback_of=current).exists()


def test_the_requester_hears_how_it_ended_once(deploy_setup, deploy):
    deployment = report(deploy(deploy_setup, "1.0", deploy_setup.staging), Status.SUCCEEDED)
    rows = Notification.objects.filter(key__startswith=f"deployment-{deployment.pk}-")
    assert [(row.recipient, row.link) for row in rows] == [
        (deploy_setup.lead, f"/deployments/{deployment.pk}/")
    ]
    assert "succeeded" in rows.get().subject


def test_a_deployment_without_an_outcome_for_too_long_ends_failed(deploy_setup, deploy, run_job, settings):
    settings.PROPYLON_DEPLOY_OUTCOME_HOURS = 6
    stuck = deploy(deploy_setup, "1.0", deploy_setup.staging)
    Deployment.objects.filter(pk=stuck.pk).update(requested_at=timezone.now() - timedelta(hours=7))
    run = run_job(poll_deployments)
    stuck.refresh_from_db()
    assert run.result["expired"] == 1
    assert stuck.status == Status.FAILED and "No outcome reported within 6 h" in stuck.message
    # The environment takes a deployment again.
    assert deploy(deploy_setup, "2.0", deploy_setup.staging).status == Status.DISPATCHED
