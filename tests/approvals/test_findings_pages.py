"""Finding pages as the personas use them: the list and its filters, counts and sorting; the
detail with what explains the finding and the actions each person may take; the use case's
Findings tab; the home page's card and the nav link; query counts that do not grow."""

from datetime import timedelta

import pytest
from django.utils import timezone

from approvals.choices import FindingStatusChoices
from approvals.services import findings as services
from inventory.services import usecases as usecase_services
from portal import auditing
from portal.choices import SeverityChoices
from portal.roles import Role, role_groups
from portal.testing.queries import assert_queries_do_not_grow
from tests.approvals.finding_fixtures import make_finding

pytestmark = pytest.mark.django_db

CHECK_ID = "test-findings-page-check"
if auditing.check_for(CHECK_ID) is None:

    @auditing.register_check(
        id=CHECK_ID,
        title="A check the page explains",
        severity=SeverityChoices.HIGH,
        controls=("ownership.accountable_owner",),
        description="Why this matters: nobody answers for the use case.",
    )
    def _page_check(scope):
        return []


@pytest.fixture
def use_case(support_team, file_use_case):
    return file_use_case(support_team)


@pytest.fixture
def other_use_case(legal_team, file_use_case):
    return file_use_case(legal_team, name="Contract reader")


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


#
# The list
#


def test_the_list_shows_live_findings_by_default_with_counts_by_severity(login, reviewer, use_case):
    live = make_finding(use_case, title="Live and high")
    acknowledged = make_finding(use_case, status=FindingStatusChoices.ACKNOWLEDGED, title="Acknowledged one")
    resolved = make_finding(use_case, status=FindingStatusChoices.RESOLVED, title="Resolved long ago")
    make_finding(use_case, severity=SeverityChoices.CRITICAL, title="Critical one")
    client = login(reviewer)
    response = client.get("/findings/")
    page = response.content.decode()
    assert "<title>Findings" in page
    assert live.title in page and acknowledged.title in page and resolved.title not in page
    counts = {row["value"]: row["count"] for row in response.context["counts"]}
    assert counts == {"critical": 1, "high": 2, "medium": 0, "low": 0}
    assert resolved.title in _page(client, "/findings/?status=all")
    assert resolved.title in _page(client, "/findings/?status=resolved")
    assert live.title not in _page(client, "/findings/?status=resolved")


def test_the_filters_live_in_the_query_string(login, reviewer, support_team, use_case, other_use_case):
    mine = make_finding(use_case, title="Owned by lena")
    theirs = make_finding(other_use_case, title="Owned by jonas", check_id="stale-assessment")
    overdue = make_finding(use_case, due_in_days=-2, title="Past its date", severity=SeverityChoices.LOW)
    portfolio = make_finding(None, check_id="unallocated-spend", title="Untagged spend")
    client = login(reviewer)
    cases = {
        "/findings/?severity=low": {overdue},
        "/findings/?check=stale-assessment": {theirs},
        f"/findings/?team={support_team.slug}": {mine, overdue},
        f"/findings/?use_case={other_use_case.key}": {theirs},
        "/findings/?overdue=true": {overdue},
        "/findings/?owner=coe": {portfolio},
    }
    everything = {mine, theirs, overdue, portfolio}
    for url, wanted in cases.items():
        page = _page(client, url)
        shown = {finding for finding in everything if f"/findings/{finding.pk}/" in page}
        assert shown == wanted, url
    lena = login(support_team.lead)
    page = _page(lena, "/findings/?owner=me")
    assert mine.title in page and overdue.title in page and theirs.title not in page


def test_sorting_by_due_date_and_severity(login, reviewer, use_case):
    late = make_finding(use_case, severity=SeverityChoices.LOW, due_in_days=1, title="Low due tomorrow")
    severe = make_finding(
        use_case, severity=SeverityChoices.CRITICAL, due_in_days=3, title="Critical in three days"
    )
    client = login(reviewer)
    by_severity = list(client.get("/findings/").context["page"].object_list)
    assert by_severity == [severe, late]
    assert list(client.get("/findings/?sort=due").context["page"].object_list) == [late, severe]
    assert list(client.get("/findings/?sort=-due").context["page"].object_list) == [severe, late]


def test_the_list_pages_and_answers_htmx_with_its_results_only(login, reviewer, use_case):
    for _ in range(52):
        make_finding(use_case)
    client = login(reviewer)
    first = client.get("/findings/")
    assert first.context["page"].paginator.num_pages == 2
    assert "Page 1 of 2" in first.content.decode()
    partial = client.get("/findings/?severity=high", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="finding-results")
    body = partial.content.decode()
    assert 'id="finding-results"' in body and "<title>" not in body


