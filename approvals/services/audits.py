"""Audit runs: execute the registered checks (portal.auditing) and keep findings under their keys.

``audit_run_start`` records an AuditRun and queues the ``approvals.run_audit`` job, which calls
``audit_run_execute``. A run collects every check's observations, then writes in one
transaction:

* a new key (``"<check id>:<subject key>"``) opens a finding, owned by the observation's owner,
  the use case's accountable owner, or the CoE, due after its severity's remediation days;
* a key seen again updates the finding (``last_seen_at``, ``last_run``, and what the check says
  about it now); a resolved one whose condition is back reopens; a risk-accepted one stays
  accepted;
* a live finding of a check that ran but did not report it again has cleared: it resolves.

A run for one use case touches only that use case's findings. A check that raises is logged and
counted in ``counts["errors"]``; its findings are left as they are (a broken check must not
resolve everything it found before). The number of queries depends on the number of checks and
on chunks of ``CHUNK_SIZE`` rows, not on the size of the portfolio; what does grow with the
findings that *change* is the audit trail, one entry per created or changed finding.
"""

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from approvals.choices import FindingEventKindChoices, FindingStatusChoices
from approvals.models import AuditRun, Finding, FindingEvent
from approvals.policies import may_audit_portfolio, may_audit_use_case
from inventory.models import UseCase
from portal import jobs
from portal.auditing import AuditCheck, AuditScope, Observation, check_for, checks
from portal.choices import JobStatusChoices, SeverityChoices
from portal.jobs import JobContext, JobLogLevel
from portal.notifications import Message, notify_many
from portal.roles import Role

logger = logging.getLogger(__name__)

RUN_AUDIT_JOB = "approvals.run_audit"

# Rows per IN list and per bulk statement: SQLite allows 32,766 variables per statement, and a
# bounded statement keeps PostgreSQL's plans and the process's memory flat.
CHUNK_SIZE = 5_000

# Findings named in one owner's notification; the rest are counted ("and 12 more").
NOTIFY_LISTED = 20

# Serialises the finding writes of two runs (a nightly run and someone's "run now"): both would
# insert the same new keys. SQLite opens every transaction IMMEDIATE, which serialises already.
FINDINGS_LOCK_KEY = 0x50524F50_41554454  # "PROPAUDT"

# What a re-run may change on a finding it sees again (the status has its own rules).
CONTENT_FIELDS = ("title", "detail", "link", "data", "severity", "use_case_id", "owner_id", "owned_by_coe")
EXISTING_FIELDS = ("id", "key", "check_id", "status", *CONTENT_FIELDS)

FINDINGS_LINK = "/findings/?owner=me"  # the findings list, filtered to the reader's own


