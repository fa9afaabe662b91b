"""Use-case pages: the list, the detail with its tabs, intake, editing, ownership repair."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.html import format_html_join
from django.views.decorators.http import require_http_methods, require_POST

from inventory import usecase_tabs
from inventory.choices import (
    OWNERSHIP_ROLES,
    AIKindChoices,
    AssetKindChoices,
    DataSensitivityChoices,
    RiskTierChoices,
)
from inventory.forms import ReassignOwnersForm, UseCaseForm
from inventory.models import BusinessUnit, NotDuplicate, Team, UseCase, lifecycle_stage_model
from inventory.policies import may_reassign_owners, may_view_orphaned_use_cases
from inventory.selectors.duplicates import QUERY_MAX_CHARS, duplicate_clusters, similar_use_cases
from inventory.selectors.usecases import (
    attach_ownership_health,
    built_from,
    releases_with_changes,
    use_case_for,
    use_case_list,
    use_cases_visible_to,
)
from inventory.services import usecases as services
from portal.audit_display import readable_changes
from portal.models import AuditEntry
from portal.permissions import Action, can, can_add, restrict
from portal.views.generic import service_delete_view, service_edit_view, service_error_message

USE_CASES_PER_PAGE = 50


SORT_OPTIONS = (
    ("key", "Key"),
    ("name", "Name"),
    ("stage", "Stage"),
    ("tier", "Risk tier"),
    ("team", "Team"),
    ("updated", "Recently updated"),
)


def _filter_controls(request, user) -> list[dict]:
    """Select boxes for the filter bar (single choice each; the URL accepts several values)."""

    def control(name, label, options):
        # The options are joined here rather than looped over in the template: with 400 teams,
        # the template loop was half of the list page's rendering time (docs/benchmarks.md).
        selected = request.GET.get(name, "")
        options_html = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((value, " selected" if str(value) == selected else "", text) for value, text in options),
        )
        return {"name": name, "label": label, "options_html": options_html, "selected": selected}

    return [
        control("stage", "Stage", lifecycle_stage_model().objects.values_list("key", "label")),
        control("draft", "Drafts", [("true", "Drafts only"), ("false", "Filed only")]),
        control("tier", "Risk tier", RiskTierChoices.pairs()),
        control("team", "Team", restrict(Team.objects.all(), user).values_list("slug", "name")),
        control(
            "bu", "Business unit", restrict(BusinessUnit.objects.all(), user).values_list("slug", "name")
        ),
        control("ai_kind", "AI kind", AIKindChoices.pairs()),
        control("sensitivity", "Data sensitivity", DataSensitivityChoices.pairs()),
        control("orphaned", "Ownership", [("true", "Orphaned"), ("false", "Owned")]),
    ]


def _page_query(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@login_required
def usecase_list(request):
    filterset, use_cases = use_case_list(user=request.user, params=request.GET, ownership_health=False)
    page = Paginator(use_cases, USE_CASES_PER_PAGE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    attach_ownership_health(page.object_list)
    return render(
        request,
        "inventory/usecase_list.html",
        {
            "filter": filterset,
            "page": page,
            "query": _page_query(request),
            "can_add": can_add(request.user, UseCase),
            "is_filtered": any(value for key, value in request.GET.items() if key not in ("page", "sort")),
            "controls": _filter_controls(request, request.user),
            "sort_options": SORT_OPTIONS,
        },
    )


@login_required
def usecase_detail(request, key: str):
    use_case = use_case_for(user=request.user, key=key)
    tabs = usecase_tabs.tabs()
    tab = usecase_tabs.tab_for(request.GET.get("tab", "overview")) or usecase_tabs.tab_for("overview")
    context = {
        "use_case": use_case,
        "tabs": [(each.key, each.label) for each in tabs],
        "tab": tab.key,
        "tab_template": tab.template,
        "can_change": can(request.user, Action.CHANGE, use_case),
        "can_submit": use_case.is_draft and can(request.user, "custom:submit", use_case),
        "can_delete": can(request.user, Action.DELETE, use_case),
        "can_reassign": can(request.user, "custom:reassign", use_case),
        "ownership": [
            (label, help_text, getattr(use_case, field)) for field, label, help_text in OWNERSHIP_ROLES
        ],
        **usecase_tabs.header_facts(request, use_case),
    }
    if tab.context is not None:
        context.update(tab.context(request, use_case))
    return render(request, "inventory/usecase_detail.html", context)


def _overview_tab(request, use_case) -> dict:
    return {"kpis": use_case.kpis.all(), "components": use_case.components.all()}


def _releases_tab(request, use_case) -> dict:
    return {
        "releases": releases_with_changes(use_case),
        "built_from": built_from(user=request.user, use_case=use_case),
        "asset_kinds": AssetKindChoices.pairs(),
    }


def _data_tab(request, use_case) -> dict:
    return {
        "dataset_versions": (
            use_case.releases.values_list("dataset_versions__dataset__name", "dataset_versions__version")
            .exclude(dataset_versions=None)
            .distinct()
        )
    }


def _history_tab(request, use_case) -> dict:
    return {
        "entries": readable_changes(
            AuditEntry.objects.filter(
                content_type__app_label="inventory", content_type__model="usecase", object_id=str(use_case.pk)
            ).select_related("content_type")[:50],
            user=request.user,
        )
    }


def register_own_tabs() -> None:
    """The tabs inventory draws in inventory/usecase_detail.html; the apps above add theirs between
    (risk 60, maturity 70, approvals 80, costs 90)."""
    usecase_tabs.register("overview", "Overview", order=10, context=_overview_tab)
    usecase_tabs.register("ownership", "Ownership", order=20)
    usecase_tabs.register("releases", "Releases & versions", order=30, context=_releases_tab)
    usecase_tabs.register("data", "Data", order=40, context=_data_tab)
    usecase_tabs.register("deployments", "Deployments", order=50)
    usecase_tabs.register("findings", "Findings", order=100)
    usecase_tabs.register("history", "History", order=110, context=_history_tab)


def _form_changes(form) -> dict:
    data = dict(form.cleaned_data)
    data["tags"] = services.normalise_tags(data.get("tags", ""))
    return data


@login_required
def usecase_new(request):
    """Intake: six questions, the rest disclosed on demand; save as draft or submit."""
    if not can_add(request.user, UseCase):
        raise PermissionDenied("Team members and team leads file use cases.")
    form = UseCaseForm(request.POST or None, user=request.user)
    submit = "submit" in request.POST
    return service_edit_view(
        request,
        form=form,
        save=lambda _data: services.usecase_create(actor=request.user, submit=submit, **_form_changes(form)),
        template="inventory/usecase_form.html",
        context={"use_case": None},
        success_url=lambda use_case: use_case,
        success_message=lambda use_case: (
            f"{use_case.key} filed and submitted: it is now proposed."
            if submit
            else f"{use_case.key} saved as a draft. Submit it when it is ready."
        ),
    )


@login_required
def usecase_edit(request, key: str):
    use_case = use_case_for(user=request.user, key=key, action=Action.CHANGE)
    form = UseCaseForm(request.POST or None, user=request.user, use_case=use_case)

    def save(_data):
        changes = {
            field: value for field, value in _form_changes(form).items() if getattr(use_case, field) != value
        }
        services.usecase_update(use_case=use_case, actor=request.user, **changes)
        if "submit" in request.POST and use_case.is_draft:
            services.usecase_submit(use_case=use_case, actor=request.user)
        return use_case

    return service_edit_view(
        request,
        form=form,
        save=save,
        template="inventory/usecase_form.html",
        context={"use_case": use_case},
        success_url=use_case,
        success_message=f"{use_case.key} saved.",
    )


@require_POST
@login_required
def usecase_submit(request, key: str):
    use_case = use_case_for(user=request.user, key=key, action="custom:submit")
    try:
        services.usecase_submit(use_case=use_case, actor=request.user)
    except ValidationError as exc:
        messages.error(request, service_error_message(exc))
    else:
        messages.success(request, f"{use_case.key} submitted: it is now proposed.")
    return redirect(use_case)


@login_required
def usecase_delete(request, key: str):
    return service_delete_view(
        request,
        UseCase.objects.all(),
        key=key.upper(),
        delete=lambda use_case: services.usecase_delete(use_case=use_case),
        success_url="inventory:usecase-list",
        success_message=lambda use_case: f"Draft {use_case.key} deleted.",
        failure_url=lambda use_case: use_case,
    )


@login_required
def orphaned_list(request):
    """The CoE's repair list: use cases whose accountable owner left or is not in the team."""
    if not may_view_orphaned_use_cases(request.user):
        raise PermissionDenied("The orphaned-ownership list is for the CoE, executives and auditors.")
    use_cases = use_cases_visible_to(request.user).filter(is_orphaned=True).order_by("key")
    return render(
        request,
        "inventory/orphaned_list.html",
        {
            "use_cases": use_cases,
            "may_reassign": may_reassign_owners(request.user),
        },
    )


