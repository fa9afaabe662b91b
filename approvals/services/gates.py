"""Gates: policies, preflight, approval requests, decisions, quorum, expiry and revocation.

Every write here runs in one transaction with its audit entries and typed ``ApprovalEvent``
rows; views, API actions, jobs and the demo call these functions. Callers check who may ask,
decide or revoke (``portal.permissions``); these functions check the data and the rules that
are invariants of the design: segregation of duties, quorum per policy, one approval per
release (DESIGN.md §4, invariants 1 and 2).

Quorum. A policy lists approver requirements (role, count). A request is approved when every
requirement has ``count`` approving decisions from distinct eligible people in the current
round. One person counts once, for one requirement, even when they hold several approver
roles: the decisions are matched to the requirement slots (a bipartite matching), so a
security reviewer who is also a CoE reviewer never fills both slots. One reject ends the
request as rejected; one request for changes sends it back to the requester, whose
resubmission starts a new round (earlier decisions stay on record but count no more).

Races. Two reviewers deciding at the same moment both lock the request row
(``select_for_update``) before reading its decisions, so the second sees the first's decision
and the count is never lost or doubled; the unique (request, round, person) constraint
refuses a second vote from the same person even outside this code.

Expiry and re-certification. An approval's ``expires_at`` is the decision time plus the
policy's validity period. :func:`approval_covering` never returns an expired approval, whether
or not the periodic scan (``approvals.scan_gates``) has marked it expired yet. Re-certifying is
a new request for the same release and stage, pre-filled from the approval it renews
(``recertifies``), through the policy's current quorum; while it is pending the old approval
keeps covering the release until it expires.

Review SLA. A request is due ``review_sla_days`` business days (Monday to Friday, UTC; public
holidays are not modelled) after its (re)submission; after that it is overdue and the scan
notifies reviewers once per round.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from approvals.choices import (
    ApprovalEventChoices,
    ApprovalStatusChoices,
    CheckStatusChoices,
    DecisionChoices,
    StageKindChoices,
)
from approvals.models import (
    APPROVER_ROLES,
    ROLES_ELIGIBLE_FOR,
    ApprovalComment,
    ApprovalDecision,
    ApprovalEvent,
    ApprovalRequest,
    GateApproverRequirement,
    GatePolicy,
    LifecycleStage,
    LifecycleTransition,
    RiskAssessment,
)
from inventory.choices import OWNERSHIP_ROLES, RiskTierChoices
from inventory.models import Release, UseCase
from portal import audit
from portal.choices import AuditActionChoices
from portal.roles import ROLE_LABELS, has_role

MET_STATUSES = (CheckStatusChoices.VERIFIED, CheckStatusChoices.EVIDENCED)
EXPIRY_WARNING_DAYS = (14, 3)
COMMENT_MAX_LENGTH = 10_000

#
# The maturity rubric (approvals.catalogs.maturity) and assessments (approvals.services.maturity)
#


def rubric_check_keys() -> frozenset[str]:
    from approvals.catalogs import maturity as maturity_catalog

    return frozenset(maturity_catalog.CHECKS)


def validate_check_keys(keys, *, field: str) -> list[str]:
    """A list of rubric check keys, unique and sorted; unknown keys are refused by name."""
    if keys in (None, ""):
        return []
    if isinstance(keys, str) or not isinstance(keys, list | tuple):
        raise ValidationError(
            {field: "Give a list of maturity check keys, e.g. documentation.runbook_linked."}
        )
    cleaned = []
    for key in keys:
        if not isinstance(key, str) or not key.strip():
            raise ValidationError({field: "Every check key is a non-empty text."})
        cleaned.append(key.strip())
    unknown = sorted(set(cleaned) - rubric_check_keys())
    if unknown:
        raise ValidationError(
            {field: f"Not a check of the maturity rubric: {', '.join(unknown)}. See /api/maturity-rubric/."}
        )
    return sorted(set(cleaned))


def latest_maturity(use_case):
    """The use case's latest maturity assessment, or None."""
    from approvals.services.maturity import latest_assessment

    return latest_assessment(use_case)


def active_evidence(use_case) -> list:
    from approvals.models import MaturityEvidence

    return list(
        MaturityEvidence.objects.filter(use_case=use_case, withdrawn_at__isnull=True).order_by(
            "check_key", "pk"
        )
    )


#
# Policies
#


def policy_for(transition: LifecycleTransition, tier: str) -> GatePolicy | None:
    """The policy for this move and tier: the tier's own, else the any-tier one."""
    policies = {policy.risk_tier: policy for policy in transition.gate_policies.all()}
    return policies.get(tier) or policies.get(GatePolicy.ANY_TIER)


