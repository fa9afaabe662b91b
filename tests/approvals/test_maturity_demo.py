"""The demo portfolio's maturity assessments: every use case assessed, a trend on a few,
idempotent when loaded again."""

import pytest

from approvals.models import MaturityAssessment, MaturityEvidence
from inventory.models import UseCase
from portal.demo import load_demo_portfolio

pytestmark = pytest.mark.django_db


def test_demo_maturity_is_loaded_once_with_a_trend(django_capture_on_commit_callbacks):
    # The quick start commits, and its eager recompute tasks run then: include them.
    with django_capture_on_commit_callbacks(execute=True):
        load_demo_portfolio()
    assessed = set(MaturityAssessment.objects.values_list("use_case__key", flat=True))
    assert assessed == set(UseCase.objects.values_list("key", flat=True))
    # The maturity demo gives the chatbot three versions; its pilot and production gate requests
    # (the gate demo, loaded after) each reassess it once the evidence the policy asks for is in;
    # its staging deployments (the deployments demo, loaded last) verify "deployments go through
    # a registered target" automatically.
    chatbot = MaturityAssessment.objects.filter(use_case__key="UC-0001").order_by("version")
    assert [item.version for item in chatbot] == [1, 2, 3, 4, 5, 6]
    assert chatbot[5].results["security_access.deployments_via_target"]["status"] == "verified"
    assert chatbot[0].readiness <= chatbot[2].readiness <= chatbot[4].readiness
    assert chatbot[2].results["documentation.model_card"]["status"] == "evidenced"
    counts = (MaturityAssessment.objects.count(), MaturityEvidence.objects.count())
    with django_capture_on_commit_callbacks(execute=True):
        load_demo_portfolio()
    assert (MaturityAssessment.objects.count(), MaturityEvidence.objects.count()) == counts
