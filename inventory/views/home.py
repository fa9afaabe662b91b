"""Inventory's sections of the home page (``portal.home``), registered from ``InventoryConfig.ready()``:
the "File a use case" button, the portfolio in numbers, and your teams' use cases."""

from inventory.models import Team, UseCase
from inventory.selectors.usecases import portfolio_counts, use_cases_visible_to
from portal import home
from portal.permissions import can_add, restrict


def _file_action(request) -> dict | None:
    return {} if can_add(request.user, UseCase) else None


def _portfolio_counts(request) -> dict:
    visible = use_cases_visible_to(request.user)
    return {
        "counts": portfolio_counts(user=request.user),
        "orphaned_count": visible.filter(is_orphaned=True).count(),
    }


def _my_use_cases(request) -> dict:
    user = request.user
    my_teams = restrict(Team.objects.all(), user).filter(members=user).select_related("business_unit", "lead")
    return {
        "my_teams": my_teams,
        "my_use_cases": use_cases_visible_to(user)
        .filter(owning_team__in=my_teams)
        .order_by("-updated_at")[:6],
    }


def register_home_sections() -> None:
    home.register(
        "file-use-case",
        slot="actions",
        template="inventory/_home_file_action.html",
        context=_file_action,
        order=10,
    )
    home.register(
        "portfolio-counts",
        slot="stats",
        template="inventory/_home_stats.html",
        context=_portfolio_counts,
        order=10,
    )
    home.register(
        "my-use-cases",
        slot="cards",
        template="inventory/_home_use_cases.html",
        context=_my_use_cases,
        order=10,
    )
