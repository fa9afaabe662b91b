"""Deployments: request, dispatch (with retries and crash safety), status from callbacks and
polling, the current release of each environment, and rollback.

Callers check who may deploy (``operations.policies.may_deploy``) or roll back
(``custom:rollback``); these functions hold the rules (DESIGN.md §4):

* Invariant 1: a production deployment needs ``approval_covering(use_case, release,
  "production")`` when it is requested AND again just before dispatch, so an approval revoked or
  expired in between stops it (event REFUSED, status failed).
* Invariant 6: a deployment is dispatched at most once in effect. The dispatch marker
  (``dispatch_started_at``, ``attempts``, event DISPATCH_STARTED) is committed before the HTTP
  call. A redelivered task that finds the marker without ``dispatched_at`` and whose last event
  is DISPATCH_STARTED knows a worker died during the call, so the target may have received it:

  - a target that honours the idempotency key (the webhook kind: its receiver deploys once per
    ``Idempotency-Key``) gets the SAME request with the SAME key again — a duplicate is a no-op
    there and the deployment still learns its run id;
  - any other target is NOT called again: the deployment moves to dispatched with a message
    saying so, and the callback or polling reports the outcome.

Every status change saves the (audit-registered) Deployment, so the trail records it, and
writes a DeploymentEvent in the same transaction. A succeeded deployment becomes the current
one of its (use case, environment), taking over from the previous current one in one
transaction (a unique constraint backs it); a succeeded rollback moves the deployment it
replaced to rolled back (event SUPERSEDED).
"""

import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from inventory.models import Environment, Release, UseCase
from inventory.services.catalog import release_freeze
from operations import secrets
from operations.choices import (
    DeploymentEventKindChoices,
    DeploymentStatusChoices,
    DeploymentTargetKindChoices,
)
from operations.models import Deployment, DeploymentEvent
from operations.selectors.deployments import (
    in_flight,
    is_production,
    previous_success,
    production_covers,
    target_for,
    why_not_covered,
)
from operations.targets.base import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    DispatchRequest,
    DispatchResult,
    PermanentTargetError,
    StatusReport,
    TargetError,
    TransientTargetError,
    client_for,
    sign,
)
from portal import jobs
from portal.choices import ChannelChoices
from portal.notifications import notify

logger = logging.getLogger(__name__)

DISPATCH_TASK = "operations.dispatch_deployment"
Status = DeploymentStatusChoices
Kind = DeploymentEventKindChoices
# What a callback or a poll may report.
REPORTABLE_STATUSES = (Status.RUNNING, Status.SUCCEEDED, Status.FAILED)


#
# Status changes (one place: event + audit + current release)
#


def _event(deployment: Deployment, kind: str, *, message: str = "", actor=None, data: dict | None = None):
    return DeploymentEvent.objects.create(
        deployment=deployment,
        kind=kind,
        status=deployment.status,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        message=message[:2000],
        data=data or {},
    )


def _move(
    deployment: Deployment,
    status: str,
    *,
    kind: str,
    message: str = "",
    actor=None,
    data: dict | None = None,
    external_url: str = "",
) -> None:
    """Move a locked deployment to ``status`` (TRANSITIONS decide), record it, keep the current
    release right. Raises ValidationError for a move the table refuses."""
    now = timezone.now()
    if _reported_before_answer(deployment, status):
        # The target reported before its answer to the dispatch reached us: it has the request.
        deployment.move_to(Status.DISPATCHED)
        deployment.dispatched_at = deployment.dispatched_at or now
    deployment.move_to(status)
    if status in Status.FINISHED:
        deployment.finished_at = deployment.finished_at or now
    if message:
        deployment.message = message[:2000]
    if external_url:
        deployment.external_url = external_url[:500]
    if status == Status.SUCCEEDED:
        _make_current(deployment)
    deployment.full_clean()
    deployment.save()
    _event(deployment, kind, message=message, actor=actor, data=data)
    if status == Status.SUCCEEDED and deployment.rollback_of_id:
        _supersede(deployment)
    if status in (Status.SUCCEEDED, Status.FAILED):
        _notify_outcome(deployment)


def _notify_outcome(deployment: Deployment) -> None:
    """Tell whoever asked how it ended (once: the key carries the outcome); a failure in
    production also goes to the chat webhooks."""
    release, environment = deployment.release, deployment.environment
    outcome = deployment.status_label.lower()
    notify(
        key=f"deployment-{deployment.pk}-{deployment.status}",
        recipients=[deployment.requested_by],
        subject=f"Deployment #{deployment.pk} {outcome}: {deployment.use_case.key} {release.version} → {environment.name}",
        body=deployment.message or f"The deployment {outcome}.",
        link=deployment.get_absolute_url(),
        webhooks=deployment.status == Status.FAILED and is_production(environment),
    )


