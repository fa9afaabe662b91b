"""Approvals' tabs on the use-case page (risk, maturity, approvals) and its header badge,
registered into ``inventory.usecase_tabs`` from ``ApprovalsConfig.ready()``."""

from approvals.selectors.gates import no_approval_on_record
from approvals.selectors.maturity import maturity_overview
from approvals.selectors.risk import risk_overview
from approvals.views.gates import approvals_tab
from inventory import usecase_tabs


def _risk(request, use_case) -> dict:
    return risk_overview(user=request.user, use_case=use_case, version=request.GET.get("version"))


def _maturity(request, use_case) -> dict:
    return maturity_overview(user=request.user, use_case=use_case, version=request.GET.get("version"))


def _approvals(request, use_case) -> dict:
    return approvals_tab(user=request.user, use_case=use_case)


def _header_facts(request, use_case) -> dict:
    return {"no_approval_on_record": no_approval_on_record(use_case)}


def register() -> None:
    usecase_tabs.register("risk", "Risk", order=60, template="approvals/_risk_tab.html", context=_risk)
    usecase_tabs.register(
        "maturity", "Maturity", order=70, template="approvals/_maturity_tab.html", context=_maturity
    )
    usecase_tabs.register(
        "approvals", "Approvals", order=80, template="approvals/_gates_tab.html", context=_approvals
    )
    usecase_tabs.register_facts(_header_facts)
