"""Reads of gates that reach a person: the review queue, the review page, a use case's requests.
Every query starts from ``restrict()``."""

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from approvals import gates, maturity_catalog
from approvals.choices import ApprovalStatusChoices
from approvals.models import ApprovalDecision, ApprovalRequest, GatePolicy, RiskAssessment
from inventory.choices import RiskTierChoices
from portal.permissions import Action, can, restrict

QUEUE_VIEWS = (
    ("mine", "Waiting on me"),
    ("overdue", "Overdue"),
    ("open", "All open"),
    ("decided", "Decided"),
)
REQUEST_RELATED = ("use_case", "use_case__owning_team", "release", "from_stage", "to_stage", "requested_by")


def approval_requests_visible_to(user) -> QuerySet:
    return restrict(ApprovalRequest.objects.select_related(*REQUEST_RELATED), user, Action.VIEW)


def waiting_on(user, requests) -> list[ApprovalRequest]:
    """Of these pending requests, those where this person may still fill an open quorum slot:
    they hold a required role whose count is not reached, have not decided in this round and
    are not excluded by segregation of duties."""
    from inventory.models import Team

    team_ids = set(Team.objects.filter(members=user).values_list("pk", flat=True))
    waiting = []
    for request in requests:
        roles = gates.eligible_roles(user, request.quorum)
        if not roles or gates.segregation_conflict(request, user, team_ids=team_ids):
            continue
        decided = any(
            item.decided_by_id == user.pk and item.round == request.round for item in request.decisions.all()
        )
        if decided:
            continue
        progress = {row["role"]: row for row in gates.quorum_progress(request)}
        if any(progress[role]["approved"] < progress[role]["required"] for role in roles):
            waiting.append(request)
    return waiting


def review_queue(*, user, view: str = "mine", tier: str = "") -> list[ApprovalRequest]:
    """The queue page's rows: oldest deadline first for open requests, newest for decided."""
    requests = approval_requests_visible_to(user)
    if tier in RiskTierChoices.values():
        requests = requests.filter(use_case__risk_tier=tier)
    if view == "decided":
        return list(
            requests.exclude(status__in=ApprovalStatusChoices.OPEN).order_by("-decided_at", "-pk")[:200]
        )
    if view == "open":
        return list(requests.filter(status__in=ApprovalStatusChoices.OPEN).order_by("due_at", "pk"))
    pending = requests.filter(status=ApprovalStatusChoices.PENDING).order_by("due_at", "pk")
    if view == "overdue":
        return list(pending.filter(due_at__lt=timezone.now()))
    already = ApprovalDecision.objects.filter(
        request=OuterRef("pk"), round=OuterRef("round"), decided_by=user
    )
    candidates = (
        pending.exclude(Exists(already))
        .exclude(requested_by=user)
        .exclude(use_case__owning_team__members=user)
        .prefetch_related("decisions")
    )
    return waiting_on(user, candidates)


def queue_counts(*, user) -> dict[str, int]:
    requests = approval_requests_visible_to(user)
    pending = requests.filter(status=ApprovalStatusChoices.PENDING)
    return {
        "mine": len(review_queue(user=user, view="mine")),
        "overdue": pending.filter(due_at__lt=timezone.now()).count(),
        "open": requests.filter(status__in=ApprovalStatusChoices.OPEN).count(),
    }


def requests_for_use_case(*, user, use_case) -> list[ApprovalRequest]:
    return list(approval_requests_visible_to(user).filter(use_case=use_case).order_by("-submitted_at", "-pk"))


@dataclass
class EvidenceRow:
    id: int
    check_key: str
    kind: str
    sha256: str
    state: str  # "current", "withdrawn" or "missing"

    @property
    def check_title(self) -> str:
        check = maturity_catalog.CHECKS.get(self.check_key)
        return check.title if check else self.check_key


def _evidence_rows(request: ApprovalRequest) -> list[EvidenceRow]:
    from approvals.models import MaturityEvidence

    snapshot = request.snapshot.get("evidence", [])
    current = {
        item.pk: item for item in MaturityEvidence.objects.filter(pk__in=[row["id"] for row in snapshot])
    }
    rows = []
    for row in snapshot:
        item = current.get(row["id"])
        if item is None or item.sha256 != row["sha256"]:
            state = "missing"
        elif item.withdrawn_at is not None:
            state = "withdrawn"
        else:
            state = "current"
        rows.append(EvidenceRow(row["id"], row["check_key"], row.get("kind", ""), row["sha256"], state))
    return rows