def _clean_requirements(requirements) -> dict[str, int]:
    if requirements is None:
        return {}
    if not isinstance(requirements, dict):
        raise ValidationError(
            {"requirements": "Give approver roles with a count each, e.g. {coe-reviewer: 2}."}
        )
    cleaned = {}
    for role, count in requirements.items():
        if role not in APPROVER_ROLES:
            raise ValidationError(
                {"requirements": f"“{role}” is not an approver role; use one of {', '.join(APPROVER_ROLES)}."}
            )
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 10:
            raise ValidationError(
                {"requirements": f"The count for {role} must be a whole number from 0 to 10."}
            )
        if count:
            cleaned[role] = count
    return cleaned


POLICY_FIELDS = (
    "min_readiness",
    "mandatory_checks",
    "mandatory_evidence",
    "requires_risk_assessment",
    "allows_conditions",
    "blocked",
    "validity_days",
    "review_sla_days",
    "description",
)


@transaction.atomic
def gate_policy_save(
    *, actor, policy: GatePolicy | None = None, transition=None, risk_tier=None, requirements=None, **values
) -> GatePolicy:
    """Create (no ``policy``) or change a gate policy and replace its approver requirements
    (``{role: count}``; a count of 0 removes the role). Requests already submitted keep the
    quorum and policy values they snapshotted."""
    unknown = set(values) - set(POLICY_FIELDS)
    if unknown:
        raise ValidationError(f"These fields cannot be set on a gate policy: {', '.join(sorted(unknown))}.")
    creating = policy is None
    if creating:
        policy = GatePolicy(transition=transition, risk_tier=risk_tier or GatePolicy.ANY_TIER)
    else:
        if transition is not None and transition.pk != policy.transition_id:
            raise ValidationError(
                {"transition": "A policy stays with its transition; create a new policy instead."}
            )
        if risk_tier is not None and risk_tier != policy.risk_tier:
            raise ValidationError({"risk_tier": "A policy stays with its tier; create a new policy instead."})
    for name, value in values.items():
        setattr(policy, name, value)
    policy.updated_at = timezone.now()
    policy.full_clean()
    cleaned = _clean_requirements(requirements) if requirements is not None else None
    if creating and not cleaned and not policy.blocked:
        raise ValidationError(
            {"requirements": "Name at least one approver role, or mark the policy blocked."}
        )
    policy.save()
    if cleaned is not None:
        existing = {row.role: row for row in policy.approver_requirements.all()}
        for role, row in existing.items():
            if role not in cleaned:
                row.delete()
        for role, count in cleaned.items():
            row = existing.get(role)
            if row is None:
                row = GateApproverRequirement(policy=policy, role=role, count=count)
            elif row.count == count:
                continue
            row.count = count
            row.full_clean()
            row.save()
        if not cleaned and not policy.blocked:
            raise ValidationError(
                {"requirements": "Name at least one approver role, or mark the policy blocked."}
            )
    return policy


@transaction.atomic
def gate_policy_delete(*, policy: GatePolicy, actor) -> None:
    """Remove a policy no request used; a used one is kept for the record (change it instead)."""
    if policy.approval_requests.exists():
        raise ValidationError(
            f"{policy} was used by {policy.approval_requests.count()} request(s) and is kept for the "
            "record; change it instead."
        )
    policy.delete()


#
# Who may decide: eligibility and segregation of duties
#


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


#
# Preflight: what is missing before a request can be submitted
#


@dataclass
class Problem:
    field: str
    code: str
    message: str
    url: str = ""  # where the problem is fixed
    fix: str = ""  # the link's text

    @property
    def label(self) -> str:
        return PROBLEM_FIELD_LABELS.get(self.field, self.field.replace("_", " ").capitalize())


PROBLEM_FIELD_LABELS = {
    "use_case": "Use case",
    "to_stage": "Target stage",
    "release": "Release",
    "risk": "Risk",
    "policy": "Gate policy",
    "maturity": "Maturity",
    "evidence": "Evidence",
}


def _check_name(key: str) -> str:
    """A maturity check as people know it: its title (the key is for the API)."""
    from approvals.catalogs import maturity as maturity_catalog

    check = maturity_catalog.CHECKS.get(key)
    return f"“{check.title}”" if check else key


def _where_to_fix(use_case: UseCase, code: str) -> tuple[str, str]:
    """The page where a preflight problem of this kind is fixed, and what the link says."""
    page = use_case.get_absolute_url()
    if code == "draft":
        return page, "Submit the draft"
    if code in ("no_release", "other_use_case", "not_pinned", "no_digest"):
        return f"{page}?tab=releases", "Releases & versions"
    if code == "no_risk_assessment":
        return reverse("approvals:risk-questionnaire", args=[use_case.key]), "Answer the risk questionnaire"
    if code in ("no_maturity", "readiness_below_minimum", "mandatory_check_unmet"):
        return f"{page}?tab=maturity", "Maturity"
    if code == "evidence_missing":
        return reverse("approvals:maturity-evidence-add", args=[use_case.key]), "Attach evidence"
    if code in ("no_policy", "blocked", "no_approvers"):
        return reverse("approvals:gate-policy-list"), "Gate policies"
    return f"{page}?tab=approvals", "Approvals"


