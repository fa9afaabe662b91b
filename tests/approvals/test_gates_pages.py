"""The gate pages: asking with a preflight, the queue, the review page and its actions, the
use case's Approvals tab, direct moves, gate policies and the lifecycle editor."""

import json
import re

import pytest

from approvals.choices import ApprovalStatusChoices, DecisionChoices
from approvals.models import ApprovalRequest, GatePolicy, LifecycleStage
from approvals.services import gates
from portal.roles import Role
from tests.approvals.gate_fixtures import pinned_release

pytestmark = pytest.mark.django_db


def submit(use_case, release, to_stage="pilot"):
    return gates.approval_request_submit(
        use_case=use_case, release=release, to_stage=to_stage, actor=use_case.owning_team.lead
    )


def test_asking_shows_what_is_missing_then_submits(client, ready_use_case, support_team):
    use_case, release = ready_use_case("limited", stage="pilot", readiness="1.0", met=())
    client.force_login(support_team.lead)
    page = client.get(f"/use-cases/{use_case.key}/gates/new/")
    assert page.status_code == 200 and b"Ask for a gate" in page.content
    check = client.get(
        f"/use-cases/{use_case.key}/gates/new/", {"to_stage": "production", "release": release.pk}
    )
    text = check.content.decode()
    assert "Not ready yet" in text and "Readiness is 1.0; this gate needs at least 2.0." in text
    refused = client.post(
        f"/use-cases/{use_case.key}/gates/new/", {"to_stage": "production", "release": release.pk}
    )
    assert refused.status_code == 200 and not ApprovalRequest.objects.exists()
    # Submitting with blockers says that nothing was submitted, not only what is missing.
    assert "Not submitted: 3 things to fix first" in refused.content.decode()
    assert "Not ready yet" not in refused.content.decode()

    ready, ready_release = ready_use_case("minimal", name="Invoice matcher")
    response = client.post(f"/use-cases/{ready.key}/gates/new/", {"to_stage": "pilot", "release": ready_release.pk,
                                                                   "summary": "Pilot, 20 agents."})  # fmt: skip
    created = ApprovalRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == created.get_absolute_url()
    tab = client.get(f"/use-cases/{ready.key}/?tab=approvals").content.decode()
    assert created.reference in tab and "Waiting for decisions" in tab


def test_others_may_not_ask(client, ready_use_case, legal_team):
    use_case, _release = ready_use_case("minimal")
    client.force_login(legal_team.lead)
    assert client.get(f"/use-cases/{use_case.key}/gates/new/").status_code == 403


def test_queue_and_review_page(
    client, ready_use_case, reviewers, support_team, django_assert_max_num_queries
):
    use_case, release = ready_use_case("high", stage="pilot")
    request = submit(use_case, release, "production")
    client.force_login(reviewers["ravi"])
    queue = client.get("/gates/").content.decode()
    assert request.reference in queue and "Waiting on me" in queue
    assert request.reference not in client.get("/gates/", {"view": "overdue"}).content.decode()
    assert request.reference in client.get("/gates/", {"view": "open", "tier": "high"}).content.decode()
    assert (
        request.reference not in client.get("/gates/", {"view": "open", "tier": "minimal"}).content.decode()
    )
    with django_assert_max_num_queries(80):
        review = client.get(request.get_absolute_url())
    text = review.content.decode()
    for section in ("Quorum", "Risk", "Maturity", "Evidence", "What changed", "Similar use cases", "No open findings",
                    "No cost attributed yet", "Discussion", "History", "Your decision"):  # fmt: skip
        assert section in text, section
    assert "No earlier approved release" in text
    # The owning team sees the page but no decision form; the lead is told why not.
    client.force_login(support_team.lead)
    assert "Your decision" not in client.get(request.get_absolute_url()).content.decode()


