"""Preflight: what is missing before a gate request can be submitted, each problem named with
the page where it is fixed. The submit service refuses a request whose preflight fails; the
"Ask for a gate" page and ``/api/approval-requests/preflight/`` show the same list."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.urls import reverse

from approvals.catalogs import maturity as maturity_catalog
from approvals.choices import (
    ApprovalStatusChoices,
    CheckStatusChoices,
)
from approvals.models import (
    ApprovalRequest,
    GatePolicy,
    LifecycleStage,
    LifecycleTransition,
    RiskAssessment,
)
from approvals.selectors.gates import policy_for
from approvals.selectors.maturity import active_evidence, latest_assessment
from inventory.choices import RiskTierChoices
from inventory.models import Release, UseCase

MET_STATUSES = (CheckStatusChoices.VERIFIED, CheckStatusChoices.EVIDENCED)


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


def _check_name(key: str) -> str:
    """A maturity check as people know it: its title (the key is for the API)."""

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
    check.maturity = latest_assessment(use_case)
    check.evidence = sorted(active_evidence(use_case), key=lambda item: (item.check_key, item.pk))
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


PROBLEM_FIELD_LABELS = {
    "use_case": "Use case",
    "to_stage": "Target stage",
    "release": "Release",
    "risk": "Risk",
    "policy": "Gate policy",
    "maturity": "Maturity",
    "evidence": "Evidence",
}