@dataclass
class Preflight:
    use_case: UseCase
    release: Release | None
    to_stage: LifecycleStage | None
    transition: LifecycleTransition | None = None
    policy: GatePolicy | None = None
    risk_assessment: RiskAssessment | None = None
    maturity: object = None
    evidence: list = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, field_name: str, code: str, message: str, *, url: str = "", fix: str = "") -> None:
        if not url:
            url, fix = _where_to_fix(self.use_case, code)
        self.problems.append(Problem(field_name, code, message, url, fix))

    def as_error(self) -> ValidationError:
        errors: dict[str, list[str]] = {}
        for problem in self.problems:
            errors.setdefault(problem.field, []).append(problem.message)
        return ValidationError(errors)

    def as_data(self) -> dict:
        policy = self.policy
        return {
            "ok": self.ok,
            "use_case": self.use_case.key,
            "release": self.release.version if self.release else None,
            "from_stage": self.transition.from_stage.key if self.transition else None,
            "to_stage": self.to_stage.key if self.to_stage else None,
            "risk_tier": self.use_case.risk_tier,
            "policy": policy.pk if policy else None,
            "min_readiness": str(policy.min_readiness) if policy else None,
            "readiness": str(self.maturity.readiness) if self.maturity is not None else None,
            "quorum": policy.quorum() if policy else {},
            "problems": [
                {"field": problem.field, "code": problem.code, "message": problem.message, "url": problem.url}
                for problem in self.problems
            ],
        }


def _stage_for(to_stage) -> LifecycleStage | None:
    if isinstance(to_stage, LifecycleStage) or to_stage is None:
        return to_stage
    return LifecycleStage.objects.filter(key=str(to_stage)).first()


def gate_preflight(
    *, use_case: UseCase, release: Release | None, to_stage, recertifies: ApprovalRequest | None = None,
    exclude: ApprovalRequest | None = None,
) -> Preflight:  # fmt: skip
    """Everything that stops this request from being submitted, each problem named by field.

    The page shows the list before the person submits; the API answers it at
    ``POST /api/approval-requests/preflight/``; submission runs it again under a lock.
    """
    stage = _stage_for(to_stage)
    check = Preflight(use_case=use_case, release=release, to_stage=stage)
    if use_case.is_draft:
        check.add("use_case", "draft", f"{use_case.key} is a draft: submit it to the lifecycle first.")
        return check
    if stage is None:
        check.add("to_stage", "unknown_stage", "Choose the stage the use case should move to.")
        return check
    current = use_case.lifecycle_stage
    if recertifies is not None:
        check.transition = recertifies.transition
        if current.pk != recertifies.to_stage_id:
            check.add(
                "to_stage",
                "moved",
                f"{use_case.key} is at {current.label}, no longer {recertifies.to_stage.label}: the approval "
                "cannot be re-certified; ask for the gate again.",
            )
    else:
        check.transition = (
            LifecycleTransition.objects.select_related("from_stage", "to_stage")
            .filter(from_stage=current, to_stage=stage)
            .first()
        )
        if check.transition is None:
            check.add(
                "to_stage",
                "no_transition",
                f"The lifecycle allows no move from {current.label} to {stage.label}.",
            )
        elif not check.transition.requires_gate:
            check.add(
                "to_stage",
                "not_gated",
                f"{current.label} → {stage.label} needs no gate: move the use case directly.",
            )
    _check_release(check, use_case, release)
    _check_risk(check, use_case)
    if check.transition is not None and check.transition.requires_gate:
        _check_policy_and_maturity(check, use_case)
    open_requests = ApprovalRequest.objects.filter(
        use_case=use_case, to_stage=stage, status__in=ApprovalStatusChoices.OPEN
    )
    if exclude is not None:
        open_requests = open_requests.exclude(pk=exclude.pk)
    already = open_requests.first()
    if already is not None:
        check.add(
            "to_stage",
            "already_open",
            f"{already.reference} already asks to move {use_case.key} to {stage.label}; "
            "withdraw it or wait for its decision.",
            url=already.get_absolute_url(),
            fix=already.reference,
        )
    return check