def test_deciding_commenting_and_sod_message_on_the_page(
    client, ready_use_case, reviewers, support_team, make_user
):
    use_case, release = ready_use_case("minimal")
    request = submit(use_case, release)
    insider = make_user("ines", Role.COE_REVIEWER)
    support_team.members.add(insider)
    client.force_login(insider)
    page = client.get(request.get_absolute_url()).content.decode()
    assert "You are a member of Support Automation" in page and "Your decision" not in page
    response = client.post(f"/gates/requests/{request.pk}/decide/", {"decision": "approve"}, follow=True)
    assert "You are a member of Support Automation" in response.content.decode()
    request.refresh_from_db()
    assert request.status == ApprovalStatusChoices.PENDING

    client.force_login(reviewers["ravi"])
    client.post(f"/gates/requests/{request.pk}/comment/", {"body": "Which users?"})
    comment = request.comments.get()
    client.force_login(support_team.lead)
    client.post(f"/gates/requests/{request.pk}/comment/", {"body": "Twenty agents.", "parent": comment.pk})
    assert request.comments.filter(parent=comment).exists()
    client.force_login(reviewers["ravi"])
    response = client.post(f"/gates/requests/{request.pk}/decide/", {"decision": "approve", "comment": "ok"},
                           follow=True)  # fmt: skip
    assert "is approved" in response.content.decode()
    use_case.refresh_from_db()
    assert use_case.lifecycle_stage.key == "pilot"


def test_revoke_and_recertify_on_the_page(client, ready_use_case, reviewers, support_team):
    use_case, release = ready_use_case("minimal")
    request = submit(use_case, release)
    gates.approval_request_decide(request=request, actor=reviewers["ravi"], decision=DecisionChoices.APPROVE)
    client.force_login(support_team.lead)
    response = client.post(f"/gates/requests/{request.pk}/recertify/")
    renewal = ApprovalRequest.objects.get(recertifies=request)
    assert response["Location"] == renewal.get_absolute_url()
    client.force_login(reviewers["ravi"])
    assert client.post(f"/gates/requests/{request.pk}/revoke/", {"reason": "x"}).status_code == 403
    client.force_login(reviewers["carl"])
    response = client.post(f"/gates/requests/{request.pk}/revoke/", {"reason": ""}, follow=True)
    assert "Say why the approval is revoked." in response.content.decode()
    client.post(f"/gates/requests/{request.pk}/revoke/", {"reason": "Data leak."})
    request.refresh_from_db()
    assert request.status == ApprovalStatusChoices.REVOKED


def test_withdraw_and_resubmit_on_the_page(client, ready_use_case, reviewers, support_team):
    use_case, release = ready_use_case("minimal")
    request = submit(use_case, release)
    gates.approval_request_decide(request=request, actor=reviewers["ravi"], decision=DecisionChoices.REQUEST_CHANGES,
                                  comment="Pin the prompt too.")  # fmt: skip
    client.force_login(support_team.lead)
    newer = pinned_release(use_case, "1.1", model_version="2", digest="c" * 64)
    client.post(f"/gates/requests/{request.pk}/resubmit/", {"release": newer.pk})
    request.refresh_from_db()
    assert request.round == 2 and request.release == newer and request.status == ApprovalStatusChoices.PENDING
    client.post(f"/gates/requests/{request.pk}/withdraw/")
    request.refresh_from_db()
    assert request.status == ApprovalStatusChoices.WITHDRAWN


def test_direct_move_from_the_approvals_tab(client, support_team, file_use_case, legal_team):
    use_case = file_use_case(support_team, submit=True)
    client.force_login(support_team.lead)
    tab = client.get(f"/use-cases/{use_case.key}/?tab=approvals").content.decode()
    assert "Move without a gate" in tab and "No gate requests yet" in tab
    response = client.post(f"/use-cases/{use_case.key}/stage/", {"to_stage": "pilot"}, follow=True)
    assert "Choose a stage the use case can move to without a gate." in response.content.decode()
    client.post(f"/use-cases/{use_case.key}/stage/", {"to_stage": "on_hold", "reason": "Budget."})
    use_case.refresh_from_db()
    assert use_case.lifecycle_stage.key == "on_hold"
    client.force_login(legal_team.lead)
    assert client.post(f"/use-cases/{use_case.key}/stage/", {"to_stage": "proposed"}).status_code == 403