def _reported_before_answer(deployment: Deployment, status: str) -> bool:
    """A queued deployment may hear "running" or "succeeded" only once its dispatch started (the
    marker is written after the last approval check): before that, no target has it."""
    return (
        deployment.status == Status.QUEUED
        and deployment.dispatch_started_at is not None
        and status in (Status.RUNNING, Status.SUCCEEDED)
    )


def _make_current(deployment: Deployment) -> None:
    previous = list(
        Deployment.objects.select_for_update()
        .filter(use_case_id=deployment.use_case_id, environment_id=deployment.environment_id, is_current=True)
        .exclude(pk=deployment.pk)
    )
    for old in previous:
        # Saved before the new one claims the flag: the unique constraint allows one at a time.
        old.is_current = False
        old.save()
    deployment.is_current = True


def _supersede(rollback: Deployment) -> None:
    replaced = Deployment.objects.select_for_update().get(pk=rollback.rollback_of_id)
    if replaced.status == Status.SUCCEEDED:
        replaced.move_to(Status.ROLLED_BACK)
        replaced.save()
        _event(
            replaced,
            Kind.SUPERSEDED,
            message=f"Replaced by rollback #{rollback.pk} to release {rollback.release.version}.",
            data={"rollback": rollback.pk},
        )


#
# Request
#


