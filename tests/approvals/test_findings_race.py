"""People and the daily scan acting on one finding at the same moment never both win
(approvals.services.findings locks the finding row). Real threads, real connections, real
PostgreSQL: SQLite serialises whole transactions, so the race cannot happen there."""

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from approvals.choices import FindingEventKindChoices, FindingStatusChoices
from approvals.services import findings as services
from portal.models import Notification
from tests.approvals.finding_fixtures import make_finding

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def together(*calls) -> list:
    """Run the calls at the same instant; each outcome is None, a result, or the refusal."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            outcomes[index] = call()
        except ValidationError as exc:
            outcomes[index] = " ".join(exc.messages)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads)
    return outcomes


def test_a_resolve_and_a_risk_acceptance_at_once_leave_one_story(support_team, file_use_case, reviewer):
    finding = make_finding(file_use_case(support_team), status=FindingStatusChoices.ACKNOWLEDGED)
    until = timezone.now() + timedelta(days=30)
    outcomes = together(
        lambda: services.finding_resolve(actor=support_team.lead, finding=finding, comment="Fixed"),
        lambda: services.finding_accept_risk(actor=reviewer, finding=finding, reason="Fine", until=until),
    )
    finding.refresh_from_db()
    kinds = list(finding.events.values_list("kind", flat=True))
    if finding.status == FindingStatusChoices.RESOLVED and len(kinds) == 1:
        # The acceptance came second and found it resolved: refused by the table.
        assert outcomes[1] == "A finding that is resolved cannot become risk accepted."
    else:
        # The acceptance came first; resolving an accepted risk is allowed, so both happened in turn.
        assert kinds == [FindingEventKindChoices.RISK_ACCEPTED, FindingEventKindChoices.RESOLVED]
    assert finding.status == FindingStatusChoices.RESOLVED


def test_two_scans_at_once_escalate_and_notify_once(support_team, file_use_case, reviewer):
    finding = make_finding(file_use_case(support_team), due_in_days=-1)
    outcomes = together(services.findings_scan, services.findings_scan)
    assert sorted(outcome["escalated"] for outcome in outcomes) == [0, 1]
    assert finding.events.filter(kind=FindingEventKindChoices.ESCALATED).count() == 1
    assert Notification.objects.filter(key__startswith=f"finding-escalated:{finding.pk}:").count() == 2
