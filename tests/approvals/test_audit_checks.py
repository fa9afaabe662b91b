"""Approvals' audit checks, each called directly with an AuditScope: a positive case, a negative
case, the scope of one use case, and a query count that does not grow with the portfolio."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from approvals.catalogs import maturity as maturity_catalog
from approvals.choices import ApprovalStatusChoices, DecisionChoices
from approvals.models import ApprovalRequest
from approvals.services import gates
from inventory.choices import HumanOversightChoices, RiskTierChoices
from inventory.models import UseCase
from inventory.selectors import duplicates
from inventory.services import usecases as usecase_services
from portal import auditing
from tests.approvals.audit_check_helpers import (
    approve_to_production,
    assert_check_queries_do_not_grow,
    observe,
)
from tests.approvals.gate_fixtures import move_to, record_maturity

pytestmark = pytest.mark.django_db

APPROVALS_CHECKS = (
    "orphaned-owner",
    "approval-expired",
    "approval-expiring",
    "stale-maturity",
    "duplicate-efforts",
    "high-risk-without-oversight",
    "pilot-stalled",
)


def test_every_check_is_registered_and_cites_real_controls():
    registered = {check.id: check for check in auditing.checks()}
    for check_id in (*APPROVALS_CHECKS, "budget-overrun", "unallocated-spend", "production-without-approval"):
        check = registered[check_id]
        assert check.title and check.description
        unknown = [control for control in check.controls if control not in maturity_catalog.CHECKS]
        assert not unknown, f"{check_id} cites controls the maturity catalog does not have: {unknown}"
    assert registered["unallocated-spend"].per_use_case is False
    assert registered["production-without-approval"].severity == "critical"


#
# orphaned-owner
#


def test_orphaned_owner_reports_a_departed_owner_for_the_coe(support_team, file_use_case):
    kept = file_use_case(support_team, submit=True, name="Kept")
    departed_owner = support_team.members.get(username="priya")
    orphaned = file_use_case(support_team, owner=departed_owner, submit=True, name="Orphaned")
    draft = file_use_case(support_team, owner=departed_owner, name="A draft of theirs")
    retired = file_use_case(support_team, owner=departed_owner, submit=True, name="Retired")
    move_to(retired, "retired")
    departed_owner.is_active = False
    departed_owner.save()

    found = observe("orphaned-owner")
    # Drafts count (someone must finish or drop them); retired use cases no longer do.
    assert set(found) == {orphaned.key, draft.key}
    observation = found[orphaned.key]
    assert observation.owned_by_coe and observation.use_case_id == orphaned.pk
    assert "no longer active" in observation.detail
    assert orphaned.key in observation.link and observation.link.endswith("?tab=ownership")

    assert observe("orphaned-owner", use_case=kept) == {}
    assert set(observe("orphaned-owner", use_case=orphaned)) == {orphaned.key}


def test_orphaned_owner_reports_an_owner_outside_the_team(support_team, legal_team, file_use_case):
    use_case = file_use_case(support_team, submit=True)
    UseCase.objects.filter(pk=use_case.pk).update(accountable_owner=legal_team.lead)
    found = observe("orphaned-owner")
    assert "not a member of Support Automation" in found[use_case.key].detail


def test_orphaned_owner_queries_do_not_grow(support_team, file_use_case, make_user):
    def orphan(name):
        person = make_user(f"gone-{name}")
        support_team.members.add(person)
        use_case = file_use_case(support_team, owner=person, submit=True, name=name)
        person.is_active = False
        person.save()
        return use_case

    orphan("first")
    assert_check_queries_do_not_grow("orphaned-owner", lambda: [orphan("second"), orphan("third")])


#
# approval-expired, approval-expiring
#


@pytest.fixture
def in_production(ready_use_case, reviewers):
    def make(name="Support chatbot"):
        use_case, release = ready_use_case("minimal", stage="pilot", name=name)
        return use_case, approve_to_production(use_case, release, reviewers)

    return make


def test_approval_expired_reports_a_lapsed_approval_until_it_is_recertified(in_production, reviewers):
    use_case, approval = in_production()
    other, _ = in_production(name="Other")
    assert observe("approval-expired") == {}

    ApprovalRequest.objects.filter(pk=approval.pk).update(expires_at=timezone.now() - timedelta(days=1))
    key = f"{use_case.key}:{approval.reference}"
    # Lapsed by its date, before the gate scan marks it expired; and once marked.
    assert set(observe("approval-expired")) == {key}
    gates.approval_request_expire(request=approval)
    found = observe("approval-expired")
    assert (
        set(found) == {key} and found[key].use_case_id == use_case.pk and "tab=approvals" in found[key].link
    )
    assert observe("approval-expired", use_case=other) == {}
    assert set(observe("approval-expired", use_case=use_case)) == {key}
    # The lapse is not "in production without approval" too: one finding per problem.
    assert use_case.key not in observe("production-without-approval")

    approval.refresh_from_db()
    renewal = gates.approval_request_recertify(request=approval, actor=use_case.owning_team.lead)
    for person in reviewers.values():
        renewal.refresh_from_db()
        if renewal.status != ApprovalStatusChoices.PENDING:
            break
        try:
            gates.approval_request_decide(request=renewal, actor=person, decision=DecisionChoices.APPROVE)
        except ValidationError:  # a reviewer whose role the quorum does not need
            continue
    assert observe("approval-expired") == {}


def test_approval_expiring_warns_until_a_recertification_is_open(in_production, settings):
    settings.PROPYLON_AUDIT_EXPIRY_WARNING_DAYS = 30
    use_case, approval = in_production()
    other, other_approval = in_production(name="Other")
    ApprovalRequest.objects.filter(pk=other_approval.pk).update(
        expires_at=timezone.now() + timedelta(days=90)
    )
    ApprovalRequest.objects.filter(pk=approval.pk).update(expires_at=timezone.now() + timedelta(days=10))

    key = f"{use_case.key}:{approval.reference}"
    found = observe("approval-expiring")
    assert set(found) == {key}
    assert found[key].severity is None and found[key].data["days_left"] == 9
    assert observe("approval-expiring", use_case=other) == {}
    # Seen from 70 days later, the other one is inside the window too.
    later = observe("approval-expiring", now=timezone.now() + timedelta(days=70))
    assert f"{other.key}:{other_approval.reference}" in later

    approval.refresh_from_db()
    gates.approval_request_recertify(request=approval, actor=use_case.owning_team.lead)
    assert observe("approval-expiring") == {}


def _expire_in(days, *approvals):
    ApprovalRequest.objects.filter(pk__in=[approval.pk for _use_case, approval in approvals]).update(
        expires_at=timezone.now() + timedelta(days=days)
    )


def test_approval_expired_queries_do_not_grow(in_production):
    _expire_in(-1, in_production(name="First"))
    more = [in_production(name="Second"), in_production(name="Third")]
    assert_check_queries_do_not_grow("approval-expired", lambda: _expire_in(-1, *more))


def test_approval_expiring_queries_do_not_grow(in_production):
    _expire_in(5, in_production(name="First"))
    more = [in_production(name="Second"), in_production(name="Third")]
    assert_check_queries_do_not_grow("approval-expiring", lambda: _expire_in(5, *more))


#
# stale-maturity
#


def test_stale_maturity_reports_missing_and_old_assessments(support_team, file_use_case, settings):
    settings.PROPYLON_AUDIT_MATURITY_STALE_DAYS = 180
    never = file_use_case(support_team, submit=True, name="Never assessed")
    move_to(never, "pilot")
    fresh = file_use_case(support_team, submit=True, name="Fresh")
    move_to(fresh, "pilot")
    record_maturity(fresh, "2.0")
    intake = file_use_case(support_team, submit=True, name="Still at intake")

    found = observe("stale-maturity")
    assert set(found) == {never.key}
    assert "never assessed" in found[never.key].detail and "tab=maturity" in found[never.key].link
    assert intake.key not in found

    later = observe("stale-maturity", now=timezone.now() + timedelta(days=181))
    assert set(later) == {never.key, fresh.key}
    assert "last assessed" in later[fresh.key].title
    assert set(observe("stale-maturity", use_case=fresh, now=timezone.now() + timedelta(days=181))) == {
        fresh.key
    }
    assert observe("stale-maturity", use_case=fresh) == {}


def test_stale_maturity_queries_do_not_grow(support_team, file_use_case):
    def piloting(name):
        use_case = file_use_case(support_team, submit=True, name=name)
        move_to(use_case, "pilot")
        record_maturity(use_case, "1.0")
        record_maturity(use_case, "1.5")

    piloting("First")
    later = timezone.now() + timedelta(days=365)
    assert_check_queries_do_not_grow(
        "stale-maturity", lambda: [piloting("Second"), piloting("Third")], now=later
    )


#
# duplicate-efforts
#

DOC_SEARCH = (
    ("Knowledge assistant", "Answers employees' questions from the intranet, Confluence pages and internal "
     "documentation, citing the pages it used (retrieval-augmented generation over our documents).",
     ["search", "rag", "knowledge", "documents"]),
    ("Enterprise search", "Lets employees search internal documents, the wiki and Confluence in plain "
     "language and get answers with links to the pages.", ["search", "documents"]),
    ("DocFinder", "Employees find answers in our internal documentation and knowledge base by asking "
     "questions; retrieval over the intranet documents.", ["search", "documents", "knowledge"]),
)  # fmt: skip


@pytest.fixture
def doc_search(support_team, legal_team, file_use_case):
    def make(count=3, suffix=""):
        teams = (support_team, legal_team, support_team)
        return [
            file_use_case(teams[index % 3], submit=True, name=name + suffix, purpose=purpose, tags=tags)
            for index, (name, purpose, tags) in enumerate(DOC_SEARCH[:count])
        ]

    return make


def test_duplicate_efforts_one_observation_per_pair_not_per_chain(doc_search, support_team, file_use_case):
    first, second, third = doc_search()
    unrelated = file_use_case(
        support_team, submit=True, name="Invoice fraud scoring",
        purpose="Scores incoming supplier invoices for fraud before they are paid.", tags=["finance"],
    )  # fmt: skip
    found = observe("duplicate-efforts")
    pairs = {f"{a.key}+{b.key}" for a, b in ((first, second), (first, third), (second, third))}
    assert set(found) == pairs
    observation = found[f"{first.key}+{second.key}"]
    assert observation.owned_by_coe and observation.use_case_id == first.pk
    assert observation.data["use_cases"] == [first.key, second.key]
    assert all(unrelated.key not in key for key in found)

    # One use case's run sees its own pairs only; an unrelated one sees none.
    assert set(observe("duplicate-efforts", use_case=third)) == {
        f"{first.key}+{third.key}",
        f"{second.key}+{third.key}",
    }
    assert observe("duplicate-efforts", use_case=unrelated) == {}

    # A pair marked "not a duplicate" is gone; the others stay.
    usecase_services.mark_not_duplicate(
        first=first, second=second, actor=support_team.lead, reason="Different users."
    )
    assert set(observe("duplicate-efforts")) == pairs - {f"{first.key}+{second.key}"}


def test_duplicate_efforts_reports_each_use_cases_closest_partners_not_every_pair(
    support_team, file_use_case
):
    name, purpose, tags = DOC_SEARCH[0]
    alike = [
        file_use_case(support_team, submit=True, name=f"{name} {n}", purpose=purpose, tags=tags)
        for n in range(6)
    ]
    found = observe("duplicate-efforts")
    # Six look-alikes are 15 pairs; each use case keeps its closest few, and none is left out.
    assert 3 < len(found) < 15
    assert {key for subject in found for key in subject.split("+")} == {use_case.key for use_case in alike}


def test_duplicate_efforts_queries_do_not_grow(doc_search):
    doc_search(count=2)
    # Every run rebuilds the index (the worst case): a cached index would hide nothing either.
    assert_check_queries_do_not_grow(
        "duplicate-efforts", lambda: doc_search(count=3, suffix=" two"), before_each=duplicates.clear_cache
    )


#
# high-risk-without-oversight
#


def test_high_risk_without_oversight(support_team, file_use_case):
    automated = file_use_case(
        support_team, submit=True, name="Automated CV ranking",
        risk_tier=RiskTierChoices.HIGH, human_oversight=HumanOversightChoices.NONE,
    )  # fmt: skip
    supervised = file_use_case(
        support_team, submit=True, name="Supervised CV ranking",
        risk_tier=RiskTierChoices.HIGH, human_oversight=HumanOversightChoices.IN_THE_LOOP,
    )  # fmt: skip
    file_use_case(
        support_team, submit=True, name="Automated but minimal", human_oversight=HumanOversightChoices.NONE
    )
    undeclared = file_use_case(support_team, submit=True, name="Undeclared", risk_tier=RiskTierChoices.HIGH)
    UseCase.objects.filter(pk=undeclared.pk).update(human_oversight="")

    found = observe("high-risk-without-oversight")
    assert set(found) == {automated.key, undeclared.key}
    assert "fully automated" in found[automated.key].title
    assert "no oversight mode declared" in found[undeclared.key].title
    assert observe("high-risk-without-oversight", use_case=supervised) == {}
    assert set(observe("high-risk-without-oversight", use_case=automated)) == {automated.key}


def test_high_risk_without_oversight_queries_do_not_grow(support_team, file_use_case):
    def automated(name):
        file_use_case(support_team, submit=True, name=name, risk_tier=RiskTierChoices.HIGH,
                      human_oversight=HumanOversightChoices.NONE)  # fmt: skip

    automated("First")
    assert_check_queries_do_not_grow(
        "high-risk-without-oversight", lambda: [automated("Second"), automated("Third")]
    )


#
# pilot-stalled
#


@override_settings(PROPYLON_AUDIT_PILOT_STALLED_DAYS=120)
def test_pilot_stalled_counts_from_the_last_stage_move(support_team, file_use_case):
    pilot = file_use_case(support_team, submit=True, name="Pilot")
    move_to(pilot, "pilot")
    proposed = file_use_case(support_team, submit=True, name="Still proposed")

    assert observe("pilot-stalled") == {}
    later = timezone.now() + timedelta(days=121)
    found = observe("pilot-stalled", now=later)
    assert set(found) == {f"{pilot.key}:pilot"}
    assert found[f"{pilot.key}:pilot"].data["days"] >= 120
    assert observe("pilot-stalled", use_case=proposed, now=later) == {}
    assert set(observe("pilot-stalled", use_case=pilot, now=later)) == {f"{pilot.key}:pilot"}

    # Moved on and back: the clock starts again at the latest move.
    move_to(pilot, "production")
    move_to(pilot, "pilot")
    assert observe("pilot-stalled", now=timezone.now() + timedelta(days=100)) == {}


def test_pilot_stalled_queries_do_not_grow(support_team, file_use_case):
    def pilot(name):
        use_case = file_use_case(support_team, submit=True, name=name)
        move_to(use_case, "pilot")

    pilot("First")
    later = timezone.now() + timedelta(days=365)
    assert_check_queries_do_not_grow("pilot-stalled", lambda: [pilot("Second"), pilot("Third")], now=later)
