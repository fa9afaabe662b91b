"""Reads of findings that reach a person: the filtered list the page and the API share, the
counts by severity, one finding with what explains it, a use case's live findings and the home
page's figures. Every query starts from ``restrict()``."""

from dataclasses import dataclass

import django_filters
from django.conf import settings
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from approvals.choices import FindingStatusChoices
from approvals.models import Finding, FindingEvent
from approvals.policies import COE_ROLES, may_accept_finding_risk
from inventory.choices import OWNERSHIP_ROLES
from inventory.models import Team
from portal import auditing
from portal.choices import SeverityChoices
from portal.permissions import Action, can, get_restricted_object_or_404, restrict
from portal.roles import has_role

FINDING_RELATED = ("use_case", "use_case__owning_team", "owner")

# "live" (open or acknowledged: what still needs someone) is the list's default.
STATUS_CHOICES = [
    ("live", "Live (open or acknowledged)"),
    ("all", "Any status"),
    *FindingStatusChoices.pairs(),
]
OWNER_CHOICES = [("me", "Mine"), ("coe", "The CoE")]
SORTS = {
    "severity": ("severity_rank", "due_at", "pk"),
    "-severity": ("-severity_rank", "due_at", "pk"),
    "due": ("due_at", "severity_rank", "pk"),
    "-due": ("-due_at", "severity_rank", "pk"),
    "recent": ("-last_seen_at", "-pk"),
}
SORT_OPTIONS = (
    ("severity", "Most severe first"),
    ("due", "Due soonest"),
    ("-due", "Due latest"),
    ("recent", "Recently seen"),
)


def with_severity_rank(queryset: QuerySet) -> QuerySet:
    return queryset.annotate(
        severity_rank=Case(
            *(When(severity=value, then=Value(rank)) for value, rank in SeverityChoices.RANK.items()),
            default=Value(len(SeverityChoices.RANK)),
            output_field=IntegerField(),
        )
    )


class FindingFilterSet(django_filters.FilterSet):
    """Filters in the query string, for the page and ``/api/findings/``."""

    status = django_filters.ChoiceFilter(choices=STATUS_CHOICES, method="by_status", label="Status")
    severity = django_filters.MultipleChoiceFilter(choices=SeverityChoices.pairs(), label="Severity")
    check = django_filters.CharFilter(field_name="check_id", label="Check id")
    check_id = django_filters.CharFilter(field_name="check_id", label="Check id (same as check)")
    team = django_filters.CharFilter(field_name="use_case__owning_team__slug", label="Owning team (slug)")
    use_case = django_filters.CharFilter(field_name="use_case__key", label="Use case key")
    owner = django_filters.ChoiceFilter(choices=OWNER_CHOICES, method="by_owner", label="Owner")
    overdue = django_filters.BooleanFilter(method="by_overdue", label="Live and past its due date")
    escalated = django_filters.BooleanFilter(field_name="escalated_at", lookup_expr="isnull", exclude=True,
                                             label="Escalated to the CoE")  # fmt: skip
    sort = django_filters.ChoiceFilter(
        choices=[(key, key) for key in SORTS], method="sort_by", label="Sort", empty_label=None
    )

    class Meta:
        model = Finding
        fields = []

    def __init__(self, data=None, *args, **kwargs):
        # The list's defaults, for the page and the API alike: live findings, most severe first.
        # ``owner=mine`` is accepted for ``owner=me``.
        if data is not None:
            data = data.copy()
            if not data.get("status"):
                data["status"] = "live"
            if data.get("owner") == "mine":
                data["owner"] = "me"
            if not data.get("sort"):
                data["sort"] = "severity"
        super().__init__(data, *args, **kwargs)

    def by_status(self, queryset, name, value):
        if value == "all":
            return queryset
        if value == "live":
            return queryset.filter(status__in=FindingStatusChoices.LIVE)
        return queryset.filter(status=value)

    def by_owner(self, queryset, name, value):
        if value == "coe":
            return queryset.filter(owned_by_coe=True)
        user = getattr(self.request, "user", None)
        return queryset.filter(owner=user) if getattr(user, "is_authenticated", False) else queryset.none()

    def by_overdue(self, queryset, name, value):
        overdue = Q(status__in=FindingStatusChoices.LIVE, due_at__lt=timezone.now())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)

    def sort_by(self, queryset, name, value):
        return queryset.order_by(*SORTS[value])


def findings_visible_to(user) -> QuerySet:
    return with_severity_rank(restrict(Finding.objects.all(), user).select_related(*FINDING_RELATED))


def finding_list(*, user, params, request=None) -> tuple[FindingFilterSet, QuerySet]:
    """The filtered, sorted list the page and the API share (an invalid filter lists nothing and
    says why on the filter set)."""
    base = findings_visible_to(user)
    filterset = FindingFilterSet(params, queryset=base, request=request)
    queryset = filterset.qs if filterset.is_valid() else base.none()
    return filterset, queryset


