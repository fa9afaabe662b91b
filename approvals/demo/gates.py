"""The demo portfolio's gate requests, one story per state the CoE meets (loaded by
``propylon quickstart``):

* UC-0010 CV screening assistant, high risk: piloting approved with conditions by a CoE
  reviewer and security;
* UC-0006 HR policy Q&A: its pilot rejected;
* UC-0008 contact-centre forecast: went to production through its gate almost a year ago, the
  approval expires next week;
* UC-0001 support chatbot: its production gate waits in the reviewers' queue;
* every other pilot of the catalog (and the forecast, before its production gate): its pilot
  gate asked for by the team and approved by a CoE reviewer, weeks or months ago.

Only the two systems that predate Propylon (inventory.demo.ONBOARDED_AT_STAGE) skip the gates:
a CoE lead attested their stage at onboarding.

Every request goes through the real services — preflight, snapshot, quorum, segregation of
duties, the stage change. Where a story needs the use case to be readier than the demo catalog
makes it, the team attaches evidence (a link to its wiki page for that check) before asking,
as a real team would. A demo is loaded in one go, so the stories that need time are then placed
in the past as a whole: the request's submission, deadline, decisions, events, decision time and
expiry move together, and the history stays coherent (the audit trail records that move).
Safe to load again: a use case that already has a gate request is left as it is.
"""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from approvals.choices import AssessmentTriggerChoices, CheckStatusChoices, DecisionChoices
from approvals.models import (
    ApprovalDecision,
    ApprovalEvent,
    ApprovalRequest,
    LifecycleTransition,
)
from approvals.selectors import gates as gate_selectors
from approvals.services import gates, maturity
from approvals.services.risk import risk_assessment_record
from inventory.demo import ONBOARDED_AT_STAGE, USE_CASES
from inventory.models import ModelVersion, PromptVersion, UseCase
from inventory.services import catalog as catalog_services
from portal.dates import add_business_days

WIKI = "https://wiki.example.com"
SUBMISSION_KINDS = ("submitted", "resubmitted")


# Use case → (days ago its pilot gate was asked for, who asked). The pilots started at different
# times, within the pilot approval's 180 days, so none needs re-certifying yet; the forecast piloted
# before its production gate of almost a year ago.
PILOT_GATES = {
    "UC-0001": (150, "lead"),
    "UC-0002": (120, "lead"),
    "UC-0003": (170, "jonas"),
    "UC-0005": (95, "omar"),
    "UC-0007": (60, "sofia"),
    "UC-0008": (430, "sofia"),
}

PILOT_RISK_ANSWERS = {
    "UC-0005": {"role": "both", "interacts_with_people": True, "genai_risks": ["confabulation"]},
}


def load_gates_demo(people: dict) -> None:
    use_cases = UseCase.objects.in_bulk(["UC-0001", "UC-0006", "UC-0008", "UC-0010"], field_name="key")
    # A story is told once: a second load finds its request (the pilot gates below do not count).
    asked = set(
        ApprovalRequest.objects.filter(use_case__in=use_cases.values())
        .exclude(to_stage__key="pilot", use_case__key__in=PILOT_GATES)
        .values_list("use_case__key", flat=True)
    )
    _pilots_through_their_gate(people)
    stories = (
        ("UC-0010", _high_risk_pilot_approved_with_conditions),
        ("UC-0006", _pilot_rejected),
        ("UC-0008", _production_approval_expiring_next_week),
        ("UC-0001", _production_gate_waiting),
    )
    for key, story in stories:
        if key in use_cases and key not in asked:
            story(use_cases[key], people)


def _high_risk_pilot_approved_with_conditions(use_case: UseCase, people: dict) -> None:
    release = _release(
        use_case,
        "0.1.0",
        "git:5d0e2b7",
        "First pilot build: ranks applications against the job profile; recruiters see the reasons.",
    )
    _ready_for(use_case, "pilot", people["hana"])
    request = gates.approval_request_submit(
        use_case=use_case,
        release=release,
        to_stage="pilot",
        actor=people["hana"],
        summary="Pilot with two recruiters on engineering roles for six weeks; no candidate is rejected automatically.",
    )
    gates.approval_request_decide(
        request=request,
        actor=people["reviewer"],
        decision=DecisionChoices.APPROVE_WITH_CONDITIONS,
        comment="Annex III employment system: pilot only under the conditions below.",
        conditions=(
            "A recruiter reviews every ranking before a candidate is contacted; no automated rejection. "
            "Report selection rates by gender and age band at the end of the pilot."
        ),
    )
    gates.approval_request_decide(
        request=request,
        actor=people["security"],
        decision=DecisionChoices.APPROVE,
        comment="CVs stay in the EU tenant; the prompt log is purged after 30 days.",
    )
    _place_in_past(request, submitted_days_ago=19, decided_after=timedelta(days=2, hours=3))


