"""Pages of the catalog: business units and teams."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.shortcuts import redirect, render

from inventory import services
from inventory.forms import BusinessUnitForm, TeamForm
from inventory.models import BusinessUnit, Component, Dataset, DataSource, Model, PromptTemplate, Team
from inventory.selectors import use_cases_visible_to
from portal.forms import add_service_errors
from portal.permissions import Action, can, can_add, get_restricted_object_or_404, restrict


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
    if slug is None:
        if not can_add(request.user, BusinessUnit):
            raise PermissionDenied("Only administrators add business units.")
        unit = None
    else:
        unit = get_restricted_object_or_404(
            BusinessUnit.objects.all(), request.user, Action.CHANGE, slug=slug
        )
    form = BusinessUnitForm(request.POST or None, instance=unit, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if unit is None:
                unit = services.business_unit_create(**data)
                messages.success(request, f"Business unit “{unit.name}” created.")
            else:
                unit = services.business_unit_update(unit=unit, **data)
                messages.success(request, f"Business unit “{unit.name}” saved.")
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return redirect(unit)
    return render(request, "inventory/business_unit_form.html", {"form": form, "unit": unit})


@login_required
def business_unit_delete(request, slug: str):
    unit = get_restricted_object_or_404(BusinessUnit.objects.all(), request.user, Action.DELETE, slug=slug)
    if request.method == "POST":
        try:
            services.business_unit_delete(unit=unit)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(unit)
        messages.success(request, f"Business unit “{unit.name}” deleted.")
        return redirect("inventory:business-unit-list")
    return render(
        request, "portal/confirm_delete.html", {"object": unit, "cancel_url": unit.get_absolute_url()}
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
    if slug is None:
        if not can_add(request.user, Team):
            raise PermissionDenied("Only administrators add teams.")
        team = None
    else:
        team = get_restricted_object_or_404(Team.objects.all(), request.user, Action.CHANGE, slug=slug)
    form = TeamForm(request.POST or None, instance=team, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        members = data.pop("members", None)
        try:
            if team is None:
                team = services.team_create(**data, members=members or [])
                messages.success(request, f"Team “{team.name}” created.")
            else:
                team = services.team_update(team=team, members=members, **data)
                messages.success(request, f"Team “{team.name}” saved.")
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            return redirect(team)
    return render(request, "inventory/team_form.html", {"form": form, "team": team})


@login_required
def team_delete(request, slug: str):
    team = get_restricted_object_or_404(Team.objects.all(), request.user, Action.DELETE, slug=slug)
    if request.method == "POST":
        try:
            services.team_delete(team=team)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(team)
        messages.success(request, f"Team “{team.name}” deleted.")
        return redirect("inventory:team-list")
    return render(
        request, "portal/confirm_delete.html", {"object": team, "cancel_url": team.get_absolute_url()}
    )