def _check_release(check: Preflight, use_case: UseCase, release: Release | None) -> None:
    if release is None:
        check.add("release", "no_release", "Choose the release to approve: an approval covers one release.")
        return
    if release.use_case_id != use_case.pk:
        check.add("release", "other_use_case", f"Release {release.version} belongs to another use case.")
        return
    pinned = (
        release.model_versions.count() + release.prompt_versions.count() + release.dataset_versions.count()
    )
    if not pinned:
        check.add(
            "release",
            "not_pinned",
            f"Release {release.version} pins no model, prompt or dataset version: pin what it runs first.",
        )
    elif not release.pins_digests:
        check.add(
            "release",
            "no_digest",
            f"Release {release.version} pins model or dataset versions without a SHA-256 digest.",
        )


def _check_risk(check: Preflight, use_case: UseCase) -> None:
    check.risk_assessment = RiskAssessment.objects.filter(use_case=use_case).order_by("-version").first()


@dataclass
class _Floor:
    """What a gate asks whatever the risk tier turns out to be: the least of its policies'
    readiness minimums and the checks and evidence every one of them wants. Lets the preflight
    of a use case without a risk assessment still name the maturity blockers that are certain,
    instead of revealing them one round after the risk is answered."""

    min_readiness: Decimal
    mandatory_checks: list[str]
    mandatory_evidence: list[str]


def _floor_of(transition: LifecycleTransition) -> _Floor | None:
    policies = [policy for policy in transition.gate_policies.all() if not policy.blocked]
    if not policies:
        return None
    checks = set.intersection(*(set(policy.mandatory_checks) for policy in policies))
    evidence = set.intersection(*(set(policy.mandatory_evidence) for policy in policies))
    return _Floor(min(policy.min_readiness for policy in policies), sorted(checks), sorted(evidence))


def _check_policy_and_maturity(check: Preflight, use_case: UseCase) -> None:
    tier = use_case.risk_tier
    check.policy = policy_for(check.transition, tier)
    policy = check.policy
    needs_risk = policy.requires_risk_assessment if policy else True
    if needs_risk and (check.risk_assessment is None or tier == RiskTierChoices.UNASSESSED):
        check.add(
            "risk",
            "no_risk_assessment",
            f"{use_case.key} has no risk assessment: answer the risk questionnaire first.",
        )
        if policy is None:
            floor = _floor_of(check.transition)
            if floor is not None:
                _check_maturity(check, use_case, floor, suffix=" whatever its risk tier")
            return
    if policy is None:
        check.add(
            "policy",
            "no_policy",
            f"No gate policy covers {check.transition} for {RiskTierChoices.label(tier).lower()} use cases; "
            "ask the CoE lead to add one.",
        )
        return
    if policy.blocked:
        check.add(
            "policy",
            "blocked",
            f"The gate {check.transition} is closed to {policy.tier_label.lower()} use cases"
            + (f": {policy.description}" if policy.description else "."),
        )
        return
    if not policy.quorum():
        check.add(
            "policy",
            "no_approvers",
            f"The policy for {check.transition} names no approvers; ask the CoE lead.",
        )
    _check_maturity(check, use_case, policy)


def _check_maturity(check: Preflight, use_case: UseCase, policy, *, suffix: str = "") -> None:
    """Maturity and evidence against ``policy`` (a GatePolicy or a _Floor): every blocker."""
    check.maturity = latest_maturity(use_case)
    check.evidence = active_evidence(use_case)
    wants_maturity = policy.min_readiness > 0 or policy.mandatory_checks
    if check.maturity is None:
        if wants_maturity:
            wanted = [f"readiness of at least {policy.min_readiness}"] if policy.min_readiness > 0 else []
            if policy.mandatory_checks:
                wanted.append(f"{', '.join(_check_name(key) for key in policy.mandatory_checks)} met")
            check.add(
                "maturity",
                "no_maturity",
                f"{use_case.key} has no maturity assessment yet: assess it first "
                f"(this gate needs {' and '.join(wanted)}{suffix}).",
            )
    else:
        if check.maturity.readiness < policy.min_readiness:
            check.add(
                "maturity",
                "readiness_below_minimum",
                f"Readiness is {check.maturity.readiness}; this gate needs at least {policy.min_readiness}"
                f"{suffix}.",
            )
        for key in policy.mandatory_checks:
            status = (check.maturity.results.get(key) or {}).get("status", CheckStatusChoices.UNMET)
            if status not in MET_STATUSES:
                check.add(
                    "maturity",
                    "mandatory_check_unmet",
                    f"Mandatory check {_check_name(key)} is {CheckStatusChoices.label(status).lower()}.",
                )
    evidenced = {item.check_key for item in check.evidence}
    for key in policy.mandatory_evidence:
        if key not in evidenced:
            check.add(
                "evidence",
                "evidence_missing",
                f"Mandatory evidence for {_check_name(key)} is missing: attach it.",
                url=reverse("approvals:maturity-evidence-add", args=[use_case.key]) + f"?check={key}",
                fix="Attach evidence",
            )