@login_required
def usecase_reassign(request, key: str):
    use_case = use_case_for(user=request.user, key=key, action="custom:reassign")
    form = ReassignOwnersForm(request.POST or None, use_case=use_case, user=request.user)

    def save(data):
        changes = {f: v for f, v in data.items() if getattr(use_case, f) != v}
        services.usecase_reassign_owners(use_case=use_case, actor=request.user, **changes)
        return use_case

    return service_edit_view(
        request,
        form=form,
        save=save,
        template="inventory/usecase_reassign.html",
        context={"use_case": use_case},
        success_url=use_case.get_absolute_url() + "?tab=ownership",
        success_message=f"Owners of {use_case.key} reassigned.",
    )


@require_http_methods(["GET", "POST"])
@login_required
def usecase_similar(request):
    """The intake form's live panel: use cases whose purpose overlaps what is being typed.

    The form posts (a long purpose does not fit in a URL: proxies and servers answer 414 past a
    few kilobytes) only the fields that matter; GET stays for links and the benchmark. Whatever
    arrives, only the first few thousand characters of each field are read.
    """

    data = request.POST if request.method == "POST" else request.GET
    name = data.get("name", "")[:200]
    purpose = data.get("purpose", "")[:QUERY_MAX_CHARS]
    exclude = None
    if data.get("exclude"):
        # Through restrict(): excluding a use case must not reveal its "not a duplicate" partners.
        exclude = (
            use_cases_visible_to(request.user, ownership_health=False)
            .filter(key=data["exclude"][:12].upper())
            .first()
        )
    # The filing team's business unit counts beside the words (teams are not secret: the form
    # lists them).
    business_unit = None
    if str(data.get("owning_team", "")).isdigit():
        business_unit = (
            Team.objects.filter(pk=int(data["owning_team"]))
            .values_list("business_unit_id", flat=True)
            .first()
        )
    matches = []
    searched = len((name + " " + purpose).split()) >= 3
    if searched:
        matches = similar_use_cases(
            user=request.user,
            name=name,
            purpose=purpose,
            tags=services.normalise_tags(data.get("tags", "")[:1000]),
            exclude=exclude,
            business_unit=business_unit,
        )
    return render(request, "inventory/_similar.html", {"matches": matches, "searched": searched})


@login_required
def duplicate_clusters_page(request):
    """Clusters of likely duplicate efforts across the portfolio the person can see."""

    clusters = duplicate_clusters(user=request.user)
    return render(request, "inventory/duplicates.html", {"clusters": clusters})


@require_POST
@login_required
def mark_not_duplicate(request):
    if not can_add(request.user, NotDuplicate):
        raise PermissionDenied("Your roles do not allow marking use cases.")
    first = use_case_for(user=request.user, key=request.POST.get("first", ""))
    second = use_case_for(user=request.user, key=request.POST.get("second", ""))
    try:
        services.mark_not_duplicate(
            first=first, second=second, actor=request.user, reason=request.POST.get("reason", "")
        )
    except ValidationError as exc:
        messages.error(request, service_error_message(exc))
    else:
        messages.success(request, f"{first.key} and {second.key} marked as not duplicates.")
    return redirect("inventory:usecase-duplicates")
