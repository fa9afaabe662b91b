"""``{% may_audit_use_case use_case as may_audit %}``: whether the signed-in person may run the
audit of this use case (approvals.policies.may_audit_use_case), for the run button that other
templates include (approvals/_audit_run_button.html)."""

from datetime import timedelta

from django import template

from approvals.policies import may_audit_use_case as _may_audit_use_case
from portal.choices import JobStatusChoices
from portal.templatetags.portal_tags import badge, duration

register = template.Library()


@register.simple_tag(takes_context=True)
def may_audit_use_case(context, use_case) -> bool:
    request = context.get("request")
    user = getattr(request, "user", None)
    return bool(use_case is not None and user is not None and _may_audit_use_case(user, use_case))


@register.simple_tag
def run_status_badge(run):
    """An audit run's status as a badge, coloured like the jobs' statuses."""
    return badge(JobStatusChoices.label(run.status), JobStatusChoices.colour(run.status))


@register.filter
def milliseconds(value) -> str:
    """A duration in milliseconds as '0.4 s', '12.3 s' or '2 min 5 s'."""
    if value is None:
        return "—"
    return duration(timedelta(milliseconds=value))