def _pilot_rejected(use_case: UseCase, people: dict) -> None:

    if not use_case.risk_assessments.exists():
        risk_assessment_record(
            use_case=use_case,
            answers={"role": "both", "interacts_with_people": True, "genai_risks": ["confabulation"]},
            actor=people["hana"],
        )
    release = _release(use_case, "0.1.0", "git:1a9c3f0", "Answers from the HR handbook export of 2021.")
    _ready_for(use_case, "pilot", people["hana"])
    request = gates.approval_request_submit(
        use_case=use_case, release=release, to_stage="pilot", actor=people["hana"],
        summary="Answer employees' HR policy questions on the intranet.",
    )  # fmt: skip
    gates.approval_request_decide(
        request=request,
        actor=people["coelead"],
        decision=DecisionChoices.REJECT,
        comment=(
            "The corpus is the 2021 handbook: parental leave and remote work answers would be wrong today. "
            "Nobody owns keeping the content current. Also overlaps with the Knowledge assistant (UC-0005): "
            "talk to the Knowledge Platform team before asking again."
        ),
    )
    _place_in_past(request, submitted_days_ago=41, decided_after=timedelta(days=3, hours=6))


def _production_approval_expiring_next_week(use_case: UseCase, people: dict) -> None:
    release = use_case.releases.get(version="2026.09")
    _ready_for(use_case, "production", people["sofia"])
    request = gates.approval_request_submit(
        use_case=use_case,
        release=release,
        to_stage="production",
        actor=people["sofia"],
        summary="Staffing plans use the forecast from next month; the seasonal-naive baseline stays as fallback.",
    )
    gates.approval_request_decide(
        request=request, actor=people["reviewer"], decision=DecisionChoices.APPROVE,
        comment="Beats the baseline on every queue; rollback drill documented.",
    )  # fmt: skip
    validity = request.policy.validity_days or 365
    # Decided validity - 7 days ago: the approval expires a week from today.
    decided_after = timedelta(days=1, hours=4)
    submitted_days_ago = validity - 7 + decided_after.days
    _place_in_past(request, submitted_days_ago=submitted_days_ago, decided_after=decided_after)


def _production_gate_waiting(use_case: UseCase, people: dict) -> None:
    release = use_case.releases.get(version="0.3.0")
    _ready_for(use_case, "production", people["lead"])
    request = gates.approval_request_submit(
        use_case=use_case,
        release=release,
        to_stage="production",
        actor=people["lead"],
        summary="Pilot deflected 3,100 tickets a month with 92 % satisfaction; the chat says it is an AI on every answer.",
    )
    _place_in_past(request, submitted_days_ago=2, decided_after=None)


def _pilots_through_their_gate(people: dict) -> None:
    """Each catalog use case past intake asks for its pilot gate and a CoE reviewer approves it."""
    past_intake = {
        key for key, _name, _team, _owner, stage, *_rest in USE_CASES if stage not in (None, "proposed")
    }
    wanted = past_intake.intersection(PILOT_GATES).difference(ONBOARDED_AT_STAGE)
    for use_case in UseCase.objects.filter(key__in=wanted, lifecycle_stage__key="proposed").order_by("key"):
        if use_case.approval_requests.exists():
            continue
        days_ago, asker = PILOT_GATES[use_case.key]
        if not use_case.risk_assessments.exists():
            # The pilots the risk demo leaves unclassified answer the questionnaire as their gate asks.
            risk_assessment_record(
                use_case=use_case,
                answers=PILOT_RISK_ANSWERS.get(use_case.key, {"role": "both"}),
                actor=people[asker],
            )
        release = use_case.releases.order_by("created_at").first() or _release(
            use_case, "0.1.0", "git:" + use_case.key.lower().replace("-", ""), "First pilot build."
        )
        _ready_for(use_case, "pilot", people[asker])
        request = gates.approval_request_submit(
            use_case=use_case,
            release=release,
            to_stage="pilot",
            actor=people[asker],
            summary=f"Pilot of {use_case.name} with a small group of users for eight weeks.",
        )
        gates.approval_request_decide(
            request=request, actor=people["reviewer"], decision=DecisionChoices.APPROVE,
            comment="Scope and data are fine for a pilot; report back before asking for production.",
        )  # fmt: skip
        _place_in_past(request, submitted_days_ago=days_ago, decided_after=timedelta(days=2, hours=3))


