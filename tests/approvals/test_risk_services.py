"""Recording assessments and keeping the register (approvals.services.risk): versions, tiers, rules, audit."""

import datetime

import pytest
from django.core.exceptions import ValidationError

from approvals.choices import RiskLevelChoices
from approvals.models import RiskAssessment, RiskRegisterEntry
from approvals.services import risk as services
from inventory.choices import RiskTierChoices
from inventory.services.usecases import usecase_set_risk_tier
from portal.choices import AuditActionChoices
from portal.models import AppendOnlyError, AuditEntry

pytestmark = pytest.mark.django_db

HIGH_RISK = {"role": "both", "annex_iii_areas": ["employment"]}
LIMITED = {"role": "deployer", "interacts_with_people": True, "genai_risks": ["confabulation"]}


def entries_for(model: str, obj=None):
    entries = AuditEntry.objects.filter(
        content_type__app_label__in=["approvals", "inventory"], content_type__model=model
    )
    return entries.filter(object_id=str(obj.pk)) if obj is not None else entries


def test_recording_saves_version_one_and_sets_the_tier(support_team, file_use_case):
    use_case = file_use_case(support_team)
    assessment = services.risk_assessment_record(
        use_case=use_case, answers=HIGH_RISK, actor=support_team.lead
    )
    assert (assessment.version, assessment.tier, assessment.role) == (1, RiskTierChoices.HIGH, "both")
    assert assessment.assessed_by == support_team.lead
    assert assessment.assessed_at.utcoffset() == datetime.timedelta(0)
    assert assessment.answers["annex_iii_areas"] == ["employment"] and assessment.answers["is_gpai"] is False
    assert assessment.reasons[0]["reference"] == "Art 6(2), Annex III"
    assert use_case.risk_tier == RiskTierChoices.HIGH
    use_case.refresh_from_db()
    assert use_case.risk_tier == RiskTierChoices.HIGH


def test_versions_append_and_the_tier_follows_the_latest(support_team, file_use_case):
    use_case = file_use_case(support_team)
    services.risk_assessment_record(use_case=use_case, answers=HIGH_RISK, actor=support_team.lead)
    second = services.risk_assessment_record(use_case=use_case, answers=LIMITED, actor=support_team.lead)
    assert second.version == 2 and second.genai_risks == ["confabulation"]
    assert list(use_case.risk_assessments.order_by("version").values_list("tier", flat=True)) == [
        "high",
        "limited",
    ]
    use_case.refresh_from_db()
    assert use_case.risk_tier == RiskTierChoices.LIMITED


def test_versions_count_per_use_case(support_team, file_use_case):
    first, second = file_use_case(support_team), file_use_case(support_team, name="Agent assist")
    services.risk_assessment_record(use_case=first, answers=HIGH_RISK, actor=None)
    assert services.risk_assessment_record(use_case=second, answers=HIGH_RISK, actor=None).version == 1


def test_bad_answers_write_nothing(support_team, file_use_case):
    use_case = file_use_case(support_team)
    audit_count = AuditEntry.objects.count()
    with pytest.raises(ValidationError) as error:
        services.risk_assessment_record(
            use_case=use_case,
            answers={"role": "provider", "annex_iii_areas": ["astrology"]},
            actor=support_team.lead,
        )
    assert "'astrology' is not an option" in error.value.message_dict["annex_iii_areas"][0]
    assert not RiskAssessment.objects.exists()
    use_case.refresh_from_db()
    assert use_case.risk_tier == RiskTierChoices.UNASSESSED
    assert AuditEntry.objects.count() == audit_count


def test_an_assessment_is_never_changed(support_team, file_use_case):
    assessment = services.risk_assessment_record(
        use_case=file_use_case(support_team), answers=HIGH_RISK, actor=support_team.lead
    )
    assessment.tier = RiskTierChoices.MINIMAL
    with pytest.raises(AppendOnlyError):
        assessment.save()
    assessment.refresh_from_db()
    assert assessment.tier == RiskTierChoices.HIGH


def test_recording_leaves_an_audit_trail(support_team, file_use_case):
    use_case = file_use_case(support_team)
    assessment = services.risk_assessment_record(
        use_case=use_case, answers=HIGH_RISK, actor=support_team.lead
    )
    created = entries_for("riskassessment", assessment).get()
    assert created.action == AuditActionChoices.CREATE and created.changes["tier"] == {
        "before": None,
        "after": "high",
    }
    tier_change = entries_for("usecase", use_case).filter(action=AuditActionChoices.UPDATE).latest("pk")
    assert tier_change.changes["risk_tier"] == {"before": "unassessed", "after": "high"}


def test_the_tier_is_only_ever_a_known_one(support_team, file_use_case):
    with pytest.raises(ValidationError, match="not a risk tier"):
        usecase_set_risk_tier(use_case=file_use_case(support_team), tier="catastrophic")


