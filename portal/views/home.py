from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from portal import home as home_sections
from portal.models import JobRun
from portal.permissions import restrict


@login_required
def home(request):
    """Landing page: what each app shows first (the portfolio in numbers, what you own), and what
    ran recently on your behalf."""
    return render(request, "portal/home.html", home_sections.home_context(request))


def recent_jobs(request) -> dict:
    return {"recent_jobs": restrict(JobRun.objects.all(), request.user).select_related("actor")[:5]}


def register_own_sections() -> None:
    home_sections.register(
        "recent-jobs", slot="cards", template="portal/_home_recent_jobs.html", context=recent_jobs, order=100
    )
