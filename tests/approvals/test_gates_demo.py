"""The demo's gate requests: one story per state, through the real services, loaded once."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from approvals.choices import ApprovalStatusChoices, DecisionChoices
from approvals.demo.gates import PILOT_GATES
from approvals.models import ApprovalRequest
from approvals.selectors import gates as gate_selectors
from approvals.selectors import metrics
from inventory.demo import ONBOARDED_AT_STAGE
from inventory.models import Release, UseCase
from operations.models import Deployment

pytestmark = pytest.mark.django_db

STORIES = (("UC-0010", "pilot"), ("UC-0006", "pilot"), ("UC-0008", "production"), ("UC-0001", "production"))


def test_demo_gate_stories_and_loading_twice_adds_nothing():
    call_command("quickstart", "--no-serve", stdout=StringIO())
    call_command("quickstart", "--no-serve", stdout=StringIO())
    every = {
        (request.use_case.key, request.to_stage.key): request
        for request in ApprovalRequest.objects.select_related("use_case", "to_stage")
    }
    assert len(every) == ApprovalRequest.objects.count() == 4 + len(PILOT_GATES)
    now = timezone.now()

    # Every pilot got there through its gate; only the two systems older than Propylon were
    # attested at their stage at onboarding.
    for key in PILOT_GATES:
        pilot_gate = every[(key, "pilot")]
        assert pilot_gate.status == ApprovalStatusChoices.APPROVED and pilot_gate.decisions.exists()
    attested = UseCase.objects.filter(onboarding_attested=True)
    assert sorted(attested.values_list("key", flat=True)) == sorted(ONBOARDED_AT_STAGE)
    moved_by_gates = UseCase.objects.exclude(key__in=ONBOARDED_AT_STAGE).exclude(lifecycle_stage=None)
    moved_by_gates = moved_by_gates.exclude(lifecycle_stage__key="proposed")
    for use_case in moved_by_gates:
        assert ApprovalRequest.objects.filter(
            use_case=use_case, to_stage=use_case.lifecycle_stage, status=ApprovalStatusChoices.APPROVED
        ).exists(), use_case.key
    # No release claims a deployment that never happened: each one frozen by a deployment names it.
    for release in Release.objects.filter(frozen_reason__icontains="deployment"):
        number = release.frozen_reason.removeprefix("deployment #").split()[0]
        assert Deployment.objects.filter(pk=int(number), release=release).exists(), release.frozen_reason

    requests = {key: every[(key, stage)] for key, stage in STORIES}

    cv_screening = requests["UC-0010"]
    assert (cv_screening.status, cv_screening.use_case.risk_tier) == (ApprovalStatusChoices.APPROVED, "high")
    assert cv_screening.conditions and cv_screening.use_case.lifecycle_stage.key == "pilot"
    assert {d.decision for d in cv_screening.decisions.all()} == {
        DecisionChoices.APPROVE_WITH_CONDITIONS,
        DecisionChoices.APPROVE,
    }

    hr_qa = requests["UC-0006"]
    assert hr_qa.status == ApprovalStatusChoices.REJECTED and hr_qa.use_case.lifecycle_stage.key == "proposed"

    forecast = requests["UC-0008"]
    assert forecast.status == ApprovalStatusChoices.APPROVED
    assert now + timedelta(days=6) < forecast.expires_at < now + timedelta(days=8)
    assert gate_selectors.approval_covering(forecast.use_case, forecast.release, "production") == forecast

    chatbot = requests["UC-0001"]
    assert chatbot.status == ApprovalStatusChoices.PENDING and not chatbot.decisions.exists()
    assert chatbot.submitted_at < now - timedelta(days=1)

    # The backdated histories are coherent: every event of a request lies between its
    # submission and its decision, and the CoE metrics read them.
    for request in every.values():
        end = request.decided_at or now
        assert all(request.submitted_at <= event.at <= end for event in request.events.all())
    result = metrics.coe_metrics(since=(now - timedelta(days=60)).date())
    # Decided in the last 60 days: the HR Q&A's rejection, the CV screening's approval and the
    # call-quality pilot's gate.
    assert result["decided"] == 3 and result["queue_now"]["waiting"] == 1


def test_the_review_page_shows_the_cost_so_far_to_those_who_may_see_it(client):
    from django.contrib.auth import get_user_model
    from django.db.models import Sum

    from costs.models import CostAllocation

    call_command("quickstart", "--no-serve", stdout=StringIO())
    chatbot = ApprovalRequest.objects.get(use_case__key="UC-0001", to_stage__key="production")
    # The Costs tab's arithmetic: the exact sum, rounded to the cent once (costs.money).
    from costs.money import cents, exact

    monthly = (
        CostAllocation.objects.filter(use_case=chatbot.use_case)
        .values("period", "cost_kind")
        .annotate(amount=Sum("effective_cost"))
    )
    allocated = cents(sum((exact(row["amount"]) for row in monthly), Decimal(0)))
    assert allocated > 0

    client.force_login(get_user_model().objects.get(username="reviewer"))
    page = client.get(chatbot.get_absolute_url()).content.decode()
    assert "Cost so far" in page and "USD" in page
    assert f"<strong>{allocated:,} USD</strong>" in page

    # Another team's lead sees the request (the use case is not restricted) but not its cost.
    client.force_login(get_user_model().objects.get(username="felix"))
    page = client.get(chatbot.get_absolute_url()).content.decode()
    assert "You may not see this use case's cost." in page
