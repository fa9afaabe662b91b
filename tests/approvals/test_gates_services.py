"""Gate requests through the services: preflight, snapshot, quorum, segregation of duties,
outcomes, expiry, revocation and re-certification (approvals.services.gates)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from approvals.choices import ApprovalEventChoices, ApprovalStatusChoices, DecisionChoices
from approvals.models import ApprovalDecision, ApprovalRequest, GatePolicy, LifecycleTransition
from approvals.selectors import gates as gate_selectors
from approvals.selectors.preflight import gate_preflight
from approvals.services import gate_policies, gates
from inventory.models.assets import ReleaseFrozen
from portal.models import AuditEntry
from portal.roles import Role, role_groups
from tests.approvals.gate_fixtures import pinned_release, record_maturity

pytestmark = pytest.mark.django_db

APPROVE, REJECT, CHANGES = DecisionChoices.APPROVE, DecisionChoices.REJECT, DecisionChoices.REQUEST_CHANGES


def submit(use_case, release, to_stage="pilot", **kwargs):
    return gates.approval_request_submit(
        use_case=use_case, release=release, to_stage=to_stage, actor=use_case.owning_team.lead, **kwargs
    )


def codes(check):
    return [problem.code for problem in check.problems]


def test_preflight_names_everything_missing(support_team, file_use_case):
    use_case = file_use_case(support_team, submit=True)
    check = gate_preflight(use_case=use_case, release=None, to_stage="pilot")
    assert not check.ok
    # Every blocker at once (issue 10, item 17): without a risk tier the policy is unknown, but
    # what every tier's policy asks (here a maturity assessment) is already certain.
    assert codes(check) == ["no_release", "no_risk_assessment", "no_maturity"]
    assert "whatever its risk tier" in check.problems[2].message
    assert [problem.url for problem in check.problems] == [
        f"/use-cases/{use_case.key}/?tab=releases",
        f"/use-cases/{use_case.key}/risk/",
        f"/use-cases/{use_case.key}/?tab=maturity",
    ]
    record_maturity(use_case, "0.2")
    check = gate_preflight(use_case=use_case, release=None, to_stage="pilot")
    assert codes(check) == ["no_release", "no_risk_assessment", "readiness_below_minimum"]
    assert "needs at least 0.5 whatever its risk tier" in check.problems[2].message
    release = pinned_release(use_case)
    release.model_versions.clear()
    check = gate_preflight(use_case=use_case, release=release, to_stage="pilot")
    assert "not_pinned" in codes(check)
    assert "Release 1.0 pins no model, prompt or dataset version" in check.problems[0].message


def test_preflight_readiness_checks_and_evidence(ready_use_case):
    use_case, release = ready_use_case("limited", stage="pilot", readiness="1.5", met=())
    check = gate_preflight(use_case=use_case, release=release, to_stage="production")
    assert codes(check) == ["readiness_below_minimum", "mandatory_check_unmet", "evidence_missing"]
    assert "Readiness is 1.5; this gate needs at least 2.0." in check.problems[0].message
    assert "“People affected are told they deal with AI”" in check.problems[1].message
    assert check.problems[2].url == (
        f"/use-cases/{use_case.key}/maturity/evidence/new/?check=human_oversight.affected_people_informed"
    )
    data = check.as_data()
    assert data["ok"] is False and data["min_readiness"] == "2.0" and data["readiness"] == "1.5"
    assert data["quorum"] == {Role.COE_REVIEWER: 1, Role.LEGAL_REVIEWER: 1}


def test_preflight_refuses_ungated_unknown_and_prohibited_moves(ready_use_case):
    use_case, release = ready_use_case("minimal")
    assert codes(gate_preflight(use_case=use_case, release=release, to_stage="on_hold")) == ["not_gated"]
    assert codes(gate_preflight(use_case=use_case, release=release, to_stage="production")) == [
        "no_transition"
    ]
    policy = GatePolicy.objects.get(transition__from_stage__key="proposed", transition__to_stage__key="pilot",
                                    risk_tier="prohibited")  # fmt: skip
    assert policy.blocked
    use_case.risk_tier = "prohibited"
    check = gate_preflight(use_case=use_case, release=release, to_stage="pilot")
    assert codes(check) == ["blocked"]
    assert "Art 5 prohibited practices" in check.problems[0].message


def test_submit_snapshots_scores_and_evidence_and_freezes_the_release(ready_use_case, reviewers):
    use_case, release = ready_use_case("minimal")
    request = submit(use_case, release, summary="Pilot with 20 agents.")
    assert request.status == ApprovalStatusChoices.PENDING
    assert request.quorum == {Role.COE_REVIEWER: 1}
    assert request.reference == f"GR-{request.pk}"
    snapshot = request.snapshot
    assert snapshot["maturity"]["readiness"] == "3.5"
    assert snapshot["risk"]["tier"] == "minimal" and snapshot["risk"]["assessment_version"] == 1
    assert snapshot["release"]["model_versions"][0]["sha256"] == "a" * 64
    assert snapshot["policy"]["min_readiness"] == "0.5"
    assert request.due_at > request.submitted_at + timedelta(days=4)
    release.refresh_from_db()
    assert release.is_frozen and request.reference in release.frozen_reason
    release.code_ref = "git:other"
    with pytest.raises(ReleaseFrozen):
        release.save()
    assert list(request.events.values_list("kind", flat=True)) == [ApprovalEventChoices.SUBMITTED]
    assert AuditEntry.objects.filter(action="decision", object_id=str(request.pk)).exists()
    with pytest.raises(ValidationError, match="already asks to move"):
        submit(use_case, release)


def test_one_approval_moves_the_stage_in_the_same_transaction(ready_use_case, reviewers):
    use_case, release = ready_use_case("minimal")
    request = submit(use_case, release)
    gates.approval_request_decide(request=request, actor=reviewers["ravi"], decision=APPROVE, comment="Fine.")
    request.refresh_from_db()
    use_case.refresh_from_db()
    assert request.status == ApprovalStatusChoices.APPROVED
    assert use_case.lifecycle_stage.key == "pilot"
    assert request.expires_at == request.decided_at + timedelta(days=180)
    kinds = list(request.events.values_list("kind", flat=True))
    assert kinds == ["submitted", "decided", "approved", "stage_changed"]
    assert gate_selectors.approval_covering(use_case, release, "pilot") == request
    other = pinned_release(use_case, "2.0")
    assert gate_selectors.approval_covering(use_case, other, "pilot") is None
    assert gate_selectors.approval_covering(use_case, release, "production") is None


def test_high_risk_production_needs_two_coe_one_security_one_legal(ready_use_case, reviewers, make_user):
    use_case, release = ready_use_case("high", stage="pilot")
    request = submit(use_case, release, to_stage="production")
    assert request.quorum == {Role.COE_REVIEWER: 2, Role.SECURITY_REVIEWER: 1, Role.LEGAL_REVIEWER: 1}
    # One person holding two approver roles fills one slot only.
    both = make_user("bea", Role.COE_REVIEWER, Role.SECURITY_REVIEWER)
    for person in (reviewers["ravi"], both, reviewers["lea"]):
        gates.approval_request_decide(request=request, actor=person, decision=APPROVE)
    request.refresh_from_db()
    assert request.status == ApprovalStatusChoices.PENDING
    progress = {
        row["role"]: (row["approved"], row["required"]) for row in gate_selectors.quorum_progress(request)
    }
    assert sum(approved for approved, _ in progress.values()) == 3
    gates.approval_request_decide(request=request, actor=reviewers["sam"], decision=APPROVE)
    request.refresh_from_db()
    use_case.refresh_from_db()
    assert request.status == ApprovalStatusChoices.APPROVED
    assert use_case.lifecycle_stage.key == "production"
    # bea counts as the second CoE reviewer once sam fills the security slot.
    assert gate_selectors.quorum_progress(request)[0] == {
        "role": Role.COE_REVIEWER, "label": "CoE reviewer", "required": 2, "approved": 2,
    }  # fmt: skip


def test_quorum_matching_counts_each_person_once():
    quorum = {"coe-reviewer": 2, "security-reviewer": 1}
    met, filled = gate_selectors.quorum_state(
        quorum, {1: ["coe-reviewer", "security-reviewer"], 2: ["coe-reviewer"]}
    )
    assert not met and sum(filled.values()) == 2
    # A third CoE reviewer frees the dual-role person for the security slot.
    met, filled = gate_selectors.quorum_state(
        quorum, {1: ["coe-reviewer", "security-reviewer"], 2: ["coe-reviewer"], 3: ["coe-reviewer"]}
    )
    assert met and filled == {"coe-reviewer": 2, "security-reviewer": 1}


def test_segregation_of_duties(ready_use_case, reviewers, make_user, support_team):
    use_case, release = ready_use_case("minimal")
    request = submit(use_case, release)
    lead = support_team.lead
    lead.groups.add(*role_groups(Role.COE_REVIEWER))
    lead._propylon_roles = None
    with pytest.raises(ValidationError, match="You asked for GR-"):
        gates.approval_request_decide(request=request, actor=lead, decision=APPROVE)
    sponsor = make_user("sasha", Role.COE_REVIEWER)
    use_case.business_sponsor = sponsor
    use_case.save()
    with pytest.raises(ValidationError, match="You are the business sponsor of UC-"):
        gates.approval_request_decide(request=request, actor=sponsor, decision=APPROVE)
    member = make_user("mo", Role.COE_REVIEWER)
    support_team.members.add(member)
    with pytest.raises(ValidationError, match="You are a member of Support Automation"):
        gates.approval_request_decide(request=request, actor=member, decision=APPROVE)
    with pytest.raises(ValidationError, match="You hold none of these roles"):
        gates.approval_request_decide(request=request, actor=reviewers["sam"], decision=APPROVE)
    assert not ApprovalDecision.objects.exists()
    request.refresh_from_db()
    assert request.status == ApprovalStatusChoices.PENDING


def test_reject_ends_the_request_and_needs_a_reason(ready_use_case, reviewers):
    use_case, release = ready_use_case("minimal")
    request = submit(use_case, release)
    with pytest.raises(ValidationError) as excinfo:
        gates.approval_request_decide(request=request, actor=reviewers["ravi"], decision=REJECT)
    assert "comment" in excinfo.value.message_dict
    gates.approval_request_decide(
        request=request, actor=reviewers["ravi"], decision=REJECT, comment="Duplicate."
    )
    request.refresh_from_db()
    use_case.refresh_from_db()
    assert request.status == ApprovalStatusChoices.REJECTED
    assert use_case.lifecycle_stage.key == "proposed"
    with pytest.raises(ValidationError, match="not waiting for decisions"):
        gates.approval_request_decide(request=request, actor=reviewers["rita"], decision=APPROVE)


def test_request_changes_then_resubmit_starts_a_new_round(ready_use_case, reviewers):
    use_case, release = ready_use_case("high", stage="pilot")
    request = submit(use_case, release, to_stage="production")
    gates.approval_request_decide(request=request, actor=reviewers["ravi"], decision=APPROVE)
    gates.approval_request_decide(
        request=request, actor=reviewers["sam"], decision=CHANGES, comment="Threat model?"
    )
    request.refresh_from_db()
    assert request.status == ApprovalStatusChoices.CHANGES_REQUESTED
    with pytest.raises(ValidationError, match="not waiting for decisions"):
        gates.approval_request_decide(request=request, actor=reviewers["rita"], decision=APPROVE)
    new_release = pinned_release(use_case, "1.1", model_version="2", digest="b" * 64)
    gates.approval_request_resubmit(request=request, actor=use_case.owning_team.lead, release=new_release)
    request.refresh_from_db()
    assert (request.status, request.round, request.release) == (ApprovalStatusChoices.PENDING, 2, new_release)
    # The first round's approval no longer counts; ravi may decide again in round 2.
    assert gate_selectors.quorum_progress(request)[0]["approved"] == 0
    gates.approval_request_decide(request=request, actor=reviewers["ravi"], decision=APPROVE)
    with pytest.raises(ValidationError, match="already decided"):
        gates.approval_request_decide(request=request, actor=reviewers["ravi"], decision=APPROVE)


def test_conditions_only_where_the_policy_allows(ready_use_case, reviewers):
    use_case, release = ready_use_case("minimal")
    request = submit(use_case, release)
    with pytest.raises(ValidationError) as excinfo:
        gates.approval_request_decide(
            request=request, actor=reviewers["ravi"], decision=DecisionChoices.APPROVE_WITH_CONDITIONS
        )
    assert "conditions" in excinfo.value.message_dict
    gates.approval_request_decide(
        request=request, actor=reviewers["ravi"], decision=DecisionChoices.APPROVE_WITH_CONDITIONS,
        conditions="Only 20 agents until the drift dashboard exists.",
    )  # fmt: skip
    request.refresh_from_db()
    assert request.status == ApprovalStatusChoices.APPROVED
    assert request.conditions == "Only 20 agents until the drift dashboard exists."

    other, other_release = ready_use_case("minimal", name="Invoice matcher")
    policy = GatePolicy.objects.get(transition__from_stage__key="proposed", transition__to_stage__key="pilot",
                                    risk_tier="minimal")  # fmt: skip
    gate_policies.gate_policy_save(policy=policy, actor=reviewers["carl"], allows_conditions=False)
    second = submit(other, other_release)
    with pytest.raises(ValidationError, match="does not allow approval with conditions"):
        gates.approval_request_decide(request=second, actor=reviewers["ravi"],
                                      decision=DecisionChoices.APPROVE_WITH_CONDITIONS, conditions="x")  # fmt: skip


def test_expiry_revocation_and_recertification(ready_use_case, reviewers):
    use_case, release = ready_use_case("minimal")
    request = submit(use_case, release)
    gates.approval_request_decide(request=request, actor=reviewers["ravi"], decision=APPROVE)
    request.refresh_from_db()
    # Past its validity the approval covers nothing, even before the scan marks it.
    ApprovalRequest.objects.filter(pk=request.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert gate_selectors.approval_covering(use_case, release, "pilot") is None
    assert gates.approval_request_expire(request=request) is True
    assert gates.approval_request_expire(request=request) is False  # the second scan changes nothing
    request.refresh_from_db()
    assert request.status == ApprovalStatusChoices.EXPIRED

    renewal = gates.approval_request_recertify(request=request, actor=use_case.owning_team.lead)
    assert renewal.recertifies == request and renewal.release == release and renewal.to_stage.key == "pilot"
    gates.approval_request_decide(request=renewal, actor=reviewers["rita"], decision=APPROVE)
    renewal.refresh_from_db()
    use_case.refresh_from_db()
    assert renewal.status == ApprovalStatusChoices.APPROVED and use_case.lifecycle_stage.key == "pilot"
    assert request.events.filter(kind=ApprovalEventChoices.RECERTIFIED).exists()
    assert gate_selectors.approval_covering(use_case, release, "pilot") == renewal

    with pytest.raises(ValidationError) as excinfo:
        gates.approval_request_revoke(request=renewal, actor=reviewers["carl"], reason="  ")
    assert "reason" in excinfo.value.message_dict
    gates.approval_request_revoke(request=renewal, actor=reviewers["carl"], reason="Data leak found.")
    renewal.refresh_from_db()
    assert renewal.status == ApprovalStatusChoices.REVOKED and renewal.revoked_by == reviewers["carl"]
    assert gate_selectors.approval_covering(use_case, release, "pilot") is None
    with pytest.raises(ValidationError, match="only an approved or expired request"):
        gates.approval_request_recertify(request=renewal, actor=use_case.owning_team.lead)


def test_withdraw_and_comments(ready_use_case, reviewers):
    use_case, release = ready_use_case("minimal")
    request = submit(use_case, release)
    first = gates.approval_request_comment(request=request, actor=reviewers["ravi"], body="Which users?")
    reply = gates.approval_request_comment(request=request, actor=use_case.owning_team.lead, body="20 agents.",
                                           parent=first)  # fmt: skip
    assert reply.parent == first and list(first.replies.all()) == [reply]
    with pytest.raises(ValidationError) as excinfo:
        gates.approval_request_comment(request=request, actor=reviewers["ravi"], body="   ")
    assert "body" in excinfo.value.message_dict
    gates.approval_request_withdraw(request=request, actor=use_case.owning_team.lead)
    request.refresh_from_db()
    assert request.status == ApprovalStatusChoices.WITHDRAWN
    with pytest.raises(ValidationError, match="only open requests"):
        gates.approval_request_withdraw(request=request, actor=use_case.owning_team.lead)


def test_approval_fails_cleanly_when_the_use_case_moved_meanwhile(ready_use_case, reviewers):
    from approvals.models import LifecycleStage
    from approvals.services.gates import lifecycle_move

    use_case, release = ready_use_case("minimal")
    request = submit(use_case, release)
    lifecycle_move(use_case=use_case, to_stage=LifecycleStage.objects.get(key="on_hold"), actor=reviewers["carl"],
                   reason="Budget freeze.")  # fmt: skip
    request.refresh_from_db()
    # Moving away withdraws the open request: its approval could no longer apply.
    assert request.status == ApprovalStatusChoices.WITHDRAWN
    assert request.events.last().message == f"{use_case.key} moved to On hold."


def test_policy_validation_names_the_field(reviewers):
    transition = LifecycleTransition.objects.get(from_stage__key="pilot", to_stage__key="production")
    with pytest.raises(ValidationError) as excinfo:
        gate_policies.gate_policy_save(actor=reviewers["carl"], transition=transition, risk_tier="unassessed",
                               mandatory_checks=["no.such_check"], requirements={"coe-reviewer": 1})  # fmt: skip
    assert (
        "Not a check of the maturity rubric: no.such_check"
        in excinfo.value.message_dict["mandatory_checks"][0]
    )
    with pytest.raises(ValidationError) as excinfo:
        gate_policies.gate_policy_save(actor=reviewers["carl"], transition=transition, risk_tier="unassessed",
                               requirements={"team-lead": 1})  # fmt: skip
    assert "not an approver role" in excinfo.value.message_dict["requirements"][0]
    with pytest.raises(ValidationError) as excinfo:
        gate_policies.gate_policy_save(actor=reviewers["carl"], transition=transition, risk_tier="unassessed",
                               requirements={})  # fmt: skip
    assert "Name at least one approver role" in excinfo.value.message_dict["requirements"][0]
    on_hold = LifecycleTransition.objects.get(from_stage__key="pilot", to_stage__key="on_hold")
    with pytest.raises(ValidationError) as excinfo:
        gate_policies.gate_policy_save(
            actor=reviewers["carl"], transition=on_hold, requirements={"coe-reviewer": 1}
        )
    assert "is not gated" in excinfo.value.message_dict["transition"][0]
    assert not GatePolicy.objects.filter(risk_tier="unassessed").exists()
    policy = gate_policies.gate_policy_save(actor=reviewers["carl"], transition=transition, risk_tier="unassessed",
                                    min_readiness="1.0", requirements={"coe-reviewer": 1, "legal-reviewer": 0})  # fmt: skip
    assert policy.quorum() == {"coe-reviewer": 1}


#
# The status table (ApprovalStatusChoices.TRANSITIONS): every move through the services, nothing else
#


def test_every_move_in_the_status_table_is_made_by_a_service(ready_use_case, reviewers):
    made = set()

    def track(request, action):
        request.refresh_from_db()
        before = request.status
        action()
        request.refresh_from_db()
        made.add((before, request.status))

    use_case, release = ready_use_case("minimal")
    lead = use_case.owning_team.lead
    request = submit(use_case, release)
    track(request, lambda: gates.approval_request_decide(request=request, actor=reviewers["ravi"],
                                                         decision=CHANGES, comment="Which users?"))  # fmt: skip
    track(request, lambda: gates.approval_request_resubmit(request=request, actor=lead))
    track(request, lambda: gates.approval_request_withdraw(request=request, actor=lead))

    request = submit(use_case, release)
    track(request, lambda: gates.approval_request_decide(request=request, actor=reviewers["ravi"],
                                                         decision=CHANGES, comment="Which users?"))  # fmt: skip
    track(request, lambda: gates.approval_request_withdraw(request=request, actor=lead))

    request = submit(use_case, release)
    track(request, lambda: gates.approval_request_withdraw(request=request, actor=lead))

    request = submit(use_case, release)
    track(request, lambda: gates.approval_request_decide(request=request, actor=reviewers["ravi"],
                                                         decision=REJECT, comment="Not needed."))  # fmt: skip

    request = submit(use_case, release)
    track(
        request,
        lambda: gates.approval_request_decide(request=request, actor=reviewers["ravi"], decision=APPROVE),
    )
    ApprovalRequest.objects.filter(pk=request.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    track(request, lambda: gates.approval_request_expire(request=request))

    renewal = gates.approval_request_recertify(request=request, actor=lead)
    track(
        renewal,
        lambda: gates.approval_request_decide(request=renewal, actor=reviewers["rita"], decision=APPROVE),
    )
    track(
        renewal,
        lambda: gates.approval_request_revoke(request=renewal, actor=reviewers["carl"], reason="Leak."),
    )

    table = {
        (source, target)
        for source, targets in ApprovalStatusChoices.TRANSITIONS.items()
        for target in targets
    }
    assert made == table
    assert set(ApprovalStatusChoices.TRANSITIONS) == set(ApprovalStatusChoices.values())


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (source, target)
        for source in ApprovalStatusChoices.values()
        for target in ApprovalStatusChoices.values()
        if not ApprovalStatusChoices.may_move(source, target)
    ],
)
def test_a_move_not_in_the_status_table_is_refused(source, target):
    request = ApprovalRequest(pk=7, status=source)
    with pytest.raises(ValidationError) as excinfo:
        request.move_to(target)
    assert excinfo.value.messages == [
        f"GR-7 cannot move from “{ApprovalStatusChoices.label(source)}” to “{ApprovalStatusChoices.label(target)}”."
    ]
    assert request.status == source