#
# The register
#


def add_risk(use_case, owner, **fields):
    values = {
        "title": "Wrong refund amounts",
        "category": "reliability",
        "likelihood": 3,
        "severity": 3,
        **fields,
    }
    return services.register_entry_create(use_case=use_case, actor=owner, owner=owner, **values)


def test_a_new_risk_starts_with_the_residual_equal_to_the_inherent_risk(support_team, file_use_case):
    entry = add_risk(file_use_case(support_team), support_team.lead)
    assert (entry.residual_likelihood, entry.residual_severity) == (3, 3)
    assert (entry.inherent_score, entry.residual_score, entry.inherent_level) == (
        9,
        9,
        RiskLevelChoices.MEDIUM,
    )
    assert entry.status == "open" and entry.created_at.utcoffset() == datetime.timedelta(0)


@pytest.mark.parametrize(
    ("score", "level"),
    [
        (1, "low"),
        (4, "low"),
        (5, "medium"),
        (9, "medium"),
        (10, "high"),
        (16, "high"),
        (20, "critical"),
        (25, "critical"),
    ],
)
def test_levels_band_the_scores(score, level):
    assert RiskLevelChoices.for_score(score) == level


def test_the_residual_risk_may_not_exceed_the_inherent_one(support_team, file_use_case):
    with pytest.raises(ValidationError) as error:
        add_risk(file_use_case(support_team), support_team.lead, residual_likelihood=4, residual_severity=2)
    assert error.value.message_dict["residual_likelihood"] == [
        "The residual likelihood (4) may not exceed the likelihood before mitigation (3)."
    ]
    assert not RiskRegisterEntry.objects.exists()


def test_open_high_and_critical_risks_need_a_review_date(support_team, file_use_case):
    use_case = file_use_case(support_team)
    with pytest.raises(ValidationError) as error:
        add_risk(use_case, support_team.lead, likelihood=4, severity=5)
    assert "An open critical risk (score 20) needs a review date." in error.value.message_dict["review_date"]
    add_risk(use_case, support_team.lead, likelihood=4, severity=5, review_date=datetime.date(2027, 1, 15))
    add_risk(use_case, support_team.lead, likelihood=4, severity=5, status="accepted")
    add_risk(use_case, support_team.lead, likelihood=3, severity=3)  # medium: no date needed
    assert RiskRegisterEntry.objects.count() == 3


def test_the_owner_must_be_active(support_team, file_use_case, make_user):
    departed = make_user("dora", is_active=False)
    use_case = file_use_case(support_team)
    with pytest.raises(ValidationError, match="dora is no longer active"):
        add_risk(use_case, departed)
    entry = add_risk(use_case, support_team.lead)
    with pytest.raises(ValidationError, match="dora is no longer active"):
        services.register_entry_update(entry=entry, actor=support_team.lead, owner=departed)


def test_out_of_range_scores_are_named(support_team, file_use_case):
    with pytest.raises(ValidationError) as error:
        add_risk(file_use_case(support_team), support_team.lead, likelihood=6)
    assert "likelihood" in error.value.message_dict


def test_mitigated_needs_a_mitigation_and_updates_are_audited(support_team, file_use_case):
    entry = add_risk(file_use_case(support_team), support_team.lead)
    with pytest.raises(ValidationError, match="Say how the risk was mitigated"):
        services.register_entry_update(entry=entry, actor=support_team.lead, status="mitigated")
    entry.refresh_from_db()
    services.register_entry_update(
        entry=entry, actor=support_team.lead, status="mitigated", mitigation="Refunds over 100 € need a person.",
        residual_likelihood=1,
    )  # fmt: skip
    entry.refresh_from_db()
    assert (entry.status, entry.residual_score) == ("mitigated", 3)
    update = entries_for("riskregisterentry", entry).filter(action=AuditActionChoices.UPDATE).get()
    assert (
        update.changes["status"] == {"before": "open", "after": "mitigated"}
        and "updated_at" not in update.changes
    )


def test_only_register_fields_change(support_team, legal_team, file_use_case):
    entry = add_risk(file_use_case(support_team), support_team.lead)
    with pytest.raises(ValidationError, match="cannot be changed here: use_case"):
        services.register_entry_update(
            entry=entry, actor=support_team.lead, use_case=file_use_case(legal_team)
        )


def test_deleting_a_risk_is_recorded(support_team, file_use_case):
    entry = add_risk(file_use_case(support_team), support_team.lead)
    pk = entry.pk
    services.register_entry_delete(entry=entry, actor=support_team.lead)
    assert not RiskRegisterEntry.objects.exists()
    assert AuditEntry.objects.filter(
        content_type__model="riskregisterentry", object_id=str(pk), action="delete"
    ).exists()
