"""Costs' tab on the use-case page, registered into ``inventory.usecase_tabs`` from
``CostsConfig.ready()``."""

from django.contrib import messages
from django.core.exceptions import ValidationError

from costs.forms.allocation import parse_month
from costs.policies import may_record_kpi_reading
from costs.selectors.reports import use_case_costs, use_case_month_range
from inventory import usecase_tabs


def _months_asked(request) -> tuple:
    """``from`` and ``to`` (YYYY-MM) of the Costs tab, as the cost pages read them; a bad one is
    named in a message and ignored."""
    months = []
    for name in ("from", "to"):
        raw = request.GET.get(name, "").strip()
        month = None
        if raw:
            try:
                month = parse_month(raw, name)
            except ValidationError:
                messages.error(request, f"“{raw}” is not a month for “{name}”: write YYYY-MM.")
        months.append(month)
    return tuple(months)


def _costs(request, use_case) -> dict:
    start, end = use_case_month_range(request.user, use_case, *_months_asked(request))
    context = dict(use_case_costs(request.user, use_case, start=start, end=end))
    first_kpi = use_case.kpis.first()
    context["may_record_reading"] = first_kpi is not None and may_record_kpi_reading(request.user, first_kpi)
    return context


def register() -> None:
    usecase_tabs.register(
        "costs", "Costs", order=90, template="costs/_usecase_costs_tab.html", context=_costs
    )