#
# Snapshot at submission
#


def _release_data(release: Release) -> dict:
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


def _snapshot(check: Preflight) -> dict:
    policy, maturity, risk = check.policy, check.maturity, check.risk_assessment
    register = check.use_case.risk_entries.order_by("pk")
    return {
        "taken_at": timezone.now().isoformat(),
        "policy": {
            "id": policy.pk,
            "transition": str(check.transition),
            "risk_tier": policy.risk_tier,
            "min_readiness": str(policy.min_readiness),
            "mandatory_checks": list(policy.mandatory_checks),
            "mandatory_evidence": list(policy.mandatory_evidence),
            "allows_conditions": policy.allows_conditions,
            "validity_days": policy.validity_days,
            "review_sla_days": policy.review_sla_days,
        },
        "risk": {
            "tier": check.use_case.risk_tier,
            "assessment_id": risk.pk if risk else None,
            "assessment_version": risk.version if risk else None,
            "catalog_version": risk.catalog_version if risk else None,
            "register": [
                {
                    "id": entry.pk,
                    "title": entry.title,
                    "residual_score": entry.residual_score,
                    "status": entry.status,
                }
                for entry in register
            ],
        },
        "maturity": (
            {
                "assessment_id": maturity.pk,
                "version": maturity.version,
                "rubric_version": getattr(maturity, "rubric_version", ""),
                "readiness": str(maturity.readiness),
                "scores": dict(maturity.scores),
                "results": {key: (value or {}).get("status", "") for key, value in maturity.results.items()},
            }
            if maturity is not None
            else None
        ),
        "evidence": [
            {"id": item.pk, "check_key": item.check_key, "kind": item.kind, "sha256": item.sha256}
            for item in check.evidence
        ],
        "release": _release_data(check.release),
    }


def add_business_days(start: datetime, days: int) -> datetime:
    """``days`` working days (Monday to Friday) after ``start``, at the same time of day."""
    current, added = start, 0
    while added < days:
        current += timedelta(days=1)
        if current.weekday() < 5:
            added += 1
    return current


def _event(request: ApprovalRequest, kind: str, actor=None, message: str = "", **data) -> ApprovalEvent:
    event = ApprovalEvent(
        request=request,
        kind=kind,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        message=message,
        data=data,
    )
    event.save()
    audit.record(
        AuditActionChoices.DECISION,
        obj=request,
        message=f"{request.reference} {ApprovalEventChoices.label(kind).lower()}"
        + (f": {message}" if message else ""),
        extra={"event": kind, "event_id": event.pk, **data},
    )
    return event


def _raise_preflight(check: Preflight) -> None:
    if not check.ok:
        raise check.as_error()


#
# Submission, resubmission, withdrawal
#


@transaction.atomic
def approval_request_submit(
    *, use_case: UseCase, release: Release | None, to_stage, actor, summary: str = "",
    recertifies: ApprovalRequest | None = None,
) -> ApprovalRequest:  # fmt: skip
    """Ask for a gate: runs the preflight again under a lock, snapshots policy, scores and
    evidence, freezes the release and tells the eligible reviewers (after commit)."""
    from inventory.services import release_freeze

    # Two submissions for the same use case at once would both pass the "already open" check.
    locked = (
        UseCase.objects.select_for_update(of=("self",))
        .select_related("lifecycle_stage", "owning_team")
        .get(pk=use_case.pk)
    )
    check = gate_preflight(use_case=locked, release=release, to_stage=to_stage, recertifies=recertifies)
    _raise_preflight(check)
    now = timezone.now()
    policy = check.policy
    request = ApprovalRequest(
        use_case=locked,
        release=release,
        transition=check.transition,
        from_stage=check.transition.from_stage,
        to_stage=check.transition.to_stage,
        policy=policy,
        summary=(summary or "").strip(),
        snapshot=_snapshot(check),
        quorum=policy.quorum(),
        requested_by=actor if getattr(actor, "is_authenticated", False) else None,
        recertifies=recertifies,
        submitted_at=now,
        due_at=add_business_days(now, policy.review_sla_days),
    )
    request.full_clean()
    request.save()
    release_freeze(release=release, reason=f"gate request {request.reference}")
    _event(
        request,
        ApprovalEventChoices.SUBMITTED,
        actor,
        f"{locked.key} {release.version} → {request.to_stage.label}"
        + (f" (re-certifies {recertifies.reference})" if recertifies else ""),
        release=release.version,
        evidence_ids=[item["id"] for item in request.snapshot["evidence"]],
    )
    _notify_submitted(request)
    return request


