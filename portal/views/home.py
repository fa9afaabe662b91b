from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from inventory.models import Team, UseCase
from inventory.selectors import portfolio_counts, use_cases_visible_to
from portal.models import JobRun
from portal.permissions import can_add, restrict


@login_required
def home(request):
    """Landing page: the portfolio in numbers, what you own, what ran recently on your behalf."""
    user = request.user
    my_teams = restrict(Team.objects.all(), user).filter(members=user).select_related("business_unit", "lead")
    visible = use_cases_visible_to(user)
    context = {
        "my_teams": my_teams,
        "counts": portfolio_counts(user=user),
        "orphaned_count": visible.filter(is_orphaned=True).count(),
        "my_use_cases": visible.filter(owning_team__in=my_teams).order_by("-updated_at")[:6],
        "recent_jobs": restrict(JobRun.objects.all(), user).select_related("actor")[:5],
        "can_file": can_add(user, UseCase),
    }
    return render(request, "portal/home.html", context)
