"""Reads of gates that reach a person: the review queue, the review page, a use case's requests.
Every query starts from ``restrict()``."""

from collections import Counter
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from approvals.catalogs import maturity as maturity_catalog
from approvals.choices import (
    ApprovalStatusChoices,
    DecisionChoices,
)
from approvals.models import (
    ROLES_ELIGIBLE_FOR,
    ApprovalDecision,
    ApprovalRequest,
    GatePolicy,
    LifecycleStage,
    LifecycleTransition,
    MaturityEvidence,
    RiskAssessment,
)
from approvals.selectors import maturity as maturity_selectors
from approvals.selectors.findings import live_findings_of
from inventory import facts as use_case_facts
from inventory.choices import OWNERSHIP_ROLES, RiskTierChoices
from inventory.models import Release, Team, UseCase
from inventory.selectors.duplicates import similar_use_cases
from portal.permissions import Action, can, restrict
from portal.roles import ROLE_LABELS, has_role

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

    team_ids = set(Team.objects.filter(members=user).values_list("pk", flat=True))
    waiting = []
    for request in requests:
        roles = eligible_roles(user, request.quorum)
        if not roles or segregation_conflict(request, user, team_ids=team_ids):
            continue
        decided = any(
            item.decided_by_id == user.pk and item.round == request.round for item in request.decisions.all()
        )
        if decided:
            continue
        progress = {row["role"]: row for row in quorum_progress(request)}
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
        return list(pending.overdue(timezone.now()))
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
    return {
        "mine": len(review_queue(user=user, view="mine")),
        "overdue": requests.overdue(timezone.now()).count(),
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


def no_approval_on_record(use_case: UseCase) -> bool:
    """An attested onboarding that has not passed a gate yet: its stage rests on someone's word."""
    if not use_case.onboarding_attested:
        return False
    passed = (ApprovalStatusChoices.APPROVED, ApprovalStatusChoices.EXPIRED, ApprovalStatusChoices.REVOKED)
    return not ApprovalRequest.objects.filter(use_case=use_case, status__in=passed).exists()


def review_context(*, user, request: ApprovalRequest) -> dict:
    """Everything the review page shows, and what this person may do on it."""

    use_case = request.use_case
    conflict = segregation_conflict(request, user)
    roles = eligible_roles(user, request.quorum)
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
    base = last_approved_release(use_case, before=request)
    latest_risk = RiskAssessment.objects.filter(use_case=use_case).order_by("-version").first()
    return {
        "gate": request,
        "use_case": use_case,
        # Facts other apps register (inventory.facts): the cost so far, from costs.
        **use_case_facts.for_use_case(user, use_case),
        "progress": quorum_progress(request),
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
        "maturity_now": maturity_selectors.latest_assessment(use_case),
        # What the audits say about the use case now: reviewers decide knowing it.
        "live_findings": list(live_findings_of(user=user, use_case=use_case).select_related("owner")[:10]),
        "risk_snapshot": request.snapshot.get("risk", {}),
        "risk_tier_at_submission": RiskTierChoices.label(request.snapshot.get("risk", {}).get("tier", "")),
        "risk_assessment": latest_risk,
        "risk_entries": list(
            use_case.risk_entries.select_related("owner").order_by("-residual_likelihood", "pk")
        ),
        "diff": release_diff(request.release, base),
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


def policy_for(transition: LifecycleTransition, tier: str) -> GatePolicy | None:
    """The policy for this move and tier: the tier's own, else the any-tier one."""
    policies = {policy.risk_tier: policy for policy in transition.gate_policies.all()}
    return policies.get(tier) or policies.get(GatePolicy.ANY_TIER)


def eligible_roles(user, quorum: dict[str, int]) -> list[str]:
    """The requirement roles of ``quorum`` this person may fill."""
    return sorted(role for role in quorum if has_role(user, *ROLES_ELIGIBLE_FOR.get(role, (role,))))


def segregation_conflict(request: ApprovalRequest, user, *, team_ids: set[int] | None = None) -> str:
    """Why this person may not decide this request (empty when they may): the requester, the
    use case's owners and its owning team's members never decide on it (invariant 2).
    ``team_ids`` (the teams the person is in) saves a query per request in lists."""
    use_case = request.use_case
    if request.requested_by_id == user.pk:
        return f"You asked for {request.reference}; someone else must decide on it."
    for field_name, label, _help in OWNERSHIP_ROLES:
        if getattr(use_case, f"{field_name}_id") == user.pk:
            return (
                f"You are the {label.lower()} of {use_case.key}; owners never decide on their own use case."
            )
    in_team = (
        use_case.owning_team_id in team_ids
        if team_ids is not None
        else use_case.owning_team.members.filter(pk=user.pk).exists()
    )
    if in_team:
        return (
            f"You are a member of {use_case.owning_team.name}, which owns {use_case.key}; "
            "the owning team never decides on its own gate."
        )
    return ""


def quorum_state(quorum: dict[str, int], voters: dict[int, list[str]]) -> tuple[bool, dict[str, int]]:
    """Whether the approving ``voters`` (person id → requirement roles they may fill) meet the
    quorum, and how many slots of each role are filled. Each person fills at most one slot:
    a maximum bipartite matching (Kuhn's augmenting paths; quorums are a handful of slots)."""
    slots = [role for role in sorted(quorum) for _ in range(quorum[role])]
    holder: list[int | None] = [None] * len(slots)

    def place(voter: int, seen: set[int]) -> bool:
        for index, role in enumerate(slots):
            if role in voters[voter] and index not in seen:
                seen.add(index)
                if holder[index] is None or place(holder[index], seen):
                    holder[index] = voter
                    return True
        return False

    for voter in sorted(voters):
        place(voter, set())
    filled = Counter(slots[index] for index, voter in enumerate(holder) if voter is not None)
    return all(voter is not None for voter in holder), {role: filled.get(role, 0) for role in sorted(quorum)}


def approving_voters(request: ApprovalRequest) -> dict[int, list[str]]:
    # .all() and a filter in Python: lists prefetch the decisions, so this costs them no query.
    return {
        decision.decided_by_id: list(decision.roles)
        for decision in request.decisions.all()
        if decision.round == request.round and decision.decision in DecisionChoices.APPROVING
    }


def quorum_progress(request: ApprovalRequest) -> list[dict]:
    """Each requirement with its count, how many approvals fill it and its label, for pages and API."""
    _met, filled = quorum_state(request.quorum, approving_voters(request))
    return [
        {
            "role": role,
            "label": ROLE_LABELS.get(role, role),
            "required": count,
            "approved": filled.get(role, 0),
        }
        for role, count in sorted(request.quorum.items())
    ]


def release_data(release: Release) -> dict:
    return {
        "id": release.pk,
        "version": release.version,
        "code_ref": release.code_ref,
        "model_versions": [
            {"id": v.pk, "name": v.model.name, "version": v.version, "sha256": v.sha256}
            for v in release.model_versions.select_related("model").order_by("pk")
        ],
        "prompt_versions": [
            {"id": v.pk, "name": v.template.name, "version": v.version, "sha256": v.content_sha256}
            for v in release.prompt_versions.select_related("template").order_by("pk")
        ],
        "dataset_versions": [
            {"id": v.pk, "name": v.dataset.name, "version": v.version, "sha256": v.sha256}
            for v in release.dataset_versions.select_related("dataset").order_by("pk")
        ],
    }


def approval_covering(use_case: UseCase, release: Release, stage) -> ApprovalRequest | None:
    """The valid approval that lets exactly this release of this use case be at ``stage`` (a
    LifecycleStage or its key): approved, not revoked, not expired. None otherwise.

    The deployment issue calls this before any production deployment (invariant 1)."""
    stage_filter = Q(to_stage=stage) if isinstance(stage, LifecycleStage) else Q(to_stage__key=str(stage))
    now = timezone.now()
    return (
        ApprovalRequest.objects.filter(
            stage_filter, use_case=use_case, release=release, status=ApprovalStatusChoices.APPROVED
        )
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .order_by("-decided_at", "-pk")
        .first()
    )


def last_approved_release(use_case: UseCase, *, before: ApprovalRequest | None = None) -> Release | None:
    """The release of the use case's latest approval (even expired or revoked: it was what ran),
    for "what changed since" on the review page."""
    approvals = ApprovalRequest.objects.filter(
        use_case=use_case,
        status__in=[
            ApprovalStatusChoices.APPROVED,
            ApprovalStatusChoices.EXPIRED,
            ApprovalStatusChoices.REVOKED,
        ],
    )
    if before is not None:
        approvals = approvals.exclude(pk=before.pk).exclude(release=before.release)
    latest = approvals.select_related("release").order_by("-decided_at", "-pk").first()
    return latest.release if latest else None


def release_diff(release: Release, base: Release | None) -> dict:
    """Pinned versions added, removed and changed between ``base`` and ``release``, by asset."""
    current = release_data(release)
    previous = release_data(base) if base is not None else None
    changes = {}
    for kind in ("model_versions", "prompt_versions", "dataset_versions"):
        now_pins = {item["name"]: item for item in current[kind]}
        old_pins = {item["name"]: item for item in previous[kind]} if previous else {}
        changes[kind] = {
            "added": [now_pins[name] for name in sorted(set(now_pins) - set(old_pins))],
            "removed": [old_pins[name] for name in sorted(set(old_pins) - set(now_pins))],
            "changed": [
                {"name": name, "from": old_pins[name]["version"], "to": now_pins[name]["version"]}
                for name in sorted(set(now_pins) & set(old_pins))
                if (old_pins[name]["version"], old_pins[name]["sha256"])
                != (now_pins[name]["version"], now_pins[name]["sha256"])
            ],
        }
    return {
        "base": previous["version"] if previous else None,
        "code_ref": {"from": previous["code_ref"] if previous else None, "to": current["code_ref"]},
        "changes": changes,
    }


def owners(use_case: UseCase) -> list:
    people = [getattr(use_case, field_name) for field_name, _label, _help in OWNERSHIP_ROLES]
    return [person for person in people if person is not None]


def eligible_reviewers(request: ApprovalRequest) -> list:
    """Active people who may decide this request: holders of a required role, minus the
    requester, the owners and the owning team."""

    role_names = {role for wanted in request.quorum for role in ROLES_ELIGIBLE_FOR.get(wanted, (wanted,))}
    excluded = {request.requested_by_id, *(person.pk for person in owners(request.use_case))}
    team_members = request.use_case.owning_team.members.values("pk")
    return list(
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=role_names)
        .exclude(pk__in=[pk for pk in excluded if pk])
        .exclude(pk__in=team_members)
        .distinct()
        .order_by("username")
    )