def deployment_request(
    *,
    actor,
    use_case: UseCase,
    release: Release,
    environment: Environment,
    channel: str = ChannelChoices.UI,
    rollback_of: Deployment | None = None,
) -> Deployment:
    """Queue a deployment of ``release`` to ``environment`` and enqueue its dispatch."""
    if release.use_case_id != use_case.pk:
        raise ValidationError({"release": f"Release {release.version} is not a release of {use_case.key}."})
    with transaction.atomic():
        # Two people deploying the same use case at once: the second waits here and then sees
        # the first one's deployment in flight.
        UseCase.objects.select_for_update().filter(pk=use_case.pk).first()
        target = target_for(use_case=use_case, environment=environment)
        if target is None:
            raise ValidationError(
                f"No enabled deployment target deploys {use_case.key} to {environment.name}: "
                "an admin configures one (or enables it) first."
            )
        busy = in_flight(use_case=use_case, environment=environment)
        if busy is not None:
            raise ValidationError(
                f"Deployment #{busy.pk} of {use_case.key} (release {busy.release.version}) to "
                f"{environment.name} is still {busy.status_label.lower()}: wait until it finishes."
            )
        approval = None
        if is_production(environment):
            approval = production_covers(use_case=use_case, release=release)
            if approval is None:
                raise ValidationError(
                    f"Refused: {use_case.key} release {release.version} cannot be deployed to "
                    f"{environment.name} without a valid, unexpired production approval of that exact "
                    f"release. {why_not_covered(use_case=use_case, release=release)}"
                )
        deployment = Deployment(
            use_case=use_case,
            release=release,
            environment=environment,
            target=target,
            approval=approval,
            rollback_of=rollback_of,
            requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        deployment.full_clean()
        deployment.save()
        release_freeze(release=release, reason=f"deployment #{deployment.pk} to {environment.name}")
        what = f"Rollback of #{rollback_of.pk}: redeploy" if rollback_of else "Deploy"
        _event(
            deployment,
            Kind.REQUESTED,
            actor=actor,
            message=f"{what} release {release.version} to {environment.name} through {target.name}"
            + (f", covered by {approval.reference}." if approval else "."),
            data={"channel": channel, **({"approval": approval.pk} if approval else {})},
        )
        run = jobs.enqueue(DISPATCH_TASK, actor=actor, channel=channel, deployment_id=deployment.pk)
        deployment.job_run = run
        deployment.save(update_fields=["job_run"])
    return deployment


#
# Dispatch (the job operations.dispatch_deployment)
#


@dataclass
class _Step:
    done: str = ""  # why there is nothing (more) to send
    client: object = None
    request: DispatchRequest | None = None
    attempt: int = 0


def callback_url(deployment_id: int) -> str:
    path = reverse("api:deployment-callback", args=[deployment_id])
    return settings.PROPYLON_BASE_URL.rstrip("/") + path


def _dispatch_request(deployment: Deployment) -> DispatchRequest:
    return DispatchRequest(
        deployment_id=deployment.pk,
        idempotency_key=deployment.idempotency_key,
        use_case_key=deployment.use_case.key,
        use_case_name=deployment.use_case.name,
        release_version=deployment.release.version,
        code_ref=deployment.release.code_ref,
        environment=deployment.environment.slug,
        environment_kind=deployment.environment.kind,
        callback_url=callback_url(deployment.pk),
        rollback_of=deployment.rollback_of_id,
    )


def _fail(deployment: Deployment, message: str, *, kind: str = Kind.FAILED, data: dict | None = None) -> str:
    _move(deployment, Status.FAILED, kind=kind, message=message, data=data)
    return message


def _begin_attempt(deployment_id: int) -> _Step:
    """Lock, re-check, and commit the dispatch marker (or say why nothing is sent)."""
    with transaction.atomic():
        deployment = (
            # of=self: PostgreSQL locks no outer-joined (nullable) target row.
            Deployment.objects.select_for_update(of=("self",))
            .select_related("use_case", "release", "environment", "target")
            .filter(pk=deployment_id)
            .first()
        )
        if deployment is None:
            return _Step(done=f"Deployment #{deployment_id} does not exist.")
        if deployment.status != Status.QUEUED:
            return _Step(done=f"Deployment #{deployment.pk} is already {deployment.status_label.lower()}.")
        target = deployment.target
        if target is None or not target.enabled:
            return _Step(
                done=_fail(deployment, "Its deployment target was removed or disabled before dispatch.")
            )
        if is_production(deployment.environment):
            # Invariant 1, checked again at the last moment: the approval may have been revoked or
            # may have expired since the request.
            approval = production_covers(use_case=deployment.use_case, release=deployment.release)
            if approval is None:
                reason = why_not_covered(use_case=deployment.use_case, release=deployment.release)
                return _Step(
                    done=_fail(
                        deployment,
                        f"Refused just before dispatch: {reason} Nothing was sent to {target.name}.",
                        kind=Kind.REFUSED,
                    )
                )
            if deployment.approval_id != approval.pk:
                deployment.approval = approval
        try:
            client = client_for(target)
        except (PermanentTargetError, secrets.SecretUnreadable) as exc:
            return _Step(done=_fail(deployment, f"Cannot reach {target.name}: {exc}"))
        interrupted = (
            deployment.dispatch_started_at is not None
            and deployment.dispatched_at is None
            and DeploymentEvent.objects.filter(deployment=deployment)
            .order_by("-at", "-pk")
            .values_list("kind", flat=True)
            .first()
            == Kind.DISPATCH_STARTED
        )
        if interrupted and not getattr(client, "honours_idempotency_key", False):
            # The target may have the request and would deploy twice if sent it again.
            message = (
                f"A worker stopped during dispatch attempt {deployment.attempts}; {target.name} may have "
                "received it and does not deduplicate, so it is not sent again. Its callback or polling "
                "reports the outcome."
            )
            deployment.dispatched_at = timezone.now()
            _move(deployment, Status.DISPATCHED, kind=Kind.DISPATCHED, message=message)
            return _Step(done=message)
        now = timezone.now()
        deployment.dispatch_started_at = now
        deployment.attempts += 1
        deployment.save()
        _event(
            deployment,
            Kind.DISPATCH_STARTED,
            message=f"Attempt {deployment.attempts} to {target.name}"
            + (
                " (again with the same idempotency key: a worker stopped during the last one)."
                if interrupted
                else "."
            ),
            data={"attempt": deployment.attempts, "idempotency_key": deployment.idempotency_key},
        )
        request = _dispatch_request(deployment)
    # Committed: a worker dying from here on leaves the marker for the next delivery to see.
    return _Step(client=client, request=request, attempt=deployment.attempts)


def _record_result(deployment_id: int, result: DispatchResult) -> str:
    with transaction.atomic():
        deployment = Deployment.objects.select_for_update().select_related("release").get(pk=deployment_id)
        deployment.external_id = deployment.external_id or result.external_id
        deployment.external_url = deployment.external_url or result.external_url
        deployment.dispatched_at = deployment.dispatched_at or timezone.now()
        if deployment.status == Status.QUEUED:
            _move(
                deployment,
                Status.DISPATCHED,
                kind=Kind.DISPATCHED,
                message=result.message or f"Accepted by {deployment.target}.",
                data={"external_id": result.external_id},
            )
        else:
            deployment.save()  # a callback got here first; keep its status
        if result.status in REPORTABLE_STATUSES and Status.may_move(deployment.status, result.status):
            _move(deployment, result.status, kind=Kind.DISPATCHED, message=result.message)
        return f"Deployment #{deployment.pk} is {deployment.status_label.lower()}."


def _record_retry(deployment_id: int, error: TargetError, wait: float) -> None:
    with transaction.atomic():
        deployment = Deployment.objects.select_for_update().get(pk=deployment_id)
        _event(
            deployment,
            Kind.RETRY,
            message=f"{error} — retrying in {wait:g} s.",
            data={"attempt": deployment.attempts, "wait_seconds": wait},
        )


def _record_failure(deployment_id: int, message: str) -> str:
    with transaction.atomic():
        deployment = Deployment.objects.select_for_update().get(pk=deployment_id)
        if deployment.status in Status.FINISHED:
            return f"Deployment #{deployment.pk} is already {deployment.status_label.lower()}."
        return _fail(deployment, message)


def retry_wait(attempt: int, *, eager: bool) -> float:
    """Exponential backoff after ``attempt`` failed; eager mode (a person's request waits) caps it."""
    wait = settings.PROPYLON_DEPLOY_RETRY_BASE_SECONDS * 2 ** max(attempt - 1, 0)
    return min(wait, 1.0 if eager else settings.PROPYLON_DEPLOY_RETRY_MAX_WAIT_SECONDS)


def deployment_dispatch(
    *, deployment_id: int, eager: bool = False, log: Callable[[str], None] = logger.info, sleep=time.sleep
) -> str:
    """Send the deployment to its target, retrying transient failures with exponential backoff
    (in this process, so one JobRun shows every attempt); returns what happened."""
    while True:
        step = _begin_attempt(deployment_id)
        if step.done:
            log(step.done)
            return step.done
        try:
            result = step.client.dispatch(step.request)
        except TransientTargetError as exc:
            if step.attempt >= settings.PROPYLON_DEPLOY_MAX_ATTEMPTS:
                message = f"Gave up after {step.attempt} attempts: {exc}"
                log(message)
                return _record_failure(deployment_id, message)
            wait = retry_wait(step.attempt, eager=eager)
            _record_retry(deployment_id, exc, wait)
            log(f"Attempt {step.attempt} failed ({exc}); retrying in {wait:g} s.")
            sleep(wait)
            continue
        except PermanentTargetError as exc:
            log(str(exc))
            return _record_failure(deployment_id, f"The target refused the deployment: {exc}")
        outcome = _record_result(deployment_id, result)
        log(outcome)
        return outcome


#
# Status reports: signed callbacks and polling
#


class CallbackRejected(PermissionDenied):
    """A callback whose signature, timestamp or freshness does not check out (403)."""


def _callback_secret(deployment: Deployment) -> str:
    target = deployment.target
    if target is None:
        return ""
    encrypted = target.callback_secret_encrypted or (
        target.secret_encrypted if target.kind == DeploymentTargetKindChoices.WEBHOOK else ""
    )
    try:
        return secrets.decrypt(encrypted) if encrypted else ""
    except secrets.SecretUnreadable:
        return ""


def _check_signature(deployment: Deployment, headers, body: bytes, now: datetime) -> str:
    timestamp = (headers.get(TIMESTAMP_HEADER) or "").strip()
    signature = (headers.get(SIGNATURE_HEADER) or "").strip()
    if not timestamp or not signature:
        raise CallbackRejected(
            f"The callback must be signed: {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers."
        )
    secret = _callback_secret(deployment)
    if not secret:
        raise CallbackRejected(
            "This deployment's target has no callback secret to verify the signature with."
        )
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        raise CallbackRejected("The callback's signature does not match its body and timestamp.")
    try:
        sent = int(timestamp)
    except ValueError:
        raise CallbackRejected(f"{TIMESTAMP_HEADER} must be a Unix time in seconds.") from None
    window = settings.PROPYLON_CALLBACK_REPLAY_SECONDS
    if abs(now.timestamp() - sent) > window:
        raise CallbackRejected(
            f"The callback's timestamp is more than {window} s away from now: refused as a possible replay."
        )
    if DeploymentEvent.objects.filter(
        deployment=deployment, kind=Kind.CALLBACK, data__signature=signature
    ).exists():
        raise CallbackRejected("This callback's signature was already used: refused as a replay.")
    return signature


def deployment_callback(*, deployment_id: int, headers, body: bytes) -> Deployment:
    """Apply a target's signed status report. Raises Deployment.DoesNotExist (404),
    CallbackRejected (403) or ValidationError (a bad body or a move the states refuse)."""
    now = timezone.now()
    with transaction.atomic():
        deployment = (
            Deployment.objects.select_for_update(of=("self",))
            .select_related("target", "release")
            .get(pk=deployment_id)
        )
        signature = _check_signature(deployment, headers, body, now)
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            raise ValidationError("The callback's body must be JSON.") from None
        if not isinstance(payload, dict):
            raise ValidationError("The callback's body must be a JSON object.")
        status = payload.get("status")
        if status not in REPORTABLE_STATUSES:
            raise ValidationError(
                {"status": f"Must be one of {', '.join(REPORTABLE_STATUSES)} (got {status!r})."}
            )
        message = str(payload.get("message") or "")[:2000]
        external_url = str(payload.get("external_url") or "")
        if external_url and not external_url.startswith(("http://", "https://")):
            raise ValidationError({"external_url": "Must be an http or https URL."})
        data = {"signature": signature, "reported": status}
        if status == deployment.status:
            # A repeated report of the same state: recorded, nothing moves.
            _event(
                deployment,
                Kind.CALLBACK,
                message=message or f"Still {deployment.status_label.lower()}.",
                data=data,
            )
            return deployment
        if not Status.may_move(deployment.status, status) and not (
            _reported_before_answer(deployment, status)
        ):
            raise ValidationError(
                f"Deployment #{deployment.pk} is {deployment.status_label.lower()} and cannot become "
                f"{Status.label(status).lower()}."
            )
        _move(
            deployment,
            status,
            kind=Kind.CALLBACK,
            message=message or f"The target reports: {Status.label(status).lower()}.",
            data=data,
            external_url=external_url,
        )
    return deployment


def deployment_apply_poll(*, deployment_id: int, report: StatusReport) -> bool:
    """Apply what polling learned; True if the status moved."""
    with transaction.atomic():
        deployment = Deployment.objects.select_for_update().select_related("release").get(pk=deployment_id)
        if report.status not in REPORTABLE_STATUSES or report.status == deployment.status:
            return False
        if deployment.status not in Status.IN_FLIGHT or not (
            Status.may_move(deployment.status, report.status)
            or _reported_before_answer(deployment, report.status)
        ):
            return False
        _move(
            deployment,
            report.status,
            kind=Kind.POLL,
            message=report.message or f"Polling: {Status.label(report.status).lower()}.",
            external_url=report.external_url,
        )
        return True


def deployments_expire(*, now: datetime | None = None) -> int:
    """End as failed the deployments that reported no outcome within
    ``PROPYLON_DEPLOY_OUTCOME_HOURS`` (a lost callback, a target that never answers), so their
    environment takes deployments again; returns how many. Runs with the poll job."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.PROPYLON_DEPLOY_OUTCOME_HOURS)
    stale = Deployment.objects.filter(status__in=Status.IN_FLIGHT, requested_at__lt=cutoff).values_list(
        "pk", flat=True
    )
    expired = 0
    for deployment_id in list(stale):
        with transaction.atomic():
            deployment = (
                Deployment.objects.select_for_update().select_related("release").get(pk=deployment_id)
            )
            if deployment.status not in Status.IN_FLIGHT:
                continue  # an outcome arrived meanwhile
            sent = (
                " The target may still have acted on it: check there."
                if deployment.dispatch_started_at
                else ""
            )
            _fail(
                deployment,
                f"No outcome reported within {settings.PROPYLON_DEPLOY_OUTCOME_HOURS} h of the request.{sent}",
            )
            expired += 1
    return expired


#
# Rollback
#


def rollback_candidate(deployment: Deployment) -> tuple[Deployment | None, str]:
    """What a rollback of ``deployment`` would redeploy, or why there is nothing to roll back to."""
    use_case, environment = deployment.use_case, deployment.environment
    if not deployment.is_current:
        return None, (
            f"Deployment #{deployment.pk} is not what {environment.name} runs now: only the current "
            "deployment of an environment is rolled back."
        )
    previous = previous_success(deployment)
    if previous is None:
        return (
            None,
            f"No earlier release of {use_case.key} ran in {environment.name}: there is nothing to roll back to.",
        )
    if is_production(environment) and production_covers(use_case=use_case, release=previous.release) is None:
        return None, (
            f"Cannot roll back to release {previous.release.version}: "
            f"{why_not_covered(use_case=use_case, release=previous.release)}"
        )
    return previous, ""


def deployment_rollback(*, actor, deployment: Deployment, channel: str = ChannelChoices.UI) -> Deployment:
    """Redeploy the release that succeeded in the environment before the current one."""
    previous, reason = rollback_candidate(deployment)
    if previous is None:
        raise ValidationError(reason)
    return deployment_request(
        actor=actor,
        use_case=deployment.use_case,
        release=previous.release,
        environment=deployment.environment,
        channel=channel,
        rollback_of=deployment,
    )