def _chunks(items: Sequence, size: int = CHUNK_SIZE) -> Iterable[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


#
# Starting a run
#


def checks_for_scope(
    *, use_case: UseCase | None = None, check_ids: Sequence[str] | None = None
) -> list[AuditCheck]:
    """The checks a run executes: all registered ones (a run for one use case skips the
    portfolio-wide ones), or those named. An unknown id is an error naming it."""
    if check_ids:
        unknown = sorted({check_id for check_id in check_ids if check_for(check_id) is None})
        if unknown:
            known = ", ".join(check.id for check in checks()) or "none are registered"
            raise ValidationError(
                f"Unknown audit check{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)} (known: {known})."
            )
        chosen = [check for check in checks() if check.id in set(check_ids)]
    else:
        chosen = checks()
    if use_case is not None:
        chosen = [check for check in chosen if check.per_use_case]
    return chosen


def audit_run_create(*, actor=None, use_case: UseCase | None = None, channel: str) -> AuditRun:
    """Record a queued run over ``use_case`` (None: the portfolio). ``actor`` None is the
    system (the schedule, a command run by an operator); a person needs the right to audit
    that scope."""
    if actor is not None:
        if use_case is None and not may_audit_portfolio(actor):
            raise ValidationError("Only the CoE and admins run the audit over the whole portfolio.")
        if use_case is not None and not may_audit_use_case(actor, use_case):
            raise ValidationError(
                f"You may not audit {use_case.key}: the owning team, the CoE and admins run its audit."
            )
    run = AuditRun(
        use_case=use_case,
        status=JobStatusChoices.QUEUED,
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        channel=channel,
    )
    run.full_clean()
    run.save()
    return run


def audit_run_start(*, actor, use_case: UseCase | None = None, channel: str) -> AuditRun:
    """Record a run and queue the job that executes it (after this transaction commits)."""
    with transaction.atomic():
        run = audit_run_create(actor=actor, use_case=use_case, channel=channel)
        job_run = jobs.enqueue(RUN_AUDIT_JOB, actor=actor, channel=channel, audit_run_id=run.pk)
        run.job_run = job_run
        run.save(update_fields=["job_run"])
    return run


#
# Executing a run
#


@dataclass
class _Tally:
    observed: int = 0
    opened: int = 0
    reopened: int = 0
    updated: int = 0
    cleared: int = 0

    def as_dict(self) -> dict:
        return {"observed": self.observed, "opened": self.opened, "cleared": self.cleared}


def _report(job: JobContext | None, message: str, level: str = JobLogLevel.INFO) -> None:
    if job is not None:
        job.log(message, level)
    else:
        logger.log(logging.ERROR if level == JobLogLevel.ERROR else logging.DEBUG, "audit: %s", message)


def _collect(run: AuditRun, scope: AuditScope, chosen: list[AuditCheck], job: JobContext | None):
    """Run each check; return {check id: {subject key: observation}} for the checks that
    worked and {check id: error} for those that raised."""
    observed: dict[str, dict[str, Observation]] = {}
    errors: dict[str, str] = {}
    for position, check in enumerate(chosen):
        if job is not None:
            job.progress(
                80 * position / max(len(chosen), 1), f"Check {position + 1} of {len(chosen)}: {check.title}"
            )
        try:
            found: dict[str, Observation] = {}
            for observation in check.run(scope):
                # A check scoped to one use case reports only about it; anything else it
                # yields is outside this run, which must not touch other use cases' findings.
                if not scope.is_portfolio and observation.use_case_id != scope.use_case_id:
                    continue
                found[observation.subject_key] = observation
        except jobs.JobCancelled:
            raise
        except Exception as exc:  # one broken check must not sink the run or clear its findings
            logger.exception("audit run #%s: check %s failed", run.pk, check.id)
            errors[check.id] = f"{type(exc).__name__}: {exc}"[:500]
            _report(job, f"Check {check.id} failed, its findings are left as they were: {errors[check.id]}",
                    JobLogLevel.ERROR)  # fmt: skip
            continue
        too_long = [
            key for key in found if len(f"{check.id}:{key}") > Finding._meta.get_field("key").max_length
        ]
        for key in too_long:
            _report(
                job, f"Check {check.id}: subject key {key[:60]}… is too long; skipped.", JobLogLevel.WARNING
            )
            del found[key]
        observed[check.id] = found
    return observed, errors


def _owners_of(use_case_ids: set[int]) -> dict[int, int | None]:
    """Use case id → accountable owner id, one query per chunk of use cases."""
    owners: dict[int, int | None] = {}
    for chunk in _chunks(sorted(use_case_ids)):
        owners.update(UseCase.objects.filter(pk__in=chunk).values_list("pk", "accountable_owner_id"))
    return owners


def _lock_findings() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FINDINGS_LOCK_KEY])


def _due(now, severity: str):
    return now + timedelta(days=SeverityChoices.DUE_DAYS[severity])