def test_people_see_the_findings_of_the_use_cases_they_read(login, support_team, legal_team, use_case, other_use_case,
                                                            executive, auditor, make_user):  # fmt: skip
    ours = make_finding(use_case, title="About our chatbot")
    restricted = make_finding(
        usecase_services.usecase_create(
            actor=legal_team.lead, owning_team=legal_team, accountable_owner=legal_team.lead, name="Secret",
            purpose="Reads secret contracts for the legal team.", ai_kind="generative", data_sensitivity="pii",
            visibility="restricted",
        ),
        title="About a restricted one",
    )  # fmt: skip
    portfolio = make_finding(None, check_id="unallocated-spend", title="Untagged spend")
    member = support_team.members.exclude(pk=support_team.lead_id).get()
    seen = {
        member: {ours},
        executive: {ours, restricted, portfolio},
        auditor: {ours, restricted, portfolio},
    }
    for person, wanted in seen.items():
        page = _page(login(person), "/findings/")
        shown = {finding for finding in (ours, restricted, portfolio) if finding.title in page}
        assert shown == wanted, person.username
    assert login(member).get(f"/findings/{restricted.pk}/").status_code == 404


#
# One finding
#


def test_the_detail_explains_the_finding_and_offers_the_owner_acknowledge_and_resolve(
    login, support_team, use_case
):
    finding = make_finding(use_case, check_id=CHECK_ID, due_in_days=-1)
    client = login(support_team.lead)
    page = _page(client, f"/findings/{finding.pk}/")
    assert f"<title>Finding #{finding.pk}" in page
    assert "A check the page explains" in page and "nobody answers for the use case" in page
    assert "ownership.accountable_owner" in page and "overdue" in page
    assert use_case.get_absolute_url() in page and support_team.lead.display_name in page
    assert "Acknowledge" in page and "Resolve" in page and "next audit run reopens" in page
    assert "Accept the risk" not in page
    response = client.post(f"/findings/{finding.pk}/acknowledge/", {"comment": "On it"})
    assert response.status_code == 302
    finding.refresh_from_db()
    assert finding.status == FindingStatusChoices.ACKNOWLEDGED
    # A resolve without a comment shows the service's message at the field, nothing changes.
    response = client.post(f"/findings/{finding.pk}/resolve/", {"comment": ""})
    assert response.status_code == 200
    assert "Say what was done to resolve it." in response.content.decode()
    finding.refresh_from_db()
    assert finding.status == FindingStatusChoices.ACKNOWLEDGED
    client.post(f"/findings/{finding.pk}/resolve/", {"comment": "Named a new owner"})
    client.post(f"/findings/{finding.pk}/comment/", {"body": "Checked with HR"})
    page = _page(client, f"/findings/{finding.pk}/")
    for text in ("Acknowledged", "On it", "Resolved by hand", "Named a new owner", "Checked with HR"):
        assert text in page
    assert f'action="/findings/{finding.pk}/resolve/"' not in page  # resolved: nothing left to resolve


def test_a_coe_reviewer_accepts_a_risk_and_sees_errors_at_the_fields(login, reviewer, use_case):
    finding = make_finding(use_case)
    client = login(reviewer)
    page = _page(client, f"/findings/{finding.pk}/")
    assert "Accept the risk" in page and "at most 365 days" in page
    too_far = (timezone.now() + timedelta(days=400)).date().isoformat()
    response = client.post(f"/findings/{finding.pk}/accept-risk/", {"reason": "Fine", "until": too_far})
    assert response.status_code == 200 and "at most 365 days" in response.content.decode()
    until = (timezone.now() + timedelta(days=30)).date().isoformat()
    assert (
        client.post(f"/findings/{finding.pk}/accept-risk/", {"reason": "", "until": until}).status_code == 200
    )
    assert (
        client.post(
            f"/findings/{finding.pk}/accept-risk/", {"reason": "Vendor fix", "until": until}
        ).status_code
        == 302
    )
    finding.refresh_from_db()
    assert finding.status == FindingStatusChoices.RISK_ACCEPTED
    assert "Vendor fix" in _page(client, f"/findings/{finding.pk}/")


