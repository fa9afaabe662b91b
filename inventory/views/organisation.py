"""Pages of the catalog: business units and teams."""

from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.shortcuts import render

from inventory.forms import BusinessUnitForm, TeamForm
from inventory.models import BusinessUnit, Component, Dataset, DataSource, Model, PromptTemplate, Team
from inventory.selectors.usecases import use_cases_visible_to
from inventory.services import organisation as organisation_services
from portal.permissions import Action, can, can_add, get_restricted_object_or_404, restrict
from portal.views.generic import object_to_edit, service_delete_view, service_edit_view


@login_required
def business_unit_list(request):
    units = (
        restrict(BusinessUnit.objects.all(), request.user)
        .select_related("head")
        .annotate(team_count=Count("teams", distinct=True))
    )
    return render(
        request,
        "inventory/business_unit_list.html",
        {"units": units, "can_add": can_add(request.user, BusinessUnit)},
    )


@login_required
def business_unit_detail(request, slug: str):
    unit = get_restricted_object_or_404(BusinessUnit.objects.select_related("head"), request.user, slug=slug)
    teams = (
        restrict(unit.teams.all(), request.user)
        .select_related("lead")
        .annotate(member_count=Count("members", distinct=True))
    )
    return render(
        request,
        "inventory/business_unit_detail.html",
        {
            "unit": unit,
            "teams": teams,
            "can_change": can(request.user, Action.CHANGE, unit),
            "can_delete": can(request.user, Action.DELETE, unit),
        },
    )


@login_required
def business_unit_edit(request, slug: str | None = None):
    unit = object_to_edit(
        request, BusinessUnit.objects.all(), refusal="Only administrators add business units.", slug=slug
    )
    form = BusinessUnitForm(request.POST or None, instance=unit, user=request.user)

    def save(data):
        if unit is None:
            return organisation_services.business_unit_create(**data)
        return organisation_services.business_unit_update(unit=unit, **data)

    return service_edit_view(
        request,
        form=form,
        save=save,
        template="inventory/business_unit_form.html",
        context={"unit": unit},
        success_url=lambda saved: saved,
        success_message=lambda saved: (
            f"Business unit “{saved.name}” {'created' if unit is None else 'saved'}."
        ),
    )


@login_required
def business_unit_delete(request, slug: str):
    return service_delete_view(
        request,
        BusinessUnit.objects.all(),
        slug=slug,
        delete=lambda unit: organisation_services.business_unit_delete(unit=unit),
        success_url="inventory:business-unit-list",
        success_message=lambda unit: f"Business unit “{unit.name}” deleted.",
        failure_url=lambda unit: unit,
    )


@login_required
def team_list(request):
    teams = (
        restrict(Team.objects.all(), request.user)
        .select_related("business_unit", "lead")
        .annotate(member_count=Count("members", distinct=True))
    )
    query = request.GET.get("q", "").strip()
    if query:
        teams = teams.filter(name__icontains=query)
    return render(
        request,
        "inventory/team_list.html",
        {"teams": teams, "query": query, "can_add": can_add(request.user, Team)},
    )


@login_required
def team_detail(request, slug: str):
    team = get_restricted_object_or_404(
        Team.objects.select_related("business_unit", "lead"), request.user, slug=slug
    )
    members = team.members.order_by("first_name", "last_name", "username")
    owned = use_cases_visible_to(request.user).filter(owning_team=team).order_by("key")
    assets = [
        (label, restrict(model.objects.all(), request.user).filter(owning_team=team).order_by("name"))
        for label, model in (
            ("Models", Model),
            ("Prompts", PromptTemplate),
            ("Datasets", Dataset),
            ("Data sources", DataSource),
            ("Shared components", Component),
        )
    ]
    return render(
        request,
        "inventory/team_detail.html",
        {
            "team": team,
            "members": members,
            "owned": owned,
            "assets": [(label, list(items)) for label, items in assets],
            "can_change": can(request.user, Action.CHANGE, team),
            "can_delete": can(request.user, Action.DELETE, team),
        },
    )


@login_required
def team_edit(request, slug: str | None = None):
    team = object_to_edit(request, Team.objects.all(), refusal="Only administrators add teams.", slug=slug)
    form = TeamForm(request.POST or None, instance=team, user=request.user)

    def save(data):
        members = data.pop("members", None)
        if team is None:
            return organisation_services.team_create(**data, members=members or [])
        return organisation_services.team_update(team=team, members=members, **data)

    return service_edit_view(
        request,
        form=form,
        save=save,
        template="inventory/team_form.html",
        context={"team": team},
        success_url=lambda saved: saved,
        success_message=lambda saved: f"Team “{saved.name}” {'created' if team is None else 'saved'}.",
    )


@login_required
def team_delete(request, slug: str):
    return service_delete_view(
        request,
        Team.objects.all(),
        slug=slug,
        delete=lambda team: organisation_services.team_delete(team=team),
        success_url="inventory:team-list",
        success_message=lambda team: f"Team “{team.name}” deleted.",
        failure_url=lambda team: team,
    )