def audit_run_execute(
    run: AuditRun, *, job: JobContext | None = None, check_ids: Sequence[str] | None = None
) -> AuditRun:
    """Execute ``run``'s checks and write its findings; return the finished run.

    Safe to repeat for a run that did not finish (a worker lost half-way): every write is in
    one transaction, keyed by the finding's key, so a second execution finds what the first
    did or nothing of it."""
    started = time.monotonic()
    now = timezone.now()
    use_case = run.use_case
    chosen = checks_for_scope(use_case=use_case, check_ids=check_ids)
    AuditRun.objects.filter(pk=run.pk).update(status=JobStatusChoices.RUNNING, started_at=now)
    run.status, run.started_at = JobStatusChoices.RUNNING, now
    scope = AuditScope(use_case_id=run.use_case_id, now=now)
    _report(job, f"Running {len(chosen)} check(s) over {use_case.key if use_case else 'the portfolio'}.")

    observed, errors = _collect(run, scope, chosen, job)
    if job is not None:
        job.progress(85, "Writing findings")
    with transaction.atomic():
        _lock_findings()
        tallies, notices = _write_findings(run, scope, observed, now)
        _notify_owners(run, notices)

        totals = _Tally()
        for tally in tallies.values():
            for name in ("observed", "opened", "reopened", "updated", "cleared"):
                setattr(totals, name, getattr(totals, name) + getattr(tally, name))
        run.checks_run = [check.id for check in chosen]
        run.counts = {
            "observed": totals.observed,
            "opened": totals.opened,
            "reopened": totals.reopened,
            "updated": totals.updated,
            "cleared": totals.cleared,
            "per_check": {check_id: tally.as_dict() for check_id, tally in tallies.items()},
            "errors": errors,
        }
        failed_all = bool(chosen) and len(errors) == len(chosen)
        run.status = JobStatusChoices.FAILED if failed_all else JobStatusChoices.SUCCEEDED
        run.error = "; ".join(f"{check_id}: {error}" for check_id, error in errors.items())[:2000]
        run.finished_at = timezone.now()
        run.duration_ms = int((time.monotonic() - started) * 1000)
        run.save(update_fields=["checks_run", "counts", "status", "error", "finished_at", "duration_ms"])
    _report(
        job,
        f"{totals.observed} observed: {totals.opened} opened, {totals.reopened} reopened, "
        f"{totals.updated} seen again, {totals.cleared} cleared"
        + (f"; {len(errors)} check(s) failed" if errors else "")
        + ".",
    )
    return run