@transaction.atomic
def approval_request_resubmit(
    *, request: ApprovalRequest, actor, summary: str = "", release: Release | None = None
) -> ApprovalRequest:
    """After changes were requested: check again, snapshot again and start a new round
    (possibly with a new release of the same use case)."""
    from inventory.services import release_freeze

    locked = _lock(request)
    if locked.status != ApprovalStatusChoices.CHANGES_REQUESTED:
        raise ValidationError(
            f"{locked.reference} is {locked.status_label.lower()}; only a request sent back for changes is resubmitted."
        )
    release = release or locked.release
    check = gate_preflight(
        use_case=locked.use_case,
        release=release,
        to_stage=locked.to_stage,
        recertifies=locked.recertifies,
        exclude=locked,
    )
    if check.transition is not None and check.transition.pk != locked.transition_id:
        check.add("to_stage", "moved", f"{locked.use_case.key} moved since {locked.reference} was submitted.")
    _raise_preflight(check)
    now = timezone.now()
    locked.release = release
    locked.policy = check.policy
    locked.quorum = check.policy.quorum()
    locked.snapshot = _snapshot(check)
    locked.status = ApprovalStatusChoices.PENDING
    locked.round += 1
    locked.submitted_at = now
    locked.due_at = add_business_days(now, check.policy.review_sla_days)
    if summary.strip():
        locked.summary = summary.strip()
    locked.full_clean()
    locked.save()
    release_freeze(release=release, reason=f"gate request {locked.reference}")
    _event(locked, ApprovalEventChoices.RESUBMITTED, actor, f"round {locked.round}", round=locked.round,
           release=release.version, evidence_ids=[item["id"] for item in locked.snapshot["evidence"]])  # fmt: skip
    _notify_submitted(locked)
    _refresh(request, locked)
    return locked


@transaction.atomic
def approval_request_withdraw(*, request: ApprovalRequest, actor, reason: str = "") -> ApprovalRequest:
    locked = _lock(request)
    if not locked.is_open:
        raise ValidationError(
            f"{locked.reference} is {locked.status_label.lower()}; only open requests are withdrawn."
        )
    locked.status = ApprovalStatusChoices.WITHDRAWN
    locked.decided_at = timezone.now()
    locked.save(update_fields=["status", "decided_at"])
    _event(locked, ApprovalEventChoices.WITHDRAWN, actor, reason.strip())
    _refresh(request, locked)
    return locked


REQUEST_RELATED = (
    "use_case",
    "use_case__owning_team",
    "use_case__lifecycle_stage",
    "transition",
    "from_stage",
    "to_stage",
    "release",
    "policy",
    "requested_by",
)


def _lock(request: ApprovalRequest) -> ApprovalRequest:
    # of=self: PostgreSQL refuses to lock the nullable side of an outer join (requested_by).
    return (
        ApprovalRequest.objects.select_for_update(of=("self",))
        .select_related(*REQUEST_RELATED)
        .get(pk=request.pk)
    )


def _refresh(stale: ApprovalRequest, fresh: ApprovalRequest) -> None:
    """Callers keep using the object they passed in: bring it up to date."""
    if stale is not fresh:
        stale.refresh_from_db()


#
# Decisions
#


