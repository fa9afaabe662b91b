"""Finding pages: the list with its filters, one finding with its history and actions, the use
case's Findings tab and the home page's card. Thin callers of approvals.selectors.findings and
approvals.services.findings."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.html import format_html_join
from django.views.decorators.http import require_POST

from approvals.forms.findings import AcceptRiskForm, AcknowledgeForm, FindingCommentForm, ResolveForm
from approvals.selectors.findings import (
    OWNER_CHOICES,
    SORT_OPTIONS,
    STATUS_CHOICES,
    check_choices,
    finding_context,
    finding_for,
    finding_list,
    home_findings,
    live_findings_of,
    severity_counts,
    team_choices,
)
from approvals.services import findings as services
from inventory import usecase_tabs
from portal import home
from portal.choices import SeverityChoices
from portal.forms import add_service_errors
from portal.jobs import JOB_REGISTRY
from portal.views.generic import service_error_message

FINDINGS_PER_PAGE = 50
FILTER_KEYS = ("severity", "check", "team", "use_case", "owner", "overdue", "escalated")


def _filter_controls(request) -> list[dict]:
    """Select boxes for the filter bar; options joined here, not looped in the template (see the
    use-case list: the loop was half the rendering time with hundreds of teams)."""

    def control(name, label, options, *, any_label="Any"):
        selected = request.GET.get(name, "")
        options_html = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((value, " selected" if str(value) == selected else "", text) for value, text in options),
        )
        return {"name": name, "label": label, "options_html": options_html, "any_label": any_label}

    status = request.GET.get("status") or "live"
    return [
        {
            "name": "status",
            "label": "Status",
            "any_label": "",
            "options_html": format_html_join(
                "",
                '<option value="{}"{}>{}</option>',
                ((value, " selected" if value == status else "", text) for value, text in STATUS_CHOICES),
            ),
        },
        control("severity", "Severity", SeverityChoices.pairs()),
        control("check", "Check", check_choices()),
        control("team", "Team", team_choices(request.user)),
        control("owner", "Owner", OWNER_CHOICES, any_label="Anyone"),
        control("overdue", "Due", [("true", "Overdue"), ("false", "Not overdue")]),
        control("escalated", "Escalated", [("true", "Escalated to the CoE"), ("false", "Not escalated")]),
    ]


@login_required
def finding_list_view(request):
    filterset, findings = finding_list(user=request.user, params=request.GET, request=request)
    page = Paginator(findings, FINDINGS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "filter": filterset,
        "page": page,
        "counts": severity_counts(user=request.user, params=request.GET, request=request),
        "controls": _filter_controls(request),
        "sort_options": SORT_OPTIONS,
        "sort": request.GET.get("sort") or "severity",
        "status": request.GET.get("status") or "live",
        "is_filtered": any(request.GET.get(key) for key in (*FILTER_KEYS, "status")),
        "now": timezone.now(),
        "may_escalate": JOB_REGISTRY["approvals.escalate_findings"].may_start(request.user),
    }
    if getattr(request, "htmx", False) and request.htmx.target == "finding-results":
        return render(request, "approvals/finding_list_results.html", context)
    return render(request, "approvals/finding_list.html", context)


def _detail_page(request, finding, **forms):
    context = finding_context(user=request.user, finding=finding)
    context.update(
        acknowledge_form=forms.get("acknowledge_form") or AcknowledgeForm(),
        resolve_form=forms.get("resolve_form") or ResolveForm(),
        accept_risk_form=forms.get("accept_risk_form") or AcceptRiskForm(),
        comment_form=forms.get("comment_form") or FindingCommentForm(),
    )
    return render(request, "approvals/finding_detail.html", context)


@login_required
def finding_detail(request, pk: int):
    return _detail_page(request, finding_for(user=request.user, pk=pk))


def _act(request, pk: int, *, action: str, form_class, form_name: str, call, done: str):
    """Run one action: the form parses, the service decides. A refusal shows the page again with
    the message at the field it concerns (a redirect would drop what the person wrote)."""
    finding = finding_for(user=request.user, pk=pk, action=action)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            call(finding, form)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, done)
            return redirect(finding.get_absolute_url())
    return _detail_page(request, finding, **{form_name: form})


@login_required
@require_POST
def finding_acknowledge(request, pk: int):
    return _act(
        request, pk, action="custom:acknowledge", form_class=AcknowledgeForm, form_name="acknowledge_form",
        call=lambda finding, form: services.finding_acknowledge(
            actor=request.user, finding=finding, comment=form.cleaned_data["comment"]
        ),
        done="Finding acknowledged. It stays live until it is resolved; the due date stands.",
    )  # fmt: skip


@login_required
@require_POST
def finding_resolve(request, pk: int):
    return _act(
        request, pk, action="custom:resolve", form_class=ResolveForm, form_name="resolve_form",
        call=lambda finding, form: services.finding_resolve(
            actor=request.user, finding=finding, comment=form.cleaned_data["comment"]
        ),
        done="Finding resolved. If the condition still holds, the next audit run reopens it.",
    )  # fmt: skip


@login_required
@require_POST
def finding_accept_risk(request, pk: int):
    return _act(
        request, pk, action="custom:accept_risk", form_class=AcceptRiskForm, form_name="accept_risk_form",
        call=lambda finding, form: services.finding_accept_risk(
            actor=request.user, finding=finding, reason=form.cleaned_data["reason"], until=form.until_datetime()
        ),
        done="Risk accepted. The finding opens again when the acceptance ends.",
    )  # fmt: skip


@login_required
@require_POST
def finding_comment(request, pk: int):
    finding = finding_for(user=request.user, pk=pk, action="custom:comment")
    form = FindingCommentForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(form.errors.get("body") or "Write something to comment.")
        services.finding_comment(actor=request.user, finding=finding, body=form.cleaned_data["body"])
    except ValidationError as exc:
        messages.error(request, service_error_message(exc))
    return redirect(finding.get_absolute_url() + "#history")


#
# The use case's Findings tab and the home page (registered from ApprovalsConfig.ready())
#


def findings_tab(request, use_case) -> dict:
    return {"live_findings": live_findings_of(user=request.user, use_case=use_case), "now": timezone.now()}


def home_findings_card(request) -> dict | None:
    return home_findings(request.user)


def register() -> None:
    """The use case's Findings tab (declared by inventory) and the home page's card."""
    usecase_tabs.fill("findings", template="approvals/_findings_tab.html", context=findings_tab)
    home.register(
        "findings",
        slot="cards",
        template="approvals/_home_findings.html",
        context=home_findings_card,
        order=30,
    )
