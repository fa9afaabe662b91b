"""Running one audit check the way an audit run does, and counting its queries.

Shared by tests/approvals, tests/costs and tests/operations test_audit_checks.py: a check is a
function of an AuditScope; these call it through the registry (so an unregistered check fails)."""

from django.core.exceptions import ValidationError
from django.utils import timezone

from approvals.choices import ApprovalStatusChoices, DecisionChoices
from approvals.services import gates
from portal import auditing
from portal.auditing import AuditScope, Observation
from portal.testing.queries import assert_queries_do_not_grow


def observe(check_id: str, *, use_case=None, now=None) -> dict[str, Observation]:
    """subject key → observation of one run of the registered check ``check_id``."""
    check = auditing.check_for(check_id)
    assert check is not None, f"No audit check {check_id!r} is registered."
    scope = AuditScope(use_case_id=use_case.pk if use_case is not None else None, now=now or timezone.now())
    observations = list(check.run(scope))
    keys = [observation.subject_key for observation in observations]
    assert len(keys) == len(set(keys)), f"{check_id} reported a subject twice: {keys}"
    return {observation.subject_key: observation for observation in observations}


class _Ran:
    status_code = 200


class _CheckRunner:
    """Stands in for the test client of ``assert_queries_do_not_grow``: a GET runs the check."""

    def __init__(self, check_id: str, *, now=None, before_each=None):
        self.check_id, self.now, self.before_each = check_id, now, before_each
        self.observed: dict[str, Observation] = {}

    def get(self, url):
        if self.before_each is not None:
            self.before_each()
        self.observed = observe(self.check_id, now=self.now)
        return _Ran()


def assert_check_queries_do_not_grow(
    check_id: str, grow, *, now=None, before_each=None
) -> dict[str, Observation]:
    """Run the check, ``grow()`` the portfolio (with more subjects it reports), run it again: fail if
    the second run made more queries. Returns the observations of the last run."""
    runner = _CheckRunner(check_id, now=now, before_each=before_each)
    runner.get(check_id)
    before = set(runner.observed)
    assert_queries_do_not_grow(runner, check_id, grow)
    assert len(runner.observed) > len(before), f"{check_id}: grow() added nothing the check reports"
    return runner.observed


def approve_to_production(use_case, release, reviewers):
    """Take the use case (at pilot) through the production gate with as many reviewers as its
    policy's quorum needs."""
    request = gates.approval_request_submit(
        use_case=use_case, release=release, to_stage="production", actor=use_case.owning_team.lead
    )
    for person in reviewers.values():
        request.refresh_from_db()
        if request.status != ApprovalStatusChoices.PENDING:
            break
        try:
            gates.approval_request_decide(request=request, actor=person, decision=DecisionChoices.APPROVE)
        except ValidationError:  # a reviewer whose role the quorum does not need
            continue
    request.refresh_from_db()
    assert request.status == ApprovalStatusChoices.APPROVED
    use_case.refresh_from_db()
    assert use_case.lifecycle_stage.kind == "production"
    return request
