"""The CoE metrics page (approvals.selectors.metrics): time to decision per gate and tier, queue length."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import render

from approvals.forms.metrics import MetricsWindowForm
from approvals.policies import may_view_coe_metrics
from approvals.selectors import metrics
from approvals.selectors.metrics import tier_label
from inventory.choices import RiskTierChoices
from portal.forms import add_service_errors


def duration(hours) -> str:
    """Hours under two days read as hours, longer waits as days."""
    if hours is None:
        return "—"
    return f"{hours} h" if hours < 48 else f"{hours / 24:.1f} d"


def chart_data(result: dict) -> dict:
    """What the page's script draws; the tables show the same numbers."""
    tiers = sorted(
        {tier for point in result["queue_length"] for tier in point["by_tier"]},
        key=lambda tier: RiskTierChoices.values().index(tier) if tier in RiskTierChoices.values() else 99,
    )
    return {
        "days": [point["day"].isoformat() for point in result["queue_length"]],
        "queue": [
            {
                "tier": tier_label(tier),
                "colour": RiskTierChoices.colour(tier) if tier else "grey",
                "counts": [point["by_tier"].get(tier, 0) for point in result["queue_length"]],
            }
            for tier in tiers
        ],
        "decisions": [
            {
                "label": f"{group.gate} · {group.tier_label}",
                "median": float(group.median_hours),
                "p90": float(group.p90_hours),
            }
            for group in result["time_to_decision"]
        ],
    }


@login_required
def coe_metrics(request):
    if not may_view_coe_metrics(request.user):
        raise PermissionDenied("CoE metrics are for CoE reviewers, executives, auditors and admins.")
    form = MetricsWindowForm(request.GET or None)
    result, status = None, 200
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        window = form.cleaned_data if form.is_bound else {}
        try:
            result = metrics.coe_metrics(since=window.get("since"), until=window.get("until"))
        except ValidationError as error:
            add_service_errors(form, error)
            status = 400
    if result is not None and not form.is_bound:
        form = MetricsWindowForm(initial={"since": result["since"], "until": result["until"]})
    context = {"form": form, "result": result}
    if result is not None:
        context["chart"] = chart_data(result)
        context["rows"] = [
            {
                "group": group,
                "median": duration(group.median_hours),
                "p90": duration(group.p90_hours),
                "mean": duration(group.mean_hours),
            }
            for group in result["time_to_decision"]
        ]
        context["median_all"] = duration(result["median_hours"])
        context["oldest_waiting"] = duration(result["queue_now"]["oldest_waiting_hours"])
        context["tiers_now"] = [
            (tier_label(tier), RiskTierChoices.colour(tier) if tier else "grey", count)
            for tier, count in sorted(result["queue_now"]["by_tier"].items())
        ]
    return render(request, "approvals/coe_metrics.html", context, status=status)