def _threads(request: ApprovalRequest) -> list[tuple]:
    """Comments as (comment, replies) pairs, oldest first; replies to replies join their thread."""
    comments = list(request.comments.select_related("author").order_by("created_at", "pk"))
    by_id = {comment.pk: comment for comment in comments}

    def root(comment):
        while comment.parent_id and comment.parent_id in by_id:
            comment = by_id[comment.parent_id]
        return comment

    threads: dict[int, list] = {}
    for comment in comments:
        top = root(comment)
        threads.setdefault(top.pk, [])
        if top.pk != comment.pk:
            threads[top.pk].append(comment)
    return [(by_id[pk], replies) for pk, replies in threads.items()]


def review_context(*, user, request: ApprovalRequest) -> dict:
    """Everything the review page shows, and what this person may do on it."""
    from inventory.duplicates import similar_use_cases

    use_case = request.use_case
    conflict = gates.segregation_conflict(request, user)
    roles = gates.eligible_roles(user, request.quorum)
    decided = request.decisions.filter(round=request.round, decided_by=user).exists()
    may_decide = (
        request.status == ApprovalStatusChoices.PENDING
        and can(user, "custom:decide", request)
        and not conflict
        and bool(roles)
        and not decided
    )
    if request.status != ApprovalStatusChoices.PENDING or not can(user, "custom:decide", request):
        decide_note = ""
    elif conflict:
        decide_note = conflict
    elif not roles:
        decide_note = "This gate needs decisions from roles you do not hold."
    elif decided:
        decide_note = "You decided in this round."
    else:
        decide_note = ""
    from costs.selectors.reports import cost_to_date

    base = gates.last_approved_release(use_case, before=request)
    latest_risk = RiskAssessment.objects.filter(use_case=use_case).order_by("-version").first()
    return {
        "gate": request,
        "use_case": use_case,
        "cost_so_far": cost_to_date(user, use_case),
        "progress": gates.quorum_progress(request),
        "decisions": list(request.decisions.select_related("decided_by").order_by("decided_at", "pk")),
        "threads": _threads(request),
        "events": list(request.events.select_related("actor").order_by("at", "pk")),
        "evidence": _evidence_rows(request),
        "maturity_snapshot": request.snapshot.get("maturity"),
        # Dimensions by title: the snapshot keeps the rubric's keys (data_lineage), people read names.
        "maturity_scores": [
            (getattr(maturity_catalog.DIMENSIONS_BY_KEY.get(key), "title", key), score)
            for key, score in (request.snapshot.get("maturity") or {}).get("scores", {}).items()
        ],
        "maturity_now": gates.latest_maturity(use_case),
        "risk_snapshot": request.snapshot.get("risk", {}),
        "risk_tier_at_submission": RiskTierChoices.label(request.snapshot.get("risk", {}).get("tier", "")),
        "risk_assessment": latest_risk,
        "risk_entries": list(
            use_case.risk_entries.select_related("owner").order_by("-residual_likelihood", "pk")
        ),
        "diff": gates.release_diff(request.release, base),
        "similar": similar_use_cases(
            user=user, name=use_case.name, purpose=use_case.purpose, tags=use_case.tags, exclude=use_case
        ),
        "may_decide": may_decide,
        "decide_note": decide_note,
        "may_comment": can(user, "custom:comment", request),
        "may_withdraw": request.is_open and can(user, "custom:withdraw", request),
        "may_resubmit": request.status == ApprovalStatusChoices.CHANGES_REQUESTED
        and can(user, "custom:resubmit", request),
        "may_revoke": request.status == ApprovalStatusChoices.APPROVED
        and can(user, "custom:revoke", request),
        "may_recertify": request.status in (ApprovalStatusChoices.APPROVED, ApprovalStatusChoices.EXPIRED)
        and can(user, "custom:recertify", request)
        and not ApprovalRequest.objects.filter(
            recertifies=request, status__in=ApprovalStatusChoices.OPEN
        ).exists(),
    }


def gate_policies_visible_to(user) -> QuerySet:
    return restrict(
        GatePolicy.objects.select_related("transition__from_stage", "transition__to_stage").prefetch_related(
            "approver_requirements"
        ),
        user,
    )


def overdue_filter(now=None) -> Q:
    return Q(status=ApprovalStatusChoices.PENDING, due_at__lt=now or timezone.now())