def test_gate_policy_pages(client, reviewers, support_team):
    client.force_login(support_team.lead)
    listing = client.get("/gates/policies/").content.decode()
    assert "2 \u00d7 CoE reviewer" in listing and "Art 5 prohibited practices" in listing
    assert client.get("/gates/policies/new/").status_code == 403
    policy = GatePolicy.objects.get(transition__to_stage__key="production", risk_tier="minimal")
    assert client.post(f"/gates/policies/{policy.pk}/edit/", {}).status_code == 403
    client.force_login(reviewers["carl"])
    form = client.get(f"/gates/policies/{policy.pk}/edit/")
    assert form.status_code == 200
    data = {"min_readiness": "1.5", "review_sla_days": 3, "validity_days": 200, "requires_risk_assessment": "on",
            "mandatory_checks": ["documentation.runbook_linked"], "approvers_coe-reviewer": 2}  # fmt: skip
    response = client.post(f"/gates/policies/{policy.pk}/edit/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    policy.refresh_from_db()
    assert (str(policy.min_readiness), policy.validity_days, policy.quorum()) == (
        "1.5",
        200,
        {"coe-reviewer": 2},
    )
    assert policy.mandatory_checks == ["documentation.runbook_linked"]
    response = client.post(f"/gates/policies/{policy.pk}/edit/", {**data, "approvers_coe-reviewer": 0})
    assert response.status_code == 200 and "Name at least one approver role" in response.content.decode()


def test_lifecycle_pages(client, reviewers, support_team):
    client.force_login(support_team.lead)
    assert "Proposed" in client.get("/lifecycle/").content.decode()
    assert client.get("/lifecycle/stages/new/").status_code == 403
    client.force_login(reviewers["carl"])
    response = client.post("/lifecycle/stages/new/", {"key": "review", "label": "Review", "kind": "active",
                                                      "order": 25, "colour": "teal"})  # fmt: skip
    assert response.status_code == 302
    response = client.post("/lifecycle/stages/review/edit/", {"key": "other", "label": "Design review",
                                                              "kind": "active", "order": 25, "colour": "teal"})  # fmt: skip
    assert response.status_code == 302
    assert LifecycleStage.objects.get(key="review").label == "Design review"
    response = client.post("/lifecycle/transitions/new/", {"from_stage": "pilot", "to_stage": "review"})
    assert response.status_code == 302
    response = client.post("/lifecycle/transitions/new/", {"from_stage": "pilot", "to_stage": "review"})
    assert "already exists" in response.content.decode()
    response = client.post("/lifecycle/stages/proposed/delete/", follow=True)
    assert "cannot be deleted" in response.content.decode()


def test_checking_does_not_submit(client, ready_use_case, support_team):
    use_case, release = ready_use_case("minimal")
    client.force_login(support_team.lead)
    data = {"to_stage": "pilot", "release": release.pk, "action": "check"}
    response = client.post(f"/use-cases/{use_case.key}/gates/new/", data)
    assert response.status_code == 200 and "Ready: everything" in response.content.decode()
    assert not ApprovalRequest.objects.exists()


def test_a_refused_decision_keeps_the_choice_and_shows_the_error_at_the_field(
    client, ready_use_case, reviewers
):
    """Issue 10, item 23: a rejected decision form kept nothing and showed only a banner."""
    use_case, release = ready_use_case("minimal")
    request = submit(use_case, release)
    client.force_login(reviewers["ravi"])
    response = client.post(f"/gates/requests/{request.pk}/decide/", {"decision": "reject", "comment": "  "})
    assert response.status_code == 200
    form = response.context["decision_form"]
    assert form["decision"].value() == "reject"
    assert form.errors == {"comment": ["Say why, so the requester knows what to do."]}
    text = response.content.decode()
    assert re.search(r'<input[^>]*value="reject"[^>]*checked', text), "the chosen outcome is kept"
    comment_field = text.split('id="id_comment"', 1)[1].split("</div>", 2)
    assert "Say why, so the requester knows what to do." in "".join(comment_field[:2])
    assert not request.decisions.exists()

    missing = client.post(f"/gates/requests/{request.pk}/decide/", {"comment": "Looks fine"})
    assert missing.status_code == 200
    assert missing.context["decision_form"].errors == {"decision": ["Choose a decision."]}
    assert "Looks fine" in missing.content.decode()


def test_the_preflight_lists_every_blocker_with_a_link(client, support_team, file_use_case):
    """Issue 10, item 17: the page showed one blocker per round (a missing release was a lone
    "required" error; maturity appeared only once the risk was answered)."""
    use_case = file_use_case(support_team, submit=True)
    client.force_login(support_team.lead)
    page = client.post(f"/use-cases/{use_case.key}/gates/new/", {"to_stage": "pilot", "action": "check"})
    text = page.content.decode()
    assert "Not ready yet: 3 things to fix" in text
    for label, link in (
        ("Release", f'href="/use-cases/{use_case.key}/?tab=releases"'),
        ("Risk", f'href="/use-cases/{use_case.key}/risk/"'),
        ("Maturity", f'href="/use-cases/{use_case.key}/?tab=maturity"'),
    ):
        assert f"<strong>{label}</strong>" in text and link in text, label
    assert not ApprovalRequest.objects.exists()


def test_empty_choices_on_asking_say_why_and_link_to_the_fix(client, support_team, file_use_case):
    """Follow-up to issue 10: with no release, or as a draft with no stage to move to, the
    "Release" and "Move to" lists were empty with no word of why."""
    client.force_login(support_team.lead)
    filed = file_use_case(support_team, submit=True)
    text = client.get(f"/use-cases/{filed.key}/gates/new/").content.decode()
    assert f"{filed.key} has no release yet" in text
    assert f'<a href="/use-cases/{filed.key}/?tab=releases">Assemble one on the Releases tab' in text
    assert "is a draft" not in text

    draft = file_use_case(support_team, name="Still a draft")
    text = client.get(f"/use-cases/{draft.key}/gates/new/").content.decode()
    assert f"{draft.key} is a draft, so it has no stage to move from yet" in text
    assert "must be submitted as proposed" in text
    assert f'<a href="/use-cases/{draft.key}/">Submit it as proposed on its page' in text
    # The link leads to the button that does it.
    assert "Submit as proposed" in client.get(f"/use-cases/{draft.key}/").content.decode()
    # The draft's Approvals tab offers no "Ask for a gate" and says why.
    tab = client.get(f"/use-cases/{draft.key}/?tab=approvals").content.decode()
    assert f"{draft.key} is a draft: it enters the lifecycle when it is submitted as proposed" in tab
    assert f"/use-cases/{draft.key}/gates/new/" not in tab

    with_release, release = filed, pinned_release(filed)
    text = client.get(f"/use-cases/{with_release.key}/gates/new/").content.decode()
    assert "has no release yet" not in text and release.version in text


def test_history_shows_people_stages_and_titles_by_name_and_exports_stay_raw(
    client, ready_use_case, reviewers, support_team, make_user
):
    """Issue 10, item 20: history showed `accountable_owner: 9`, `lifecycle_stage: 1 → 2`, raw
    dicts and internal model names; the gate page showed `data_lineage`."""
    from inventory.services import usecases as inventory_services

    use_case, release = ready_use_case("minimal")
    newcomer = make_user("nora", Role.TEAM_MEMBER, first_name="Nora", last_name="North")
    support_team.members.add(newcomer)
    inventory_services.usecase_reassign_owners(
        use_case=use_case, actor=reviewers["ravi"], accountable_owner=newcomer
    )
    request = submit(use_case, release)
    gates.approval_request_decide(request=request, actor=reviewers["ravi"], decision=DecisionChoices.APPROVE)
    proposed, pilot = LifecycleStage.objects.get(key="proposed"), LifecycleStage.objects.get(key="pilot")
    raw_stage = f"{proposed.pk}"

    client.force_login(support_team.lead)
    for url in (f"/history/inventory.usecase/{use_case.pk}/", f"/use-cases/{use_case.key}/?tab=history"):
        text = client.get(url).content.decode()
        assert "Accountable owner" in text and "Nora North" in text, url
        assert f"<del>{proposed.label}</del>" in text and f"<ins>{pilot.label}</ins>" in text, url
        assert "accountable_owner" not in text and f"<del>{raw_stage}</del>" not in text, url

    assessment_history = client.get(
        f"/history/approvals.maturityassessment/{use_case.maturity_assessments.latest('version').pk}/"
    ).content.decode()
    assert "Data &amp; lineage" in assessment_history and "data_lineage" not in assessment_history

    review = client.get(request.get_absolute_url()).content.decode()
    assert "Data &amp; lineage" in review and "<td>data_lineage</td>" not in review
    assert "as CoE reviewer" in review

    auditor = make_user("aksel", Role.AUDITOR)
    client.force_login(auditor)
    log = client.get("/audit/", {"model": "inventory.usecase"}).content.decode()
    assert "Nora North" in log and ">Approval comment<" in log and ">approvals.approvalcomment<" not in log
    exported = b"".join(client.get("/audit/export.json", {"model": "inventory.usecase"}).streaming_content)
    entries = json.loads(exported)["entries"]
    changes = [row["changes"] for row in entries if "accountable_owner" in row["changes"]]
    assert changes and changes[-1]["accountable_owner"]["after"] == newcomer.pk