def _write_findings(run: AuditRun, scope: AuditScope, observed: dict, now):
    """Upsert the findings of the checks that worked; return the tallies per check and, per
    owner (a user id, or "coe"), the findings opened or reopened for them."""
    tallies = {check_id: _Tally(observed=len(found)) for check_id, found in observed.items()}
    notices: dict[int | str, list[Finding]] = defaultdict(list)
    if not observed:
        return tallies, notices

    existing_rows = Finding.objects.filter(check_id__in=list(observed))
    if not scope.is_portfolio:
        existing_rows = existing_rows.filter(use_case_id=scope.use_case_id)
    existing = {finding.key: finding for finding in existing_rows.only(*EXISTING_FIELDS)}

    owners = _owners_of(
        {
            observation.use_case_id
            for found in observed.values()
            for observation in found.values()
            if observation.use_case_id and observation.owner_id is None and not observation.owned_by_coe
        }
    )

    new: list[Finding] = []
    seen: list[int] = []
    changed: list[Finding] = []
    reopened: list[Finding] = []
    for check_id, found in observed.items():
        check = check_for(check_id)
        for subject_key, observation in found.items():
            key = f"{check_id}:{subject_key}"
            severity = observation.severity or check.severity
            owner_id = observation.owner_id
            if owner_id is None and not observation.owned_by_coe and observation.use_case_id:
                owner_id = owners.get(observation.use_case_id)
            values = {
                "title": observation.title[:300],
                "detail": observation.detail,
                "link": observation.link[:500],
                "data": observation.data,
                "severity": severity,
                "use_case_id": observation.use_case_id,
                "owner_id": owner_id,
                # Nobody on the team can act: the CoE owns it.
                "owned_by_coe": observation.owned_by_coe or owner_id is None,
            }
            finding = existing.get(key)
            if finding is None:
                new.append(
                    Finding(
                        key=key,
                        check_id=check_id,
                        subject_key=subject_key,
                        status=FindingStatusChoices.OPEN,
                        first_seen_at=now,
                        last_seen_at=now,
                        last_run=run,
                        due_at=_due(now, severity),
                        **values,
                    )
                )
                continue
            if finding.status == FindingStatusChoices.RESOLVED:
                # The condition is back: the same finding, open again, with a fresh due date.
                finding.move_to(FindingStatusChoices.OPEN)
                finding.resolved_at = None
                finding.escalated_at = None
                finding.due_at = _due(now, severity)
                reopened.append(finding)
                tallies[check_id].reopened += 1
            else:
                tallies[check_id].updated += 1
            if any(getattr(finding, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(finding, name, value)
                changed.append(finding)
            seen.append(finding.pk)

    observed_keys = {
        f"{check_id}:{subject_key}" for check_id, found in observed.items() for subject_key in found
    }
    cleared = [
        finding
        for key, finding in existing.items()
        if key not in observed_keys and finding.status in FindingStatusChoices.LIVE
    ]

    # New findings (their creation is in the audit trail: AuditedQuerySet.bulk_create).
    Finding.objects.bulk_create(new, batch_size=CHUNK_SIZE)
    for finding in new:
        tallies[finding.check_id].opened += 1
    # Seen again: when and by which run. Not audited (it changes every night, see apps.py).
    for chunk in _chunks(seen):
        Finding.objects.filter(pk__in=chunk).update(last_seen_at=now, last_run=run)
    # What a check now says about a finding, and reopened findings: audited changes.
    for chunk in _chunks(changed):
        Finding.objects.bulk_update(chunk, [name.removesuffix("_id") for name in CONTENT_FIELDS])
    for chunk in _chunks(reopened):
        Finding.objects.bulk_update(chunk, ["status", "resolved_at", "escalated_at", "due_at"])
    for chunk in _chunks([finding.pk for finding in cleared]):
        Finding.objects.filter(pk__in=chunk).update(status=FindingStatusChoices.RESOLVED, resolved_at=now)
    for finding in cleared:
        tallies[finding.check_id].cleared += 1

    events = (
        [FindingEvent(finding=f, kind=FindingEventKindChoices.OPENED, audit_run=run, at=now) for f in new]
        + [
            FindingEvent(finding=f, kind=FindingEventKindChoices.REOPENED, audit_run=run, at=now)
            for f in reopened
        ]
        + [
            FindingEvent(
                finding=f,
                kind=FindingEventKindChoices.CLEARED,
                audit_run=run,
                at=now,
                message="The audit no longer finds the condition.",
            )
            for f in cleared
        ]
    )
    FindingEvent.objects.bulk_create(events, batch_size=CHUNK_SIZE)

    for finding in [*new, *reopened]:
        notices["coe" if finding.owned_by_coe or finding.owner_id is None else finding.owner_id].append(
            finding
        )
    return tallies, notices


#
# Telling owners
#


def _coe_people() -> list:
    return list(
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=[Role.COE_LEAD, Role.COE_REVIEWER])
        .distinct()
    )


def _notify_owners(run: AuditRun, notices: dict[int | str, list[Finding]]) -> None:
    """One notification per owner per run, listing what it opened or reopened for them: a
    nightly run over the portfolio must not send one mail per finding."""
    if not notices:
        return
    people = {}
    for chunk in _chunks(sorted(owner for owner in notices if owner != "coe")):
        people.update(get_user_model().objects.in_bulk(chunk))
    scope = run.use_case.key if run.use_case_id else "the portfolio"
    coe = _coe_people() if "coe" in notices else []
    messages = []
    for owner, findings in sorted(notices.items(), key=lambda item: str(item[0])):
        findings.sort(key=lambda finding: (SeverityChoices.RANK[finding.severity], finding.key))
        lines = [
            f"- [{SeverityChoices.label(finding.severity)}] {finding.title} (due {finding.due_at:%Y-%m-%d})"
            for finding in findings[:NOTIFY_LISTED]
        ]
        if len(findings) > NOTIFY_LISTED:
            lines.append(f"… and {len(findings) - NOTIFY_LISTED} more.")
        whose = "the CoE" if owner == "coe" else "you"
        messages.append(
            Message(
                key=f"audit-findings:{run.pk}:{owner}",
                recipients=coe if owner == "coe" else [people.get(owner)],
                subject=f"The audit of {scope} found {len(findings)} finding{'s' if len(findings) != 1 else ''} for {whose}",
                body="\n".join(lines),
                link=FINDINGS_LINK,
                webhooks=False,
            )
        )
    # All owners at once: the number of queries does not grow with the number of owners.
    notify_many(messages)


def audit_run_fail(run: AuditRun, *, error: str, status: str = JobStatusChoices.FAILED) -> None:
    """Mark a run that could not finish (its job raised or was cancelled); nothing of it was
    written, since the findings are written in one transaction at the end."""
    AuditRun.objects.filter(pk=run.pk, status__in=[JobStatusChoices.QUEUED, JobStatusChoices.RUNNING]).update(
        status=status, finished_at=timezone.now(), error=error[:2000]
    )
