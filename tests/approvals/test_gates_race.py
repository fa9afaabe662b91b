"""Two reviewers deciding at the same moment never corrupt the count (approvals.services.gates locks the
request row). Real threads, real connections, real PostgreSQL: SQLite serialises whole
transactions, so the race cannot happen there and the test is skipped with the reason."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from approvals.choices import ApprovalEventChoices, ApprovalStatusChoices, DecisionChoices
from approvals.models import ApprovalDecision, GatePolicy
from approvals.services import gate_policies, gates

# serialized_rollback: the flush after each transactional test would otherwise remove the rows
# the data migrations wrote (roles, lifecycle, default gate policies) for the tests after it.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def decide_together(request, people) -> list:
    """Every person decides "approve" on ``request`` at the same instant; returns each outcome
    (None, or the ValidationError message)."""
    barrier = threading.Barrier(len(people))
    outcomes: list = [None] * len(people)

    def decide(index, person):
        try:
            barrier.wait(timeout=10)
            gates.approval_request_decide(request=request, actor=person, decision=DecisionChoices.APPROVE)
        except ValidationError as exc:
            outcomes[index] = " ".join(exc.messages)
        finally:
            connection.close()  # each thread has its own connection; leave none open

    threads = [threading.Thread(target=decide, args=(i, person)) for i, person in enumerate(people)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def _pilot_policy(count: int, actor):
    policy = GatePolicy.objects.get(
        transition__from_stage__key="proposed", transition__to_stage__key="pilot", risk_tier="minimal"
    )
    gate_policies.gate_policy_save(policy=policy, actor=actor, requirements={"coe-reviewer": count})


def test_two_approvals_at_once_both_count_and_approve_once(ready_use_case, reviewers, support_team):
    _pilot_policy(2, reviewers["carl"])
    use_case, release = ready_use_case("minimal")
    request = gates.approval_request_submit(use_case=use_case, release=release, to_stage="pilot",
                                            actor=support_team.lead)  # fmt: skip
    outcomes = decide_together(request, [reviewers["ravi"], reviewers["rita"]])
    assert outcomes == [None, None]
    request.refresh_from_db()
    use_case.refresh_from_db()
    # Each decision must see the other's: both count, the request is approved exactly once.
    assert request.status == ApprovalStatusChoices.APPROVED
    assert ApprovalDecision.objects.filter(request=request).count() == 2
    assert use_case.lifecycle_stage.key == "pilot"
    kinds = list(request.events.values_list("kind", flat=True))
    assert kinds.count(ApprovalEventChoices.APPROVED) == 1
    assert kinds.count(ApprovalEventChoices.STAGE_CHANGED) == 1


def test_the_second_of_two_simultaneous_approvals_finds_it_decided(ready_use_case, reviewers, support_team):
    use_case, release = ready_use_case("minimal")
    request = gates.approval_request_submit(use_case=use_case, release=release, to_stage="pilot",
                                            actor=support_team.lead)  # fmt: skip
    outcomes = decide_together(request, [reviewers["ravi"], reviewers["rita"]])
    # Without the row lock the second reviewer reads "pending" before the first commits, then
    # counts a quorum of its own and fails on the use case's stage instead (checked by hand).
    assert outcomes.count(None) == 1
    refused = next(outcome for outcome in outcomes if outcome)
    assert f"{request.reference} is approved; it is not waiting for decisions." == refused
    request.refresh_from_db()
    assert request.status == ApprovalStatusChoices.APPROVED
    assert ApprovalDecision.objects.filter(request=request).count() == 1
    assert request.events.filter(kind=ApprovalEventChoices.APPROVED).count() == 1