@transaction.atomic
def approval_request_decide(
    *, request: ApprovalRequest, actor, decision: str, comment: str = "", conditions: str = ""
) -> ApprovalDecision:
    """Record one reviewer's decision and, when it completes the quorum, approve the request and
    move the use case in the same transaction. Raises ValidationError with a clear message when
    the person may not decide (segregation of duties, not an eligible approver, already decided)
    or the decision is incomplete; nothing is written then."""
    # The lock makes concurrent decisions queue here: each one reads the decisions committed
    # before it, so the quorum is counted once and exactly.
    locked = _lock(request)
    if locked.status != ApprovalStatusChoices.PENDING:
        raise ValidationError(
            f"{locked.reference} is {locked.status_label.lower()}; it is not waiting for decisions."
        )
    if decision not in DecisionChoices.values():
        raise ValidationError(
            {"decision": f"“{decision}” is not a decision; use one of {', '.join(DecisionChoices.values())}."}
        )
    conflict = segregation_conflict(locked, actor)
    if conflict:
        raise ValidationError(conflict)
    roles = eligible_roles(actor, locked.quorum)
    if not roles:
        wanted = ", ".join(ROLE_LABELS.get(role, role) for role in sorted(locked.quorum))
        raise ValidationError(
            f"{locked.reference} needs decisions from: {wanted}. You hold none of these roles."
        )
    if locked.decisions.filter(round=locked.round, decided_by=actor).exists():
        raise ValidationError(f"You already decided on {locked.reference} in this round.")
    comment, conditions = (comment or "").strip(), (conditions or "").strip()
    if decision == DecisionChoices.APPROVE_WITH_CONDITIONS:
        if not locked.snapshot.get("policy", {}).get("allows_conditions", locked.policy.allows_conditions):
            raise ValidationError({"decision": "This gate's policy does not allow approval with conditions."})
        if not conditions:
            raise ValidationError({"conditions": "Write the conditions the approval is given under."})
    elif conditions:
        raise ValidationError({"conditions": "Conditions go with “approve with conditions” only."})
    if decision in (DecisionChoices.REJECT, DecisionChoices.REQUEST_CHANGES) and not comment:
        raise ValidationError({"comment": "Say why, so the requester knows what to do."})
    if len(comment) > COMMENT_MAX_LENGTH or len(conditions) > COMMENT_MAX_LENGTH:
        raise ValidationError({"comment": f"Keep it under {COMMENT_MAX_LENGTH} characters."})
    record = ApprovalDecision(
        request=locked,
        round=locked.round,
        decided_by=actor,
        roles=roles,
        decision=decision,
        comment=comment,
        conditions=conditions,
        decided_at=timezone.now(),
    )
    record.full_clean()
    record.save()
    _event(locked, ApprovalEventChoices.DECIDED, actor, DecisionChoices.label(decision),
           decision=decision, decision_id=record.pk, roles=roles, round=locked.round)  # fmt: skip
    if decision == DecisionChoices.REJECT:
        _close(locked, ApprovalStatusChoices.REJECTED, ApprovalEventChoices.REJECTED, actor, comment)
    elif decision == DecisionChoices.REQUEST_CHANGES:
        locked.status = ApprovalStatusChoices.CHANGES_REQUESTED
        locked.save(update_fields=["status"])
        _event(locked, ApprovalEventChoices.CHANGES_REQUESTED, actor, comment)
        _notify_decided(locked, record)
    else:
        met, _filled = quorum_state(locked.quorum, approving_voters(locked))
        if met:
            _approve(locked, actor)
        else:
            _notify_decided(locked, record)
    _refresh(request, locked)
    return record


def _close(request: ApprovalRequest, status: str, kind: str, actor, message: str) -> None:
    request.status = status
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "decided_at"])
    _event(request, kind, actor, message)
    _notify_outcome(request)


def _approve(request: ApprovalRequest, actor) -> None:
    from approvals.services.lifecycle import apply_stage

    now = timezone.now()
    use_case = (
        UseCase.objects.select_for_update(of=("self",))
        .select_related("lifecycle_stage")
        .get(pk=request.use_case_id)
    )
    renewing = request.recertifies_id is not None
    expected = request.to_stage if renewing else request.from_stage
    if use_case.lifecycle_stage_id != expected.pk:
        raise ValidationError(
            f"{use_case.key} is at {use_case.stage_label} now, not {expected.label}: {request.reference} can no "
            "longer be approved; withdraw it and ask again."
        )
    conditions = [
        decision.conditions
        for decision in request.decisions.filter(
            round=request.round, decision=DecisionChoices.APPROVE_WITH_CONDITIONS
        ).order_by("decided_at", "pk")
    ]
    validity = request.snapshot.get("policy", {}).get("validity_days", request.policy.validity_days)
    request.status = ApprovalStatusChoices.APPROVED
    request.decided_at = now
    request.expires_at = now + timedelta(days=validity) if validity else None
    request.conditions = "\n\n".join(conditions)
    request.save(update_fields=["status", "decided_at", "expires_at", "conditions"])
    _event(
        request,
        ApprovalEventChoices.APPROVED,
        actor,
        "quorum reached" + (" with conditions" if conditions else ""),
        expires_at=request.expires_at.isoformat() if request.expires_at else None,
    )
    if renewing:
        previous = request.recertifies
        _event(previous, ApprovalEventChoices.RECERTIFIED, actor, f"renewed by {request.reference}",
               renewed_by=request.pk)  # fmt: skip
    else:
        before = use_case.lifecycle_stage
        apply_stage(use_case=use_case, stage=request.to_stage)
        _event(request, ApprovalEventChoices.STAGE_CHANGED, actor, f"{before.label} → {request.to_stage.label}",
               from_stage=before.key, to_stage=request.to_stage.key)  # fmt: skip
    _notify_outcome(request)


#
# Comments, revocation, expiry, re-certification
#


@transaction.atomic
def approval_request_comment(
    *, request: ApprovalRequest, actor, body: str, parent: ApprovalComment | None = None
) -> ApprovalComment:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write something to comment."})
    if len(body) > COMMENT_MAX_LENGTH:
        raise ValidationError({"body": f"Keep comments under {COMMENT_MAX_LENGTH} characters."})
    if parent is not None and parent.request_id != request.pk:
        raise ValidationError({"parent": "You can reply only to a comment on the same request."})
    comment = ApprovalComment(
        request=request, parent=parent, author=actor, body=body, created_at=timezone.now()
    )
    comment.full_clean()
    comment.save()
    _event(request, ApprovalEventChoices.COMMENTED, actor, "", comment_id=comment.pk,
           parent_id=parent.pk if parent else None)  # fmt: skip
    return comment