#
# Helpers
#


def _release(use_case: UseCase, version: str, code_ref: str, notes: str):
    existing = use_case.releases.filter(version=version).first()
    if existing:
        return existing
    # The assistants run on the same hosted model and prompt family as the support chatbot.
    model_version = ModelVersion.objects.filter(sha256__gt="").order_by("pk").first()
    prompt = PromptVersion.objects.order_by("pk").first()
    return catalog_services.release_create(
        use_case=use_case, actor=use_case.accountable_owner, version=version, code_ref=code_ref, notes=notes,
        model_versions=[model_version], prompt_versions=[prompt] if prompt else [],
    )  # fmt: skip


def _ready_for(use_case: UseCase, to_stage: str, actor) -> None:
    """Attach the evidence the gate's policy asks for, then reassess once: each dimension below
    the policy's minimum readiness gets evidence for its unmet checks (0.5 each) until it
    reaches it, and every mandatory check or evidence gets its own."""
    use_case.refresh_from_db()
    transition = LifecycleTransition.objects.get(from_stage=use_case.lifecycle_stage, to_stage__key=to_stage)
    policy = gate_selectors.policy_for(transition, use_case.risk_tier)
    assessment = maturity.maturity_assess(
        use_case=use_case, actor=actor, trigger=AssessmentTriggerChoices.DEMO
    )
    evidenced = set(
        use_case.maturity_evidence.filter(withdrawn_at__isnull=True).values_list("check_key", flat=True)
    )
    wanted = set(policy.mandatory_evidence) | {
        key
        for key in policy.mandatory_checks
        if assessment.results[key]["status"] == CheckStatusChoices.UNMET
    }
    for dimension, score in assessment.scores.items():
        missing = policy.min_readiness - Decimal(score)
        for key, result in sorted(assessment.results.items()):
            if missing <= 0:
                break
            if key.startswith(f"{dimension}.") and result["status"] in (
                CheckStatusChoices.UNMET,
                CheckStatusChoices.PENDING_DATA,
            ):
                wanted.add(key)
                missing -= Decimal("0.5")
    for key in sorted(wanted - evidenced):
        maturity.evidence_add(
            use_case=use_case,
            check_key=key,
            actor=actor,
            url=f"{WIKI}/{use_case.owning_team.slug}/{use_case.key.lower()}/{key.replace('.', '-').replace('_', '-')}",
        )
    maturity.maturity_assess(use_case=use_case, actor=actor, trigger=AssessmentTriggerChoices.DEMO)


def _place_in_past(
    request: ApprovalRequest, *, submitted_days_ago: int, decided_after: timedelta | None
) -> None:
    now = timezone.now()
    submitted = now - timedelta(days=submitted_days_ago)
    decided = submitted + decided_after if decided_after is not None else None
    request.refresh_from_db()
    changes = {
        "submitted_at": submitted,
        "due_at": add_business_days(submitted, request.policy.review_sla_days),
    }
    if request.decided_at is not None and decided is not None:
        changes["decided_at"] = decided
    if request.expires_at is not None and decided is not None:
        changes["expires_at"] = decided + (request.expires_at - request.decided_at)
    ApprovalRequest.objects.filter(pk=request.pk).update(**changes)
    ApprovalEvent.objects.filter(request=request, kind__in=SUBMISSION_KINDS).update(at=submitted)
    if decided is not None:
        ApprovalEvent.objects.filter(request=request).exclude(kind__in=SUBMISSION_KINDS).update(at=decided)
        ApprovalDecision.objects.filter(request=request).update(decided_at=decided)
