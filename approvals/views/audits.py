"""Audit pages: the runs (/audits/), one run with what each check found and the catalogue of
checks, and "Run audit now" for the portfolio or one use case. Thin callers of
approvals.selectors.audits and approvals.services.audits."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from approvals.policies import may_audit_portfolio, may_audit_use_case
from approvals.selectors.audits import (
    SCOPES,
    audit_run_for,
    audit_run_list,
    check_catalogue,
    check_outcomes,
    visible_job_ids,
)
from approvals.services.audits import audit_run_start
from inventory.selectors.usecases import use_case_for
from portal.choices import ChannelChoices, JobStatusChoices
from portal.views.generic import service_error_message

RUNS_PER_PAGE = 50


@login_required
def audit_runs(request):
    scope = request.GET.get("scope", "")
    status = request.GET.get("status", "")
    use_case_key = request.GET.get("use_case", "")
    runs = audit_run_list(user=request.user, scope=scope, status=status, use_case_key=use_case_key)
    page = Paginator(runs, RUNS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "approvals/audit_run_list.html",
        {
            "page": page,
            "job_ids": visible_job_ids(user=request.user, runs=page.object_list),
            "scopes": SCOPES,
            "scope": scope,
            "statuses": JobStatusChoices.pairs(),
            "status": status,
            "use_case_key": use_case_key,
            "filtered": bool(scope or status or use_case_key),
            "may_audit_portfolio": may_audit_portfolio(request.user),
            "check_count": len(check_catalogue()),
        },
    )


@login_required
def audit_run_detail(request, pk: int):
    run = audit_run_for(user=request.user, pk=pk)
    return render(
        request,
        "approvals/audit_run_detail.html",
        {
            "run": run,
            "outcomes": check_outcomes(run),
            "catalogue": check_catalogue(),
            "may_open_job": bool(visible_job_ids(user=request.user, runs=[run])),
            "may_audit_portfolio": may_audit_portfolio(request.user),
        },
    )


@login_required
@require_POST
def audit_run_now(request):
    """Start a run: of the use case named by ``use_case`` (a form field or the query string),
    else of the portfolio. The service says who may; its refusal comes back as a message."""
    key = request.POST.get("use_case") or request.GET.get("use_case") or ""
    use_case = use_case_for(user=request.user, key=key) if key else None  # 404 unless visible
    if use_case is None and not may_audit_portfolio(request.user):
        raise PermissionDenied("Only the CoE and admins run the audit over the whole portfolio.")
    if use_case is not None and not may_audit_use_case(request.user, use_case):
        raise PermissionDenied(f"The owning team, the CoE and admins run the audit of {use_case.key}.")
    back = use_case.get_absolute_url() + "?tab=findings" if use_case else None
    try:
        run = audit_run_start(actor=request.user, use_case=use_case, channel=ChannelChoices.UI)
    except ValidationError as exc:
        messages.error(request, service_error_message(exc))
        return redirect(back or "approvals:audit-run-list")
    messages.success(
        request,
        f"The audit of {use_case.key if use_case else 'the portfolio'} is queued; its findings update when it finishes.",
    )
    return redirect(run)
