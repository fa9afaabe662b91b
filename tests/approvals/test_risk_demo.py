"""The demo's risk classifications go through the real questionnaire and classifier."""

from io import StringIO

import pytest
from django.core.management import call_command

from approvals.models import RiskAssessment, RiskRegisterEntry
from inventory.choices import RiskTierChoices
from inventory.models import UseCase

pytestmark = pytest.mark.django_db


def test_demo_risk_tiers_come_from_the_classifier_and_loading_twice_adds_nothing():
    call_command("quickstart", "--no-serve", stdout=StringIO())
    assessments, entries = RiskAssessment.objects.count(), RiskRegisterEntry.objects.count()
    call_command("quickstart", "--no-serve", stdout=StringIO())

    assert (RiskAssessment.objects.count(), RiskRegisterEntry.objects.count()) == (assessments, entries)
    cv_screening = UseCase.objects.get(key="UC-0010")
    assert cv_screening.risk_tier == RiskTierChoices.HIGH
    assert any("Annex III" in reason["reference"] for reason in cv_screening.risk_assessments.get().reasons)
    assert UseCase.objects.get(key="UC-0001").risk_tier == RiskTierChoices.LIMITED
    assert UseCase.objects.get(key="UC-0008").risk_tier == RiskTierChoices.MINIMAL
    open_high = RiskRegisterEntry.objects.get(title__startswith="Screening disadvantages")
    assert open_high.inherent_level_label and open_high.review_date is not None
