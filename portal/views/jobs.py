"""Job runs: what ran, for whom, how far it got. Progress refreshes live through htmx."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from portal import jobs
from portal.choices import ChannelChoices, JobStatusChoices
from portal.models import JobRun
from portal.permissions import get_restricted_object_or_404, restrict

JOBS_PER_PAGE = 25


def _visible_runs(user):
    return restrict(JobRun.objects.all(), user).select_related("actor")


@login_required
def job_list(request):
    runs = _visible_runs(request.user)
    status = request.GET.get("status", "")
    if status in JobStatusChoices.values():
        runs = runs.filter(status=status)
    task_name = request.GET.get("task", "")
    if task_name in jobs.JOB_REGISTRY:
        runs = runs.filter(task_name=task_name)
    page = Paginator(runs, JOBS_PER_PAGE).get_page(request.GET.get("page"))
    on_demand = [d for d in jobs.JOB_REGISTRY.values() if d.may_start(request.user)]
    return render(
        request,
        "portal/jobs/list.html",
        {
            "page": page,
            "status_choices": JobStatusChoices.CHOICES,
            "job_definitions": sorted(jobs.JOB_REGISTRY.values(), key=lambda d: d.label),
            "on_demand_jobs": sorted(on_demand, key=lambda d: d.label),
            "selected_status": status,
            "selected_task": task_name,
        },
    )


def _run_context(request, run: JobRun) -> dict:
    return {
        "run": run,
        "log_lines": run.log_lines.all(),
        "can_cancel": not run.is_finished and _may_cancel(request.user, run),
    }


def _may_cancel(user, run: JobRun) -> bool:
    return restrict(JobRun.objects.filter(pk=run.pk), user, "custom:cancel").exists()


@login_required
def job_detail(request, pk: int):
    run = get_restricted_object_or_404(JobRun.objects.select_related("actor"), request.user, pk=pk)
    return render(request, "portal/jobs/detail.html", _run_context(request, run))


@login_required
def job_progress(request, pk: int):
    """The live part of the detail page; htmx polls it until the run has finished."""
    run = get_restricted_object_or_404(JobRun.objects.select_related("actor"), request.user, pk=pk)
    return render(request, "portal/jobs/_progress.html", _run_context(request, run))


@require_POST
@login_required
def job_cancel(request, pk: int):
    run = get_restricted_object_or_404(JobRun.objects.all(), request.user, "custom:cancel", pk=pk)
    if jobs.cancel(run):
        messages.success(request, f"Cancellation of “{run.label}” requested.")
    else:
        messages.info(request, f"“{run.label}” had already finished.")
    return redirect(run)


@require_POST
@login_required
def job_start(request):
    """Start an on-demand job (e.g. pruning, verification) from the jobs page."""
    definition = jobs.JOB_REGISTRY.get(request.POST.get("task", ""))
    if definition is None or not definition.on_demand:
        if not any(d.may_start(request.user) for d in jobs.JOB_REGISTRY.values()):
            raise PermissionDenied("Your roles do not allow starting jobs by hand.")
        messages.error(request, "That job does not exist or cannot be started by hand.")
        return redirect("jobs:list")
    if not definition.may_start(request.user):
        raise PermissionDenied("Your roles do not allow starting this job.")
    run = jobs.enqueue(definition.task, actor=request.user, channel=ChannelChoices.UI)
    messages.success(request, f"“{definition.label}” queued.")
    return redirect(run)