def severity_counts(*, user, params, request=None) -> list[dict]:
    """How many findings of each severity match the other filters (one query): the figures at
    the top of the list, each linking to its severity."""
    others = params.copy()
    others.pop("severity", None)
    others.pop("page", None)
    _filterset, queryset = finding_list(user=user, params=others, request=request)
    found = dict(queryset.order_by().values_list("severity").annotate(n=Count("pk")))
    return [
        {
            "value": value,
            "label": label,
            "colour": SeverityChoices.colour(value),
            "count": found.get(value, 0),
        }
        for value, label in SeverityChoices.pairs()
    ]


def check_choices() -> list[tuple[str, str]]:
    """The registered audit checks, for the filter (findings of a check no longer registered
    are still found by ``?check=<id>``)."""
    return [(check.id, check.title) for check in auditing.checks()]


def team_choices(user) -> list[tuple[str, str]]:
    return list(restrict(Team.objects.all(), user).values_list("slug", "name"))


#
# One finding
#


def finding_for(*, user, pk: int, action: str = Action.VIEW) -> Finding:
    """One finding: 404 unless the person sees it, 403 unless they may ``action`` it."""
    return get_restricted_object_or_404(Finding.objects.select_related(*FINDING_RELATED), user, action, pk=pk)


def max_acceptance_days() -> int:
    return settings.PROPYLON_FINDING_MAX_ACCEPTANCE_DAYS


def risk_acceptance_conflict(finding: Finding, user) -> str:
    """Why this person may not accept this finding's risk (empty when they may): only the CoE's
    approvers accept a risk, and never the finding's owner, the use case's owners or a member of
    its owning team (segregation of duties, as for gate decisions)."""
    if not has_role(user, *COE_ROLES):
        return "Only a CoE reviewer, the CoE lead or an admin accepts a finding's risk."
    if finding.owner_id == user.pk:
        return "You own this finding; someone else must accept its risk."
    use_case = finding.use_case
    if use_case is None:
        return ""
    for field_name, label, _help in OWNERSHIP_ROLES:
        if getattr(use_case, f"{field_name}_id") == user.pk:
            return f"You are the {label.lower()} of {use_case.key}; owners never accept their own use case's risk."
    if use_case.owning_team.members.filter(pk=user.pk).exists():
        return (
            f"You are a member of {use_case.owning_team.name}, which owns {use_case.key}; "
            "the owning team never accepts its own risk."
        )
    return ""


@dataclass(frozen=True)
class FindingActions:
    """What this person may do with this finding now (the forms the page shows)."""

    acknowledge: bool
    resolve: bool
    comment: bool
    accept_risk: bool
    accept_risk_refusal: str  # why an approver may not accept this one (segregation of duties)


def finding_actions(user, finding: Finding) -> FindingActions:
    def allowed(action: str, target: str | None) -> bool:
        if target is not None and not FindingStatusChoices.may_move(finding.status, target):
            return False
        return can(user, f"custom:{action}", finding)

    acceptable = may_accept_finding_risk(user) and allowed("accept_risk", FindingStatusChoices.RISK_ACCEPTED)
    refusal = risk_acceptance_conflict(finding, user) if acceptable else ""
    return FindingActions(
        acknowledge=allowed("acknowledge", FindingStatusChoices.ACKNOWLEDGED),
        resolve=allowed("resolve", FindingStatusChoices.RESOLVED),
        comment=allowed("comment", None),
        accept_risk=acceptable and not refusal,
        accept_risk_refusal=refusal,
    )


def finding_events(finding: Finding) -> QuerySet:
    return (
        FindingEvent.objects.filter(finding=finding).select_related("actor", "audit_run").order_by("at", "pk")
    )


def finding_context(*, user, finding: Finding) -> dict:
    """What the detail page shows: what was found, why it matters (the check, its controls), who
    must act and by when, the history, and what this person may do."""
    return {
        "finding": finding,
        "check": auditing.check_for(finding.check_id),
        "events": finding_events(finding),
        "actions": finding_actions(user, finding),
        "is_overdue": is_overdue(finding),
        "max_acceptance_days": max_acceptance_days(),
    }


def is_overdue(finding: Finding, now=None) -> bool:
    return finding.is_live and finding.due_at < (now or timezone.now())


#
# A use case's findings, the home page
#


def live_findings_of(*, user, use_case) -> QuerySet:
    return (
        findings_visible_to(user)
        .filter(use_case=use_case, status__in=FindingStatusChoices.LIVE)
        .order_by(*SORTS["severity"])
    )


def home_findings(user) -> dict | None:
    """The home page's findings card: what this person owns (live, overdue) and, for the CoE, the
    findings the CoE owns and those escalated to it. ``None`` when there is nothing to show."""
    now = timezone.now()
    live = Q(status__in=FindingStatusChoices.LIVE)
    overdue = live & Q(due_at__lt=now)
    visible = restrict(Finding.objects.all(), user)
    figures = visible.aggregate(
        owned=Count("pk", filter=live & Q(owner=user)),
        owned_overdue=Count("pk", filter=overdue & Q(owner=user)),
        coe_owned=Count("pk", filter=live & Q(owned_by_coe=True)),
        escalated=Count("pk", filter=live & Q(escalated_at__isnull=False)),
    )
    is_coe = has_role(user, *COE_ROLES)
    if not figures["owned"] and not is_coe:
        return None
    return {"findings_home": {**figures, "is_coe": is_coe}}
