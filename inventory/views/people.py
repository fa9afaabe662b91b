"""Person pages: who someone is, which teams they are on, what they own."""

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.shortcuts import render

from inventory.choices import OWNERSHIP_ROLES
from inventory.selectors.usecases import use_cases_visible_to
from portal.permissions import get_restricted_object_or_404, restrict
from portal.roles import ROLE_LABELS, roles_of


@login_required
def person_detail(request, username: str):
    person = get_restricted_object_or_404(get_user_model().objects.all(), request.user, username=username)
    held = Q()
    for field, _label, _help in OWNERSHIP_ROLES:
        held |= Q(**{field: person})
    owned = use_cases_visible_to(request.user).filter(held).order_by("key")
    rows = []
    for use_case in owned:
        person_roles = [
            label for field, label, _help in OWNERSHIP_ROLES if getattr(use_case, f"{field}_id") == person.pk
        ]
        rows.append((use_case, person_roles))
    teams = restrict(person.teams.all(), request.user).select_related("business_unit")
    return render(
        request,
        "inventory/person_detail.html",
        {
            "person": person,
            "owned": rows,
            "teams": teams,
            "roles": [ROLE_LABELS[name] for name in sorted(roles_of(person))],
        },
    )
