"""Every role x every action on governance (the lifecycle, risk, maturity, gates and their requests, notifications), through the UI and the API
(approvals/policies.py)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from approvals.models import (
    APPROVER_ROLES,
    ApprovalComment,
    ApprovalDecision,
    ApprovalEvent,
    FindingEvent,
    GateApproverRequirement,
    GatePolicy,
    LifecycleStage,
    LifecycleTransition,
)
from approvals.services import audits as audit_services
from approvals.services import findings as finding_services
from approvals.services import gate_policies
from approvals.services import gates as gate_services
from approvals.services import lifecycle as lifecycle_services
from approvals.services import maturity as maturity_services
from approvals.services import risk as approvals_services
from portal.models import Notification
from portal.permissions import restrict
from portal.roles import Role
from portal.testing.factories import UserFactory
from portal.testing.permission_matrix import (
    ADMIN_ONLY,
    ALLOW,
    DENY,
    EVERYONE,
    HIDE,
    Endpoint,
    ModelMatrix,
    covers,
    expect,
    table,
    unique,
)
from tests.approvals.finding_fixtures import make_finding
from tests.approvals.gate_fixtures import pinned_release, record_maturity
from tests.inventory.matrix_fixtures import ROLE_HOLDERS_SEE, build_context, check_matrix, file_for_own_team

pytestmark = pytest.mark.django_db


def test_lifecycle_stages():
    check_matrix(
        ModelMatrix(
            name="lifecycle stage",
            model="approvals.lifecyclestage",
            make_object=lambda context: LifecycleStage.objects.create(
                key=unique("stage"), label=unique("Stage"), kind="active", order=99
            ),
            ui={
                "admin-site": Endpoint(
                    "get", lambda stage: f"/admin/approvals/lifecyclestage/{stage.pk}/change/"
                )
            },
            api={"view": Endpoint("get", lambda stage: f"/api/lifecycle-stages/{stage.key}/")},
            expected=table(view=EVERYONE, **{"admin-site": ADMIN_ONLY}),
            api_list="/api/lifecycle-stages/",
            api_identity=lambda stage: stage.key,
        )
    )


#
# Risk classification: assessments and the register follow their use case
#


# The owning team and the CoE assess and keep the register; readers read; nobody else writes.
RISK_WRITERS = expect(
    DENY, admin=ALLOW, coe_lead=ALLOW, coe_reviewer=ALLOW, team_lead=ALLOW, team_member=ALLOW, no_role=HIDE
)
RISK_ADDERS = {**RISK_WRITERS, "no-role": DENY}  # adding asks the roles before any use case


def record_assessment(context, *, visibility="normal"):
    return approvals_services.risk_assessment_record(
        use_case=file_for_own_team(context, visibility=visibility), answers={"role": "deployer"},
        actor=context.users["team-lead"],
    )  # fmt: skip


def add_register_entry(context, *, visibility="normal"):
    return approvals_services.register_entry_create(
        use_case=file_for_own_team(context, visibility=visibility), actor=context.users["team-lead"],
        title=unique("Risk"), category="privacy", likelihood=2, severity=3, owner=context.users["team-lead"],
    )  # fmt: skip


def register_entry_form(context, obj):
    return {"title": unique("Risk"), "description": "", "category": "privacy", "likelihood": 2, "severity": 3,
            "owner": context.users["team-lead"].pk, "mitigation": "", "residual_likelihood": "",
            "residual_severity": "", "review_date": "", "status": "open"}  # fmt: skip


def register_entry_api(context, obj):
    return {"use_case": file_for_own_team(context).key, "title": unique("Risk"), "category": "privacy",
            "likelihood": 2, "severity": 3, "owner": context.users["team-lead"].username}  # fmt: skip


def test_risk_assessments():
    check_matrix(
        ModelMatrix(
            name="risk assessment",
            model="approvals.riskassessment",
            make_object=record_assessment,
            # "record" posts the questionnaire of the assessment's use case: a new version, not a
            # change (the cell's object supplies the use case; "add" would get no object).
            ui={
                "view": Endpoint("get", lambda a: f"/use-cases/{a.use_case.key}/?tab=risk"),
                "record": Endpoint(
                    "post", lambda a: f"/use-cases/{a.use_case.key}/risk/", lambda c, o: {"role": "provider"}
                ),
            },
            api={
                "view": Endpoint("get", lambda a: f"/api/risk-assessments/{a.pk}/"),
                "add": Endpoint(
                    "post",
                    lambda _: "/api/risk-assessments/",
                    lambda c, o: {"use_case": file_for_own_team(c).key, "answers": {"role": "deployer"}},
                ),
            },
            expected=table(view=ROLE_HOLDERS_SEE, record=RISK_WRITERS, add=RISK_ADDERS),
            api_list="/api/risk-assessments/",
        )
    )


def test_risk_register_entries():
    entry_url = "/use-cases/{key}/risk/register/{pk}/{verb}/"
    check_matrix(
        ModelMatrix(
            name="risk entry",
            model="approvals.riskregisterentry",
            make_object=add_register_entry,
            # "add-entry" posts the new-risk form of the entry's use case (see "record" above).
            ui={
                "add-entry": Endpoint(
                    "post", lambda e: f"/use-cases/{e.use_case.key}/risk/register/new/", register_entry_form
                ),
                "change": Endpoint(
                    "post",
                    lambda e: entry_url.format(key=e.use_case.key, pk=e.pk, verb="edit"),
                    register_entry_form,
                ),
                "delete": Endpoint(
                    "post", lambda e: entry_url.format(key=e.use_case.key, pk=e.pk, verb="delete")
                ),
            },
            api={
                "view": Endpoint("get", lambda e: f"/api/risk-register/{e.pk}/"),
                "add": Endpoint("post", lambda _: "/api/risk-register/", register_entry_api),
                "change": Endpoint(
                    "patch", lambda e: f"/api/risk-register/{e.pk}/", lambda c, o: {"severity": 4}
                ),
                "delete": Endpoint("delete", lambda e: f"/api/risk-register/{e.pk}/"),
            },
            expected=table(
                view=ROLE_HOLDERS_SEE,
                add=RISK_ADDERS,
                change=RISK_WRITERS,
                delete=RISK_WRITERS,
                **{"add-entry": RISK_WRITERS},
            ),
            api_list="/api/risk-register/",
        )
    )


def test_risk_of_restricted_use_cases():
    other_teams_hidden = {"other_team_lead": HIDE, "other_team_member": HIDE, "no_role": HIDE}
    for name, model, make, collection in (
        ("restricted risk", "approvals.riskregisterentry", add_register_entry, "/api/risk-register/"),
        ("restricted assmt", "approvals.riskassessment", record_assessment, "/api/risk-assessments/"),
    ):
        check_matrix(
            ModelMatrix(
                name=name,
                model=model,
                make_object=lambda context, make=make: make(context, visibility="restricted"),
                api={"view": Endpoint("get", lambda obj, collection=collection: f"{collection}{obj.pk}/")},
                # Restricted: other teams cannot tell the use case, its risks or its tier exist.
                expected=table(view=expect(ALLOW, **other_teams_hidden)),
                api_list=collection,
            )
        )


#
# Maturity assessment: assessments and evidence follow their use case (like risk)
#


def assess_maturity(context, *, visibility="normal"):
    return maturity_services.maturity_assess(
        use_case=file_for_own_team(context, visibility=visibility), trigger="manual"
    )


def add_evidence(context, *, visibility="normal"):
    return maturity_services.evidence_add(
        use_case=file_for_own_team(context, visibility=visibility), check_key="ownership.handover_plan",
        actor=context.users["team-lead"], note=unique("Plan"),
    )  # fmt: skip


def evidence_form(context, obj):
    return {"check_key": "ownership.handover_plan", "kind": "note", "note": unique("Plan")}


def evidence_api(context, obj):
    return {
        "use_case": file_for_own_team(context).key,
        "check_key": "ownership.handover_plan",
        "note": unique("Plan"),
    }


def test_maturity_assessments():
    check_matrix(
        ModelMatrix(
            name="maturity assmt",
            model="approvals.maturityassessment",
            make_object=assess_maturity,
            # "reassess" posts for the assessment's use case: a new version, never a change.
            ui={
                "view": Endpoint("get", lambda a: f"/use-cases/{a.use_case.key}/?tab=maturity"),
                "reassess": Endpoint("post", lambda a: f"/use-cases/{a.use_case.key}/maturity/assess/"),
                "admin-site": Endpoint(
                    "get", lambda a: f"/admin/approvals/maturityassessment/{a.pk}/change/"
                ),
            },
            api={
                "view": Endpoint("get", lambda a: f"/api/maturity-assessments/{a.pk}/"),
                "summary": Endpoint("get", lambda a: f"/api/use-cases/{a.use_case.key}/maturity/"),
                "reassess": Endpoint("post", lambda a: f"/api/use-cases/{a.use_case.key}/maturity/assess/"),
            },
            expected=table(
                view=ROLE_HOLDERS_SEE,
                summary=ROLE_HOLDERS_SEE,
                reassess=RISK_WRITERS,
                **{"admin-site": ADMIN_ONLY},
            ),
            api_list="/api/maturity-assessments/",
        )
    )


def test_maturity_evidence():
    check_matrix(
        ModelMatrix(
            name="maturity evidence",
            model="approvals.maturityevidence",
            make_object=add_evidence,
            ui={
                "add-evidence": Endpoint(
                    "post", lambda e: f"/use-cases/{e.use_case.key}/maturity/evidence/new/", evidence_form
                ),
                "custom:withdraw": Endpoint(
                    "post", lambda e: f"/use-cases/{e.use_case.key}/maturity/evidence/{e.pk}/withdraw/"
                ),
            },
            api={
                "view": Endpoint("get", lambda e: f"/api/maturity-evidence/{e.pk}/"),
                "add": Endpoint("post", lambda _: "/api/maturity-evidence/", evidence_api),
                "custom:withdraw": Endpoint("post", lambda e: f"/api/maturity-evidence/{e.pk}/withdraw/"),
            },
            # The owning team and the CoE attach and withdraw evidence; readers read; nobody edits.
            expected=table(
                view=ROLE_HOLDERS_SEE,
                add=RISK_ADDERS,
                **{"add-evidence": RISK_WRITERS, "custom:withdraw": RISK_WRITERS},
            ),
            api_list="/api/maturity-evidence/",
        )
    )


def test_maturity_of_restricted_use_cases():
    other_teams_hidden = {"other_team_lead": HIDE, "other_team_member": HIDE, "no_role": HIDE}
    for name, model, make, collection in (
        ("restricted mat.", "approvals.maturityassessment", assess_maturity, "/api/maturity-assessments/"),
        ("restricted evid.", "approvals.maturityevidence", add_evidence, "/api/maturity-evidence/"),
    ):
        check_matrix(
            ModelMatrix(
                name=name,
                model=model,
                make_object=lambda context, make=make: make(context, visibility="restricted"),
                ui={"view": Endpoint("get", lambda obj: f"/use-cases/{obj.use_case.key}/?tab=maturity")},
                api={
                    "view": Endpoint("get", lambda obj, collection=collection: f"{collection}{obj.pk}/"),
                    "summary": Endpoint("get", lambda obj: f"/api/use-cases/{obj.use_case.key}/maturity/"),
                },
                # Restricted: other teams cannot tell the use case or its maturity exist.
                expected=table(
                    view=expect(ALLOW, **other_teams_hidden), summary=expect(ALLOW, **other_teams_hidden)
                ),
                api_list=collection,
            )
        )


#
# Lifecycle editing, gate policies, approval requests and their history, notifications
#


COE_LEAD_WRITES = expect(DENY, admin=ALLOW, coe_lead=ALLOW)


def stage_data(context, obj):
    return {"key": unique("stage").replace("-", "_"), "label": unique("Stage"), "kind": "active", "order": 50,
            "colour": "teal", "description": ""}  # fmt: skip


def make_stage(context):
    return lifecycle_services.stage_create(
        actor=None, key=unique("stage").replace("-", "_"), label=unique("Stage"), kind="active", order=70
    )


def test_lifecycle_editing():
    check_matrix(
        ModelMatrix(
            name="lifecycle stage",
            model="approvals.lifecyclestage",
            make_object=make_stage,
            ui={
                "view": Endpoint("get", lambda stage: "/lifecycle/"),
                "add": Endpoint("post", lambda _: "/lifecycle/stages/new/", stage_data),
                "change": Endpoint("post", lambda stage: f"/lifecycle/stages/{stage.key}/edit/", stage_data),
                "delete": Endpoint("post", lambda stage: f"/lifecycle/stages/{stage.key}/delete/"),
            },
            api={
                "view": Endpoint("get", lambda stage: f"/api/lifecycle-stages/{stage.key}/"),
                "add": Endpoint("post", lambda _: "/api/lifecycle-stages/", stage_data),
                "change": Endpoint(
                    "patch",
                    lambda stage: f"/api/lifecycle-stages/{stage.key}/",
                    lambda c, o: {"label": "Renamed"},
                ),
                "delete": Endpoint("delete", lambda stage: f"/api/lifecycle-stages/{stage.key}/"),
            },
            expected=table(
                view=EVERYONE, add=COE_LEAD_WRITES, change=COE_LEAD_WRITES, delete=COE_LEAD_WRITES
            ),
            ui_list="/lifecycle/",
            api_list="/api/lifecycle-stages/",
            api_identity=lambda stage: stage.key,
            ui_identity=lambda stage: stage.key,
        )
    )
    check_matrix(
        ModelMatrix(
            name="lifecycle move",
            model="approvals.lifecycletransition",
            make_object=lambda context: lifecycle_services.transition_create(
                actor=None, from_stage=make_stage(context), to_stage=make_stage(context), requires_gate=True
            ),
            ui={
                "add": Endpoint(
                    "post",
                    lambda _: "/lifecycle/transitions/new/",
                    lambda c, o: {"from_stage": make_stage(c).key, "to_stage": make_stage(c).key},
                ),
                "change": Endpoint("post", lambda t: f"/lifecycle/transitions/{t.pk}/edit/", lambda c, o: {}),
                "delete": Endpoint("post", lambda t: f"/lifecycle/transitions/{t.pk}/delete/"),
            },
            api={
                "view": Endpoint("get", lambda t: f"/api/lifecycle-transitions/{t.pk}/"),
                "add": Endpoint(
                    "post",
                    lambda _: "/api/lifecycle-transitions/",
                    lambda c, o: {"from_stage": make_stage(c).key, "to_stage": make_stage(c).key},
                ),
                "change": Endpoint(
                    "patch",
                    lambda t: f"/api/lifecycle-transitions/{t.pk}/",
                    lambda c, o: {"requires_gate": False},
                ),
                "delete": Endpoint("delete", lambda t: f"/api/lifecycle-transitions/{t.pk}/"),
            },
            expected=table(
                view=EVERYONE, add=COE_LEAD_WRITES, change=COE_LEAD_WRITES, delete=COE_LEAD_WRITES
            ),
            api_list="/api/lifecycle-transitions/",
        )
    )


def make_gate_policy(context):
    transition = LifecycleTransition.objects.create(
        from_stage=make_stage(context), to_stage=make_stage(context), requires_gate=True
    )
    return gate_policies.gate_policy_save(
        actor=None, transition=transition, risk_tier="", requirements={Role.COE_REVIEWER: 1}
    )


def gate_policy_form(context, obj):
    return {"min_readiness": "1.0", "review_sla_days": 5, "approvers_coe-reviewer": 1}


def gate_policy_api(context, obj):
    transition = LifecycleTransition.objects.create(
        from_stage=make_stage(context), to_stage=make_stage(context), requires_gate=True
    )
    return {"transition": transition.pk, "risk_tier": "", "requirements": {Role.COE_REVIEWER: 1}}


def test_gate_policies():
    check_matrix(
        ModelMatrix(
            name="gate policy",
            model="approvals.gatepolicy",
            make_object=make_gate_policy,
            ui={
                "change": Endpoint("post", lambda p: f"/gates/policies/{p.pk}/edit/", gate_policy_form),
                "delete": Endpoint("post", lambda p: f"/gates/policies/{p.pk}/delete/"),
                "add-page": Endpoint("get", lambda p: "/gates/policies/new/"),
            },
            api={
                "view": Endpoint("get", lambda p: f"/api/gate-policies/{p.pk}/"),
                "add": Endpoint("post", lambda _: "/api/gate-policies/", gate_policy_api),
                "change": Endpoint(
                    "patch", lambda p: f"/api/gate-policies/{p.pk}/", lambda c, o: {"validity_days": 30}
                ),
                "delete": Endpoint("delete", lambda p: f"/api/gate-policies/{p.pk}/"),
            },
            expected=table(
                view=EVERYONE,
                add=COE_LEAD_WRITES,
                change=COE_LEAD_WRITES,
                delete=COE_LEAD_WRITES,
                **{"add-page": COE_LEAD_WRITES},
            ),
            ui_list="/gates/policies/",
            api_list="/api/gate-policies/",
            ui_identity=lambda p: str(p.transition),
        )
    )


def submit_gate_request(context, *, visibility="normal"):
    use_case = file_for_own_team(context, visibility=visibility, submit=True)
    approvals_services.risk_assessment_record(use_case=use_case, answers={"role": "deployer"},
                                              actor=context.users["team-lead"])  # fmt: skip
    release = pinned_release(use_case)
    record_maturity(use_case, "3.5")
    return gate_services.approval_request_submit(
        use_case=use_case, release=release, to_stage="pilot", actor=context.users["team-lead"]
    )


def approved_gate_request(context):
    request = submit_gate_request(context)
    approver = UserFactory(username=unique("approver"), roles=[Role.COE_REVIEWER])
    gate_services.approval_request_decide(request=request, actor=approver, decision="approve")
    request.refresh_from_db()
    return request


OWNING_TEAM_AND = {"team_lead": ALLOW, "team_member": ALLOW}
REQUEST_WRITES_DENIED = expect(DENY, no_role=HIDE)


def test_approval_requests():
    url = "/gates/requests/{pk}/{verb}/"
    api_url = "/api/approval-requests/{pk}/{verb}/"
    check_matrix(
        ModelMatrix(
            name="gate request",
            model="approvals.approvalrequest",
            make_object=submit_gate_request,
            ui={
                "view": Endpoint("get", lambda r: f"/gates/requests/{r.pk}/"),
                "custom:decide": Endpoint(
                    "post", lambda r: url.format(pk=r.pk, verb="decide"), lambda c, o: {"decision": "approve"}
                ),
                "custom:comment": Endpoint(
                    "post", lambda r: url.format(pk=r.pk, verb="comment"), lambda c, o: {"body": "Question"}
                ),
                "custom:withdraw": Endpoint("post", lambda r: url.format(pk=r.pk, verb="withdraw")),
            },
            api={
                "view": Endpoint("get", lambda r: f"/api/approval-requests/{r.pk}/"),
                "add": Endpoint(
                    "post",
                    lambda _: "/api/approval-requests/",
                    lambda c, o: (
                        lambda r: {
                            "use_case": r.use_case.key,
                            "release": pinned_release(r.use_case, unique("v")).pk,
                            "to_stage": "production",
                        }
                    )(approved_gate_request(c)),
                ),
                "events": Endpoint("get", lambda r: f"/api/approval-requests/{r.pk}/events/"),
                "custom:decide": Endpoint(
                    "post",
                    lambda r: api_url.format(pk=r.pk, verb="decide"),
                    lambda c, o: {"decision": "approve"},
                ),
                "custom:comment": Endpoint(
                    "post",
                    lambda r: api_url.format(pk=r.pk, verb="comment"),
                    lambda c, o: {"body": "Question"},
                ),
                "custom:withdraw": Endpoint("post", lambda r: api_url.format(pk=r.pk, verb="withdraw")),
            },
            # Approvers decide (segregation of duties is the service's: see test_gates_services);
            # the owning team asks, comments and withdraws; everyone who sees the use case reads.
            expected=table(
                view=ROLE_HOLDERS_SEE,
                events=ROLE_HOLDERS_SEE,
                add=expect(DENY, admin=ALLOW, **OWNING_TEAM_AND),
                **{
                    "custom:decide": expect(DENY, coe_lead=ALLOW, coe_reviewer=ALLOW, no_role=HIDE),
                    "custom:comment": expect(
                        DENY, admin=ALLOW, coe_lead=ALLOW, coe_reviewer=ALLOW, no_role=HIDE, **OWNING_TEAM_AND
                    ),
                    "custom:withdraw": expect(DENY, admin=ALLOW, no_role=HIDE, **OWNING_TEAM_AND),
                },
            ),
            ui_list="/gates/?view=open",
            api_list="/api/approval-requests/",
            ui_identity=lambda r: f"/gates/requests/{r.pk}/",
        )
    )


def test_approved_requests_revoke_and_recertify():
    api_url = "/api/approval-requests/{pk}/{verb}/"
    check_matrix(
        ModelMatrix(
            name="approval",
            model="approvals.approvalrequest",
            make_object=approved_gate_request,
            ui={
                "custom:revoke": Endpoint(
                    "post", lambda r: f"/gates/requests/{r.pk}/revoke/", lambda c, o: {"reason": "Leak"}
                ),
                "custom:recertify": Endpoint("post", lambda r: f"/gates/requests/{r.pk}/recertify/"),
            },
            api={
                "custom:revoke": Endpoint(
                    "post", lambda r: api_url.format(pk=r.pk, verb="revoke"), lambda c, o: {"reason": "Leak"}
                ),
                "custom:recertify": Endpoint(
                    "post", lambda r: api_url.format(pk=r.pk, verb="recertify"), lambda c, o: {}
                ),
            },
            expected=table(
                **{
                    "custom:revoke": expect(DENY, admin=ALLOW, coe_lead=ALLOW, no_role=HIDE),
                    "custom:recertify": expect(
                        DENY, admin=ALLOW, coe_lead=ALLOW, no_role=HIDE, **OWNING_TEAM_AND
                    ),
                }
            ),
        )
    )


def test_restricted_gate_requests():
    other_teams_hidden = {"other_team_lead": HIDE, "other_team_member": HIDE, "no_role": HIDE}
    check_matrix(
        ModelMatrix(
            name="restricted gate",
            model="approvals.approvalrequest",
            make_object=lambda context: submit_gate_request(context, visibility="restricted"),
            ui={"view": Endpoint("get", lambda r: f"/gates/requests/{r.pk}/")},
            api={"view": Endpoint("get", lambda r: f"/api/approval-requests/{r.pk}/")},
            expected=table(view=expect(ALLOW, **other_teams_hidden)),
            api_list="/api/approval-requests/",
        )
    )


def test_every_required_approver_role_can_open_what_it_must_decide():
    """Issue 10, item 1: security and legal reviewers answered 404 for the requests they were
    notified to decide. Whatever role any policy names, a person holding it opens the request,
    its restricted use case and its evidence, and may decide."""
    from approvals.services import maturity as maturity_services

    named = set(GateApproverRequirement.objects.values_list("role", flat=True)) | set(APPROVER_ROLES)
    assert {Role.SECURITY_REVIEWER, Role.LEGAL_REVIEWER} <= named
    pilot_policy = GatePolicy.objects.get(
        transition__from_stage__key="proposed", transition__to_stage__key="pilot", risk_tier="minimal"
    )
    gate_policies.gate_policy_save(actor=None, policy=pilot_policy, requirements=dict.fromkeys(named, 1))
    context = build_context()
    use_case = file_for_own_team(context, visibility="restricted", submit=True)
    approvals_services.risk_assessment_record(use_case=use_case, answers={"role": "deployer"},
                                              actor=context.users["team-lead"])  # fmt: skip
    maturity_services.evidence_add(use_case=use_case, check_key="ownership.handover_plan",
                                   actor=context.users["team-lead"], note="Handover plan")  # fmt: skip
    record_maturity(use_case, "3.5")
    request = gate_services.approval_request_submit(
        use_case=use_case,
        release=pinned_release(use_case),
        to_stage="pilot",
        actor=context.users["team-lead"],
    )
    assert set(request.quorum) == named
    check_approvers_can_open(request)


def test_approval_events_and_notifications():
    check_matrix(
        ModelMatrix(
            name="approval event",
            model="approvals.approvalevent",
            make_object=lambda context: submit_gate_request(context).events.get(),
            api={"view": Endpoint("get", lambda e: f"/api/approval-events/{e.pk}/")},
            expected=table(view=ROLE_HOLDERS_SEE),
            api_list="/api/approval-events/",
        )
    )
    check_matrix(
        ModelMatrix(
            name="notification",
            model="portal.notification",
            make_object=lambda context: Notification.objects.create(
                key=unique("note"),
                channel="email",
                recipient=context.users["team-member"],
                subject="S",
                body="B",
            ),
            api={"view": Endpoint("get", lambda n: f"/api/notifications/{n.pk}/")},
            expected=table(view=expect(HIDE, admin=ALLOW, team_member=ALLOW)),
            api_list="/api/notifications/",
        )
    )


@covers(
    "approvals.approvaldecision",
    "approvals.approvalcomment",
    "approvals.approvalevent",
    "approvals.gateapproverrequirement",
)
def test_append_only_gate_rows_have_no_writers():
    """Decisions, comments, events and requirement rows have no endpoints of their own: they are
    read with their request or policy and written only through its actions. The choke point
    says the same for every persona."""

    context = build_context()
    request = approved_gate_request(context)
    gate_services.approval_request_comment(request=request, actor=context.users["team-lead"], body="Thanks")
    for model in (ApprovalDecision, ApprovalComment, ApprovalEvent):
        for persona, user in context.users.items():
            visible = restrict(model.objects.filter(request=request), user).exists()
            assert visible == (persona != "no-role"), (model.__name__, persona)
            for action in ("add", "change", "delete"):
                assert not restrict(model.objects.all(), user, action).exists(), (
                    model.__name__,
                    persona,
                    action,
                )
    requirement = GateApproverRequirement.objects.filter(policy=request.policy)
    for persona, user in context.users.items():
        assert restrict(requirement, user).exists()
        assert restrict(requirement, user, "change").exists() == (persona in ("admin", "coe-lead")), persona
    assert GatePolicy.objects.filter(pk=request.policy_id).exists()


def check_approvers_can_open(request) -> None:
    """Every role the request's quorum names can open what it must decide.

    A person holding only that role finds the request in their queue, opens its review page
    with a decision form, its use case (restricted ones included) and the evidence it was
    submitted with, through the UI and the API, and still changes nothing of the use case.
    Without this a policy naming, say, legal reviewers notifies people who then answer 404,
    and its quorum is never reached.
    """
    from approvals.models import MaturityEvidence
    from portal.permissions import Action, can

    use_case = request.use_case
    evidence_ids = [row["id"] for row in request.snapshot.get("evidence", [])]
    assert evidence_ids, "The request under test should carry evidence"
    surprises: list[str] = []
    for role in sorted(request.quorum):
        user = UserFactory(username=f"approver-{role}-{request.pk}", roles=[role])
        ui_client, api_client = Client(), APIClient()
        ui_client.force_login(user)
        api_client.force_authenticate(user)
        queue = ui_client.get("/gates/")
        review = ui_client.get(f"/gates/requests/{request.pk}/")
        cells = {
            "ui queue lists it": queue.status_code == 200 and request.reference in queue.content.decode(),
            "ui review page": review.status_code == 200,
            "ui decision form": "Your decision" in review.content.decode(),
            "ui use case": ui_client.get(f"/use-cases/{use_case.key}/").status_code == 200,
            "ui maturity tab": ui_client.get(f"/use-cases/{use_case.key}/?tab=maturity").status_code == 200,
            "api request": api_client.get(f"/api/approval-requests/{request.pk}/").status_code == 200,
            "api use case": api_client.get(f"/api/use-cases/{use_case.key}/").status_code == 200,
            "api evidence": all(
                api_client.get(f"/api/maturity-evidence/{pk}/").status_code == 200 for pk in evidence_ids
            ),
            "may decide": can(user, "custom:decide", request),
            "sees the evidence": MaturityEvidence.objects.filter(pk__in=evidence_ids).count()
            == len(evidence_ids)
            and all(
                can(user, Action.VIEW, item) for item in MaturityEvidence.objects.filter(pk__in=evidence_ids)
            ),
            "changes nothing": not can(user, Action.CHANGE, use_case),
        }
        surprises.extend(f"{role:<18} {cell}" for cell, passed in cells.items() if not passed)
    assert not surprises, "Approvers who cannot open what they must decide:\n" + "\n".join(surprises)


#
# Audit findings: readers of the use case read them; the owner, the owning team and the CoE work
# them; CoE approvers accept a risk (segregation of duties is the service's: test_findings_services).
#


def finding_for_own_team(context):
    return make_finding(file_for_own_team(context))


def accept_risk_form(context, obj):
    return {
        "reason": "Compensating control",
        "until": (timezone.now() + timedelta(days=30)).date().isoformat(),
    }


def accept_risk_api(context, obj):
    return {"reason": "Compensating control", "until": (timezone.now() + timedelta(days=30)).isoformat()}


FINDING_WORKERS = expect(
    DENY, admin=ALLOW, coe_lead=ALLOW, coe_reviewer=ALLOW, no_role=HIDE, **OWNING_TEAM_AND
)
RISK_ACCEPTERS = expect(DENY, admin=ALLOW, coe_lead=ALLOW, coe_reviewer=ALLOW, no_role=HIDE)


def test_findings():
    url = "/findings/{pk}/{verb}/"
    api_url = "/api/findings/{pk}/{verb}/"
    check_matrix(
        ModelMatrix(
            name="finding",
            model="approvals.finding",
            make_object=finding_for_own_team,
            ui={
                "view": Endpoint("get", lambda f: f"/findings/{f.pk}/"),
                "custom:acknowledge": Endpoint(
                    "post", lambda f: url.format(pk=f.pk, verb="acknowledge"), lambda c, o: {"comment": ""}
                ),
                "custom:resolve": Endpoint(
                    "post", lambda f: url.format(pk=f.pk, verb="resolve"), lambda c, o: {"comment": "Fixed"}
                ),
                "custom:accept_risk": Endpoint(
                    "post", lambda f: url.format(pk=f.pk, verb="accept-risk"), accept_risk_form
                ),
                "custom:comment": Endpoint(
                    "post", lambda f: url.format(pk=f.pk, verb="comment"), lambda c, o: {"body": "Note"}
                ),
            },
            api={
                "view": Endpoint("get", lambda f: f"/api/findings/{f.pk}/"),
                "events": Endpoint("get", lambda f: api_url.format(pk=f.pk, verb="events")),
                "custom:acknowledge": Endpoint(
                    "post", lambda f: api_url.format(pk=f.pk, verb="acknowledge"), lambda c, o: {}
                ),
                "custom:resolve": Endpoint(
                    "post",
                    lambda f: api_url.format(pk=f.pk, verb="resolve"),
                    lambda c, o: {"comment": "Fixed"},
                ),
                "custom:accept_risk": Endpoint(
                    "post", lambda f: api_url.format(pk=f.pk, verb="accept-risk"), accept_risk_api
                ),
                "custom:comment": Endpoint(
                    "post", lambda f: api_url.format(pk=f.pk, verb="comment"), lambda c, o: {"body": "Note"}
                ),
            },
            expected=table(
                view=ROLE_HOLDERS_SEE,
                events=ROLE_HOLDERS_SEE,
                **{
                    "custom:acknowledge": FINDING_WORKERS,
                    "custom:resolve": FINDING_WORKERS,
                    "custom:comment": FINDING_WORKERS,
                    "custom:accept_risk": RISK_ACCEPTERS,
                },
            ),
            ui_list="/findings/?sort=recent",
            api_list="/api/findings/",
            ui_identity=lambda f: f"/findings/{f.pk}/",
        )
    )


def test_portfolio_findings_are_for_the_portfolio_overseers():
    overseers = {
        "admin": ALLOW,
        "coe_lead": ALLOW,
        "coe_reviewer": ALLOW,
        "executive": ALLOW,
        "auditor": ALLOW,
    }
    check_matrix(
        ModelMatrix(
            name="portfolio finding",
            model="approvals.finding",
            make_object=lambda context: make_finding(None, check_id="unallocated-spend"),
            ui={
                "view": Endpoint("get", lambda f: f"/findings/{f.pk}/"),
                "custom:acknowledge": Endpoint("post", lambda f: f"/findings/{f.pk}/acknowledge/"),
            },
            api={"view": Endpoint("get", lambda f: f"/api/findings/{f.pk}/")},
            expected=table(
                view=expect(HIDE, **overseers),
                **{
                    "custom:acknowledge": expect(
                        HIDE, admin=ALLOW, coe_lead=ALLOW, coe_reviewer=ALLOW, executive=DENY, auditor=DENY
                    )
                },
            ),
            ui_list="/findings/?sort=recent",
            api_list="/api/findings/",
            ui_identity=lambda f: f"/findings/{f.pk}/",
        )
    )


def test_restricted_findings_follow_their_use_case_but_reach_their_owner():
    """A finding about a restricted use case is hidden from other teams, except from the person
    it names as owner (the CoE may hand one to someone outside the team)."""
    hidden = {"other_team_lead": HIDE, "other_team_member": HIDE, "no_role": HIDE}
    check_matrix(
        ModelMatrix(
            name="restricted finding",
            model="approvals.finding",
            make_object=lambda context: make_finding(
                file_for_own_team(context, visibility="restricted"), owner=context.users["other-team-member"]
            ),
            ui={
                "view": Endpoint("get", lambda f: f"/findings/{f.pk}/"),
                "custom:acknowledge": Endpoint("post", lambda f: f"/findings/{f.pk}/acknowledge/"),
            },
            api={"view": Endpoint("get", lambda f: f"/api/findings/{f.pk}/")},
            expected=table(
                view=expect(ALLOW, **{**hidden, "other_team_member": ALLOW}),
                **{
                    "custom:acknowledge": {
                        **FINDING_WORKERS,
                        "other-team-member": ALLOW,
                        "other-team-lead": HIDE,
                    }
                },
            ),
            api_list="/api/findings/",
        )
    )


@covers("approvals.findingevent")
def test_finding_events_are_read_with_their_finding_and_written_by_its_actions():
    context = build_context()
    finding = finding_for_own_team(context)
    finding_services.finding_comment(actor=context.users["team-lead"], finding=finding, body="Looking")
    portfolio = make_finding(None, check_id="unallocated-spend")
    finding_services.finding_comment(actor=context.users["coe-lead"], finding=portfolio, body="Tagging")
    overseers = {"admin", "coe-lead", "coe-reviewer", "executive", "auditor"}
    for persona, user in context.users.items():
        assert restrict(FindingEvent.objects.filter(finding=finding), user).exists() == (
            persona != "no-role"
        ), persona
        assert restrict(FindingEvent.objects.filter(finding=portfolio), user).exists() == (
            persona in overseers
        ), persona
        for action in ("add", "change", "delete"):
            assert not restrict(FindingEvent.objects.all(), user, action).exists(), (persona, action)


#
# Audit runs: a use case's runs are read with the use case; the portfolio's by its overseers.
# The owning team, the CoE and admins start a use case's run; only the CoE and admins the
# portfolio's (approvals.policies.may_audit_use_case / may_audit_portfolio).
#

AUDIT_RUNNERS = expect(
    DENY, admin=ALLOW, coe_lead=ALLOW, coe_reviewer=ALLOW, team_lead=ALLOW, team_member=ALLOW
)
PORTFOLIO_OVERSEERS = expect(
    HIDE, admin=ALLOW, coe_lead=ALLOW, coe_reviewer=ALLOW, executive=ALLOW, auditor=ALLOW
)
COE_AND_ADMIN = expect(DENY, admin=ALLOW, coe_lead=ALLOW, coe_reviewer=ALLOW)


def audit_run_of(use_case):
    return audit_services.audit_run_create(actor=None, use_case=use_case, channel="command")


def test_audit_runs():
    check_matrix(
        ModelMatrix(
            name="audit run",
            model="approvals.auditrun",
            make_object=lambda context: audit_run_of(file_for_own_team(context)),
            ui={
                "view": Endpoint("get", lambda run: f"/audits/{run.pk}/"),
                "run-now": Endpoint("post", lambda run: f"/audits/run/?use_case={run.use_case.key}"),
            },
            api={
                "view": Endpoint("get", lambda run: f"/api/audit-runs/{run.pk}/"),
                "add": Endpoint(
                    "post", lambda _: "/api/audit-runs/", lambda c, o: {"use_case": file_for_own_team(c).key}
                ),
            },
            # Someone without a role cannot see the use case at all.
            expected=table(
                view=ROLE_HOLDERS_SEE, add=AUDIT_RUNNERS, **{"run-now": {**AUDIT_RUNNERS, "no-role": HIDE}}
            ),
            ui_list="/audits/",
            api_list="/api/audit-runs/",
            ui_identity=lambda run: f"Audit #{run.pk}</a>",
        )
    )


def test_portfolio_audit_runs():
    check_matrix(
        ModelMatrix(
            name="portfolio audit",
            model="approvals.auditrun",
            make_object=lambda context: audit_run_of(None),
            ui={
                "view": Endpoint("get", lambda run: f"/audits/{run.pk}/"),
                "run-now": Endpoint("post", lambda run: "/audits/run/"),
            },
            api={
                "view": Endpoint("get", lambda run: f"/api/audit-runs/{run.pk}/"),
                "add": Endpoint("post", lambda _: "/api/audit-runs/", lambda c, o: {"use_case": None}),
            },
            expected=table(view=PORTFOLIO_OVERSEERS, add=COE_AND_ADMIN, **{"run-now": COE_AND_ADMIN}),
            ui_list="/audits/",
            api_list="/api/audit-runs/",
            ui_identity=lambda run: f"Audit #{run.pk}</a>",
        )
    )