@transaction.atomic
def approval_request_revoke(*, request: ApprovalRequest, actor, reason: str) -> ApprovalRequest:
    """The CoE lead withdraws an approval: it stops covering its release at once. The use case
    keeps its stage (moving it is a separate, deliberate step)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the approval is revoked."})
    locked = _lock(request)
    if locked.status != ApprovalStatusChoices.APPROVED:
        raise ValidationError(
            f"{locked.reference} is {locked.status_label.lower()}; only an approval is revoked."
        )
    locked.status = ApprovalStatusChoices.REVOKED
    locked.revoked_at = timezone.now()
    locked.revoked_by = actor
    locked.revoke_reason = reason
    locked.save(update_fields=["status", "revoked_at", "revoked_by", "revoke_reason"])
    _event(locked, ApprovalEventChoices.REVOKED, actor, reason)
    _notify_outcome(locked)
    _refresh(request, locked)
    return locked


@transaction.atomic
def approval_request_expire(*, request: ApprovalRequest, now: datetime | None = None) -> bool:
    """Mark an approval past its validity as expired (the scan calls this; safe to repeat)."""
    now = now or timezone.now()
    locked = _lock(request)
    if (
        locked.status != ApprovalStatusChoices.APPROVED
        or locked.expires_at is None
        or locked.expires_at > now
    ):
        return False
    locked.status = ApprovalStatusChoices.EXPIRED
    locked.save(update_fields=["status"])
    _event(
        locked, ApprovalEventChoices.EXPIRED, None, f"validity ended {locked.expires_at:%Y-%m-%d %H:%M} UTC"
    )
    _notify_outcome(locked)
    _refresh(request, locked)
    return True


@transaction.atomic
def approval_request_recertify(*, request: ApprovalRequest, actor, summary: str = "") -> ApprovalRequest:
    """Renew an approval (approved or expired, not revoked): a new request for the same release
    and stage, checked against today's policy and decided by its quorum."""
    if request.status not in (ApprovalStatusChoices.APPROVED, ApprovalStatusChoices.EXPIRED):
        raise ValidationError(
            f"{request.reference} is {request.status_label.lower()}; only an approved or expired request is "
            "re-certified."
        )
    return approval_request_submit(
        use_case=request.use_case,
        release=request.release,
        to_stage=request.to_stage,
        actor=actor,
        summary=summary or f"Re-certification of {request.reference}.",
        recertifies=request,
    )


#
# What deployments ask
#


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
    current = _release_data(release)
    previous = _release_data(base) if base is not None else None
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


def parse_readiness(value) -> Decimal:
    """A readiness from a form or payload, with a message naming the field."""
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError({"min_readiness": f"“{value}” is not a number."}) from None
    if not number.is_finite() or number < 0:
        raise ValidationError({"min_readiness": "The minimum readiness is a number of 0 or more."})
    return number


def is_terminal_stage(stage: LifecycleStage) -> bool:
    return stage.kind == StageKindChoices.CLOSED


#
# Notifications (sent after commit by portal.notifications)
#


def _owners(use_case: UseCase) -> list:
    people = [getattr(use_case, field_name) for field_name, _label, _help in OWNERSHIP_ROLES]
    return [person for person in people if person is not None]


def eligible_reviewers(request: ApprovalRequest) -> list:
    """Active people who may decide this request: holders of a required role, minus the
    requester, the owners and the owning team."""
    from django.contrib.auth import get_user_model

    role_names = {role for wanted in request.quorum for role in ROLES_ELIGIBLE_FOR.get(wanted, (wanted,))}
    excluded = {request.requested_by_id, *(person.pk for person in _owners(request.use_case))}
    team_members = request.use_case.owning_team.members.values("pk")
    return list(
        get_user_model()
        .objects.filter(is_active=True, groups__name__in=role_names)
        .exclude(pk__in=[pk for pk in excluded if pk])
        .exclude(pk__in=team_members)
        .distinct()
        .order_by("username")
    )


def _notify_submitted(request: ApprovalRequest) -> None:
    from approvals.services.notifications import notify_request_submitted

    notify_request_submitted(request)


def _notify_decided(request: ApprovalRequest, decision: ApprovalDecision) -> None:
    from approvals.services.notifications import notify_decision

    notify_decision(request, decision)


def _notify_outcome(request: ApprovalRequest) -> None:
    from approvals.services.notifications import notify_outcome

    notify_outcome(request)
