"""Pages of where the money goes: the portfolio's costs, allocation rules and shared pools with
their previews, reconciliation, budgets, and value and ROI. Reads come from costs.selectors.reports
(restricted, aggregate queries); writes go through costs.services."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from costs.forms.allocation import AllocationRuleForm, BudgetForm, KpiReadingForm, SharedPoolForm, parse_month
from costs.models import AllocationRule, Budget, KpiReading, SharedPool
from costs.policies import may_curate_costs, may_view_billing, may_view_costs
from costs.selectors import reports
from costs.selectors.budgets import budget_statuses
from costs.services import budgets as budget_services
from costs.services.allocation import (
    allocation_rule_delete,
    allocation_rule_save,
    shared_pool_delete,
    shared_pool_save,
)
from costs.services.allocation_engine import preview_rule, request_allocation
from costs.services.budgets import budget_save
from costs.services.value import kpi_reading_delete, kpi_reading_record
from inventory.models import Kpi
from inventory.policies import assessable_use_cases
from portal.choices import ChannelChoices
from portal.dates import previous_month
from portal.permissions import Action, can_add, get_restricted_object_or_404, restrict
from portal.views.generic import object_to_edit, service_delete_view, service_edit_view


def _require_role(user) -> None:
    if not may_view_costs(user):
        raise PermissionDenied("Costs are for people with a role in the portfolio.")


def _require_reader(user) -> None:
    if not may_view_billing(user):
        raise PermissionDenied(
            "This page reads the whole bill: administrators, executives, the CoE and auditors."
        )


def _may_curate(user) -> bool:
    return may_curate_costs(user)


def _range(request) -> tuple:
    problems = []
    months = {}
    for name in ("from", "to"):
        raw = request.GET.get(name, "").strip()
        if raw:
            try:
                months[name] = parse_month(raw, name)
            except forms.ValidationError:
                problems.append(f"“{raw}” is not a month for “{name}”: write YYYY-MM.")
    for problem in problems:
        messages.error(request, problem)
    return reports.month_range(months.get("from"), months.get("to"))


def _context(request, **context) -> dict:
    return {"whole_bill": reports.sees_whole_bill(request.user), **context}


#
# Portfolio
#


@login_required
def portfolio(request):
    _require_role(request.user)
    start, end = _range(request)
    team, business_unit = request.GET.get("team", ""), request.GET.get("bu", "")
    overview = reports.portfolio_overview(
        request.user, start=start, end=end, team=team, business_unit=business_unit
    )
    return render(
        request,
        "costs/portfolio.html",
        {
            **overview,
            "start": start,
            "last": previous_month(end),
            "team": team,
            "business_unit": business_unit,
            "whole_bill": reports.sees_whole_bill(request.user),
            "may_curate": _may_curate(request.user),
        },
    )


#
# Reconciliation
#


@login_required
def reconciliation(request):
    _require_reader(request.user)
    start, end = _range(request)
    lines = reports.reconciliation_for(request.user, start=start, end=end)
    return render(
        request,
        "costs/reconciliation.html",
        _context(
            request,
            **{
                "lines": lines,
                "start": start,
                "last": previous_month(end),
                "all_ok": all(line.ok for line in lines),
                # One entry per failed (source, period), not per currency line.
                "failures": list(
                    {(line.source_id, line.period): line for line in lines if line.failure}.values()
                ),
                "stale_count": sum(1 for line in lines if line.is_stale),
                "may_curate": _may_curate(request.user),
            },
        ),
    )


@require_POST
@login_required
def recompute(request):
    if not _may_curate(request.user):
        raise PermissionDenied("The CoE and admins recompute allocation.")
    run = request_allocation(actor=request.user, channel=ChannelChoices.UI)
    messages.success(request, "Allocation of every current period is being recomputed.")
    return redirect(run)


#
# Rules and pools
#


@login_required
def rule_list(request):
    rules = list(
        restrict(AllocationRule.objects.all(), request.user).select_related(
            "target_use_case", "target_team", "target_pool", "source"
        )
    )
    if not rules and not may_view_billing(request.user):
        raise PermissionDenied("Allocation rules are for the CoE, executives, auditors and admins.")
    period = reports.preview_period()
    previews = reports.rule_previews(rules, period=period)
    pools = restrict(SharedPool.objects.all(), request.user).prefetch_related(
        "members__use_case", "members__team"
    )
    return render(
        request,
        "costs/rule_list.html",
        _context(
            request,
            **{
                "rows": [(rule, previews[rule.pk]) for rule in rules],
                "pools": pools,
                "preview_period": period,
                "may_curate": _may_curate(request.user),
            },
        ),
    )


@login_required
def rule_edit(request, pk: int | None = None):
    rule = object_to_edit(
        request, AllocationRule.objects.all(), refusal="The CoE and admins maintain allocation rules.", pk=pk
    )
    form = AllocationRuleForm(request.POST or None, instance=rule, user=request.user)
    saving = request.method == "POST" and form.is_valid()
    return service_edit_view(
        request,
        form=form,
        save=lambda _data: allocation_rule_save(rule=rule, actor=request.user, **form.service_arguments()),
        template="costs/rule_form.html",
        context={"rule": rule, "preview": preview_rule(rule) if rule is not None and not saving else None},
        success_url="costs:rule-list",
        success_message=lambda saved: f"Rule “{saved.name}” saved; allocation is being recomputed.",
    )


@require_POST
@login_required
def rule_delete(request, pk: int):
    return service_delete_view(
        request,
        AllocationRule.objects.all(),
        pk=pk,
        delete=lambda rule: allocation_rule_delete(rule=rule, actor=request.user),
        success_url="costs:rule-list",
        success_message=lambda rule: f"Rule “{rule.name}” deleted; allocation is being recomputed.",
    )


@login_required
def pool_edit(request, pk: int | None = None):
    pool = object_to_edit(
        request, SharedPool.objects.all(), refusal="The CoE and admins maintain shared pools.", pk=pk
    )
    initial = (
        {
            "name": pool.name,
            "description": pool.description,
            "split_method": pool.split_method,
            "members": SharedPoolForm.members_text(pool),
        }
        if pool
        else {}
    )
    form = SharedPoolForm(request.POST or None, initial=initial, user=request.user)
    return service_edit_view(
        request,
        form=form,
        save=lambda data: shared_pool_save(pool=pool, actor=request.user, **data),
        template="costs/pool_form.html",
        context={"pool": pool},
        success_url="costs:rule-list",
        success_message=lambda saved: f"Pool “{saved.name}” saved; allocation is being recomputed.",
    )


@require_POST
@login_required
def pool_delete(request, pk: int):
    return service_delete_view(
        request,
        SharedPool.objects.all(),
        pk=pk,
        delete=lambda pool: shared_pool_delete(pool=pool, actor=request.user),
        success_url="costs:rule-list",
        success_message=lambda pool: f"Pool “{pool.name}” deleted.",
    )


#
# Budgets
#


@login_required
def budget_list(request):
    _require_role(request.user)
    raw = request.GET.get("period", "")
    try:
        period = parse_month(raw) if raw else reports.budget_period()
    except forms.ValidationError:
        messages.error(request, f"“{raw}” is not a month: write YYYY-MM.")
        period = reports.this_month()
    budgets = restrict(Budget.objects.all(), request.user).select_related(
        "use_case__owning_team", "team__business_unit"
    )
    statuses = budget_statuses(budgets, period=period)
    return render(
        request,
        "costs/budget_list.html",
        _context(
            request,
            **{
                "statuses": statuses,
                "period": period,
                "previous": previous_month(period),
                "next": reports.month_range(None, period)[1],
                "can_add": can_add(request.user, Budget),
            },
        ),
    )


@login_required
def budget_edit(request, pk: int | None = None):
    budget = object_to_edit(request, Budget.objects.all(), refusal="The CoE and admins set budgets.", pk=pk)
    form = BudgetForm(request.POST or None, instance=budget, user=request.user)
    return service_edit_view(
        request,
        form=form,
        save=lambda _data: budget_save(budget=budget, **form.service_arguments()),
        template="costs/budget_form.html",
        context={"budget": budget},
        success_url="costs:budget-list",
        success_message=lambda saved: f"Budget of {saved.target} saved.",
    )


@require_POST
@login_required
def budget_delete(request, pk: int):
    return service_delete_view(
        request,
        Budget.objects.all(),
        pk=pk,
        delete=lambda budget: budget_services.budget_delete(budget=budget),
        success_url="costs:budget-list",
        success_message=lambda budget: f"Budget of {budget.target} deleted.",
    )


#
# Value and ROI
#


@login_required
def value(request):
    _require_role(request.user)
    start, end = _range(request)
    report = reports.roi_report(request.user, start=start, end=end)
    readings = (
        restrict(KpiReading.objects.all(), request.user)
        .filter(period__gte=start, period__lt=end)
        .select_related("kpi__use_case")
        .order_by("-period", "kpi__use_case__key", "kpi__name")[:200]
    )
    return render(
        request,
        "costs/value.html",
        _context(
            request,
            **{
                **report,
                "readings": readings,
                "start": start,
                "last": previous_month(end),
                "can_record": can_add(request.user, KpiReading),
                "currency": report["portfolio"].currency,
            },
        ),
    )


def _writable_kpis(user):
    return Kpi.objects.filter(use_case__in=assessable_use_cases(user).values("pk")).select_related("use_case")


@login_required
def reading_edit(request, pk: int | None = None):
    kpis = _writable_kpis(request.user)
    if pk is None:
        if not can_add(request.user, KpiReading):
            raise PermissionDenied("The owning team and the CoE record KPI readings.")
        reading = None
        initial = {"kpi": request.GET.get("kpi")} if request.GET.get("kpi", "").isdigit() else {}
    else:
        reading = get_restricted_object_or_404(
            KpiReading.objects.select_related("kpi"), request.user, Action.CHANGE, pk=pk
        )
        initial = {
            "kpi": reading.kpi_id,
            "period": f"{reading.period:%Y-%m}",
            "value": reading.value,
            "monetized_value": reading.monetized_value,
            "note": reading.note,
        }
    posted_kpi = request.POST.get("kpi", "") if reading is None else ""
    if posted_kpi.isdigit() and not kpis.filter(pk=int(posted_kpi)).exists():
        visible = restrict(Kpi.objects.filter(pk=int(posted_kpi)), request.user)
        if visible.exists():
            raise PermissionDenied("The owning team and the CoE record this KPI's readings.")
    form = KpiReadingForm(request.POST or None, initial=initial, kpis=kpis)
    if reading is not None:
        # A reading stays with its KPI and month; another month is a new reading.
        form.fields["kpi"].disabled = form.fields["period"].disabled = True
    return service_edit_view(
        request,
        form=form,
        save=lambda data: kpi_reading_record(
            kpi=data["kpi"],
            period=data["period"],
            value=data["value"],
            monetized_value=data["monetized_value"],
            note=data["note"],
            actor=request.user,
        ),
        template="costs/reading_form.html",
        context={"reading": reading},
        success_url=reverse("costs:value"),
        success_message=lambda saved: f"Reading of {saved.kpi.name} for {saved.period:%Y-%m} saved.",
    )


@require_POST
@login_required
def reading_delete(request, pk: int):
    return service_delete_view(
        request,
        KpiReading.objects.all(),
        pk=pk,
        delete=lambda reading: kpi_reading_delete(reading=reading),
        success_url="costs:value",
        success_message="Reading deleted.",
    )
