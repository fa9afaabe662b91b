"""The gates' periodic job: expire approvals, and remind about overdue requests and expiring
approvals (``approvals.notifications.scan``). Celery beat runs it hourly (data migration
``approvals/0006``); it is safe to run any number of times."""

from approvals.notifications import scan
from portal.jobs import JobContext, job
from portal.roles import Role


@job(
    name="approvals.scan_gates",
    label="Scan gate requests and approvals",
    description="Expire approvals past their validity; notify overdue requests and approvals expiring in 14 or 3 days.",
    on_demand=True,
    started_by=(Role.ADMIN, Role.COE_LEAD),
)
def scan_gates(run: JobContext) -> dict:
    result = scan()
    run.log(
        f"{result['expired']} approval(s) expired; {result['overdue_notifications']} overdue and "
        f"{result['expiry_notifications']} expiry notification(s) recorded."
    )
    return result
