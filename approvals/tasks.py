"""Jobs of the governance workflow."""

from celery import shared_task

from approvals.choices import AssessmentTriggerChoices
from approvals.models import AuditRun
from approvals.selectors.maturity import latest_assessment
from approvals.services.audits import audit_run_create, audit_run_execute, audit_run_fail
from approvals.services.findings import findings_scan
from approvals.services.gates import gates_scan
from approvals.services.maturity import maturity_assess
from inventory.models import UseCase
from portal.audit import audit_context
from portal.choices import ChannelChoices, JobStatusChoices
from portal.jobs import JobCancelled, JobContext, JobInputError, job
from portal.roles import Role

#
# Maturity assessment
#


@shared_task(
    name="approvals.maturity_recompute", acks_late=True, reject_on_worker_lost=True, ignore_result=True
)
def maturity_recompute(*, use_case_id: int, trigger: str = AssessmentTriggerChoices.FACT_CHANGE) -> None:
    """Re-run one use case's maturity checks after its facts changed.

    A plain task rather than a ``@job``: it runs after every save of a use case, a release or
    evidence, and a JobRun row for each would bury the jobs page. It is idempotent (no new
    version when nothing changed), so redelivery after a crash is safe. A fact change refreshes
    an existing assessment; the first one is made by a person, by evidence or by the nightly run.
    """

    use_case = UseCase.objects.filter(pk=use_case_id).first()
    if use_case is None:
        return  # deleted since: nothing to assess
    if trigger == AssessmentTriggerChoices.FACT_CHANGE and latest_assessment(use_case) is None:
        return
    with audit_context(channel=ChannelChoices.JOB, label="maturity recompute"):
        maturity_assess(use_case=use_case, trigger=trigger)


@job(
    name="approvals.maturity_recompute_all",
    label="Recompute maturity assessments",
    description="Re-run every use case's automatic maturity checks; a version is saved only when a result changed.",
    on_demand=True,
)
def maturity_recompute_all(run: JobContext) -> dict:
    """The nightly recompute: facts no save signal watches (bulk updates and, once recorded,
    deployments and monitoring signals) are caught here. Cost allocations ask for their own
    recompute (costs.services.allocation_engine.allocate) and budgets are watched by a signal."""

    ids = list(UseCase.objects.order_by("pk").values_list("pk", flat=True))
    changed = 0
    for position, use_case_id in enumerate(ids, start=1):
        use_case = UseCase.objects.filter(pk=use_case_id).first()
        if use_case is None:
            continue
        before = latest_assessment(use_case)
        after = maturity_assess(use_case=use_case, trigger=AssessmentTriggerChoices.NIGHTLY)
        changed += before is None or after.pk != before.pk
        if position % 50 == 0 or position == len(ids):
            run.progress(100 * position / len(ids), f"Assessed {position} of {len(ids)} use cases")
    run.log(f"Assessed {len(ids)} use case(s); {changed} new version(s) saved.")
    return {"use_cases": len(ids), "new_versions": changed}


#
# Gates: expire approvals, and remind about overdue requests and expiring approvals
# (approvals.services.gates.gates_scan). Celery beat runs it hourly (data migration
# approvals/0006); it is safe to run any number of times.
#


@job(
    name="approvals.scan_gates",
    label="Scan gate requests and approvals",
    description="Expire approvals past their validity; notify overdue requests and approvals expiring in 14 or 3 days.",
    on_demand=True,
    started_by=(Role.ADMIN, Role.COE_LEAD),
)
def scan_gates(run: JobContext) -> dict:
    result = gates_scan()
    run.log(
        f"{result['expired']} approval(s) expired; {result['overdue_notifications']} overdue and "
        f"{result['expiry_notifications']} expiry notification(s) recorded."
    )
    return result


#
# Findings: escalate overdue findings to the CoE and reopen expired risk acceptances
# (approvals.services.findings.findings_scan). Celery beat runs it daily (data migration
# approvals/0008); it is safe to run any number of times.
#


@job(
    name="approvals.escalate_findings",
    label="Escalate overdue findings",
    description="Escalate live findings past their due date to the CoE and reopen findings whose risk acceptance ended.",
    on_demand=True,
    started_by=(Role.ADMIN, Role.COE_LEAD),
)
def escalate_findings(run: JobContext) -> dict:
    result = findings_scan()
    run.log(
        f"{result['escalated']} finding(s) escalated; {result['acceptances_expired']} risk acceptance(s) "
        "expired and reopened."
    )
    return result


#
# Audits: execute the registered checks and keep the findings (approvals.services.audits).
# A person's "run now" queues it with the run's id; Celery beat runs it nightly without one
# (data migration approvals/0009), as does "Run now" on the jobs page: a portfolio run.
#


@job(
    name="approvals.run_audit",
    label="Run the audit",
    description="Run the registered audit checks over the portfolio or one use case and update the findings.",
    on_demand=True,
    started_by=(Role.ADMIN, Role.COE_LEAD, Role.COE_REVIEWER),
)
def run_audit(run: JobContext, *, audit_run_id: int | None = None) -> dict:
    if audit_run_id is None:
        audit_run = audit_run_create(actor=None, use_case=None, channel=run.run.channel)
        AuditRun.objects.filter(pk=audit_run.pk).update(requested_by=run.run.actor)
    else:
        audit_run = AuditRun.objects.select_related("use_case").filter(pk=audit_run_id).first()
        if audit_run is None:
            raise JobInputError(f"Audit run #{audit_run_id} does not exist (deleted with its use case?).")
        if audit_run.status in JobStatusChoices.FINISHED:
            # A redelivered message for a run that ended: its findings are written already.
            run.log(f"Audit run #{audit_run.pk} is {audit_run.status} already; nothing to do.")
            return {"audit_run": audit_run.pk, "skipped": True}
    AuditRun.objects.filter(pk=audit_run.pk).update(job_run=run.run)
    try:
        audit_run = audit_run_execute(audit_run, job=run)
    except JobCancelled:
        audit_run_fail(audit_run, error="Cancelled.", status=JobStatusChoices.CANCELLED)
        raise
    except Exception as exc:
        audit_run_fail(audit_run, error=f"{type(exc).__name__}: {exc}")
        raise
    counts = audit_run.counts
    return {
        "audit_run": audit_run.pk,
        **{name: counts[name] for name in ("observed", "opened", "reopened", "updated", "cleared")},
        "failed_checks": sorted(counts["errors"]),
    }