def test_an_approver_on_the_owning_team_is_told_why_they_may_not_accept(login, support_team, use_case):
    member = support_team.members.exclude(pk=support_team.lead_id).get()
    member.groups.add(*role_groups(Role.COE_REVIEWER))
    finding = make_finding(use_case)
    page = _page(login(member), f"/findings/{finding.pk}/")
    assert "the owning team never accepts its own risk" in page
    assert f'action="/findings/{finding.pk}/accept-risk/"' not in page


@pytest.mark.parametrize("persona", ["executive", "auditor"])
def test_readers_see_no_action_forms(request, login, use_case, persona):
    finding = make_finding(use_case)
    page = _page(login(request.getfixturevalue(persona)), f"/findings/{finding.pk}/")
    assert finding.title in page
    for verb in ("acknowledge", "resolve", "accept-risk", "comment"):
        assert f'action="/findings/{finding.pk}/{verb}/"' not in page


#
# The use case's tab, the home page, the navigation
#


def test_the_use_case_tab_lists_live_findings_and_links_to_all(login, support_team, use_case, file_use_case):
    live = make_finding(use_case, title="Still open")
    resolved = make_finding(use_case, status=FindingStatusChoices.RESOLVED, title="Fixed last month")
    client = login(support_team.lead)
    page = _page(client, f"/use-cases/{use_case.key}/?tab=findings")
    assert live.title in page and resolved.title not in page
    assert f"/findings/?use_case={use_case.key}&amp;status=all" in page
    quiet = file_use_case(support_team, name="Quiet one")
    assert "appear here" in _page(client, f"/use-cases/{quiet.key}/?tab=findings")


def test_home_shows_the_findings_you_own_and_the_coe_its_own(
    login, support_team, use_case, reviewer, make_user
):
    make_finding(use_case)
    make_finding(use_case, due_in_days=-1)
    escalated = make_finding(use_case, due_in_days=-3)
    services.finding_escalate(finding=escalated)
    make_finding(None, check_id="unallocated-spend")
    lena = login(support_team.lead).get("/")
    assert lena.context["findings_home"]["owned"] == 3 and lena.context["findings_home"]["owned_overdue"] == 2
    page = lena.content.decode()
    assert "Findings you own" in page and "/findings/?owner=me" in page and "Owned by the CoE" not in page
    coe = login(reviewer).get("/")
    figures = coe.context["findings_home"]
    assert figures["coe_owned"] == 1 and figures["escalated"] == 1 and figures["owned"] == 0
    assert "Owned by the CoE" in coe.content.decode()
    nobody = make_user("nora", Role.TEAM_MEMBER)
    assert "findings_home" not in login(nobody).get("/").context


def test_everyone_with_a_role_finds_the_findings_in_the_navigation(login, team_member, make_user):
    labels = [item.label for item in login(team_member).get("/").context["nav_items"]]
    assert "Findings" in labels
    nobody = make_user("noone")
    assert "Findings" not in [item.label for item in login(nobody).get("/").context["nav_items"]]


#
# Query counts
#


def test_the_list_detail_tab_and_home_do_not_query_per_finding(
    login, support_team, use_case, other_use_case, reviewer
):
    finding = make_finding(use_case)
    services.finding_comment(actor=support_team.lead, finding=finding, body="First")

    def grow():
        for index in range(12):
            severity = SeverityChoices.values()[index % 4]
            make_finding(use_case if index % 2 else other_use_case, severity=severity, due_in_days=index - 6)
            make_finding(None, check_id="unallocated-spend")
            services.finding_comment(actor=support_team.lead, finding=finding, body=f"Note {index}")

    urls = [
        "/findings/",
        "/findings/?status=all&sort=due",
        f"/findings/{finding.pk}/",
        f"/use-cases/{use_case.key}/?tab=findings",
        "/",
    ]
    assert_queries_do_not_grow(login(reviewer), urls, grow)


def test_admins_and_the_coe_lead_start_the_escalation_from_the_list(login, admin_user, reviewer, make_user, use_case,
                                                                   django_capture_on_commit_callbacks):  # fmt: skip
    overdue = make_finding(use_case, due_in_days=-1)
    assert "Escalate overdue findings now" not in _page(login(reviewer), "/findings/")
    coe_lead = make_user("cora", Role.COE_LEAD)
    client = login(coe_lead)
    assert "Escalate overdue findings now" in _page(client, "/findings/")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/jobs/start/", {"task": "approvals.escalate_findings"})
    assert response.status_code == 302
    overdue.refresh_from_db()
    assert overdue.escalated_at is not None
