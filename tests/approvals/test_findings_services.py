"""Findings' services: every move allowed and refused by the table, what each action records,
segregation of duties on accepting a risk and its bounds, the daily escalation (once, with its
notification key) and expiring acceptances (approvals.services.findings)."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from approvals.choices import FindingEventKindChoices, FindingStatusChoices
from approvals.models import Finding
from approvals.services import findings as services
from approvals.tasks import escalate_findings
from portal.models import AuditEntry, Notification
from portal.roles import Role, role_groups
from tests.approvals.finding_fixtures import make_finding

pytestmark = pytest.mark.django_db

OPEN, ACK, RESOLVED, ACCEPTED = (
    FindingStatusChoices.OPEN,
    FindingStatusChoices.ACKNOWLEDGED,
    FindingStatusChoices.RESOLVED,
    FindingStatusChoices.RISK_ACCEPTED,
)


@pytest.fixture(autouse=True)
def _locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def use_case(support_team, file_use_case):
    return file_use_case(support_team)


def _in(days: int):
    return timezone.now() + timedelta(days=days)


ACTIONS = {
    "acknowledge": lambda finding, actor: services.finding_acknowledge(actor=actor, finding=finding),
    "resolve": lambda finding, actor: services.finding_resolve(actor=actor, finding=finding, comment="Fixed"),
    "accept_risk": lambda finding, actor: services.finding_accept_risk(
        actor=actor, finding=finding, reason="Compensating control", until=_in(30)
    ),
}

# (status before, action) → status after, or None when the table refuses the move.
MOVES = [
    (OPEN, "acknowledge", ACK),
    (OPEN, "resolve", RESOLVED),
    (OPEN, "accept_risk", ACCEPTED),
    (ACK, "acknowledge", None),
    (ACK, "resolve", RESOLVED),
    (ACK, "accept_risk", ACCEPTED),
    (RESOLVED, "acknowledge", None),
    (RESOLVED, "resolve", None),
    (RESOLVED, "accept_risk", None),
    (ACCEPTED, "acknowledge", None),
    (ACCEPTED, "resolve", RESOLVED),
    (ACCEPTED, "accept_risk", None),
]


@pytest.mark.parametrize(("before", "action", "after"), MOVES)
def test_every_move_follows_the_table(use_case, reviewer, before, action, after):
    finding = make_finding(use_case, status=before)
    events = finding.events.count()
    entries = AuditEntry.objects.count()
    if after is None:
        with pytest.raises(ValidationError, match="cannot become"):
            ACTIONS[action](finding, reviewer)
        finding.refresh_from_db()
        assert finding.status == before
        assert finding.events.count() == events and AuditEntry.objects.count() == entries
        return
    ACTIONS[action](finding, reviewer)
    finding.refresh_from_db()
    assert finding.status == after
    event = finding.events.get()
    assert event.kind == after and event.actor == reviewer
    entry = AuditEntry.objects.order_by("-id").first()
    assert entry.extra["event"] == after and entry.extra["finding"] == finding.key


def test_the_table_allows_exactly_these_moves():
    """The table the tests above walk through is the one in choices.py."""
    allowed = {
        (source, target) for source, targets in FindingStatusChoices.TRANSITIONS.items() for target in targets
    }
    assert allowed == {
        (OPEN, ACK), (OPEN, RESOLVED), (OPEN, ACCEPTED), (ACK, OPEN), (ACK, RESOLVED), (ACK, ACCEPTED),
        (RESOLVED, OPEN), (ACCEPTED, OPEN), (ACCEPTED, RESOLVED),
    }  # fmt: skip


def test_acknowledge_records_who_and_when(use_case, support_team):
    lead = support_team.lead
    finding = make_finding(use_case)
    services.finding_acknowledge(actor=lead, finding=finding, comment="On it this sprint")
    assert finding.status == ACK and finding.acknowledged_by == lead and finding.acknowledged_at
    assert finding.events.get().message == "On it this sprint"


def test_a_manual_resolve_needs_a_comment(use_case, support_team):
    finding = make_finding(use_case)
    with pytest.raises(ValidationError) as refused:
        services.finding_resolve(actor=support_team.lead, finding=finding, comment="  ")
    assert refused.value.message_dict == {"comment": ["Say what was done to resolve it."]}
    services.finding_resolve(actor=support_team.lead, finding=finding, comment="New owner named")
    assert finding.status == RESOLVED and finding.resolved_at


def test_comments_change_no_status(use_case, support_team):
    finding = make_finding(use_case)
    with pytest.raises(ValidationError):
        services.finding_comment(actor=support_team.lead, finding=finding, body="")
    event = services.finding_comment(actor=support_team.lead, finding=finding, body="Waiting on HR")
    assert event.kind == FindingEventKindChoices.COMMENTED and finding.status == OPEN


#
# Accepting a risk: approvers only, never the owner or the owning team, bounded in time
#


@pytest.mark.parametrize(
    ("who", "refusal"),
    [
        ("owner", "You own this finding"),
        ("accountable", "accountable owner of"),
        ("member", "which owns"),
        ("team_member_role_only", "Only a CoE reviewer"),
        ("executive", "Only a CoE reviewer"),
    ],
)
def test_segregation_of_duties_on_accepting_a_risk(use_case, support_team, make_user, who, refusal):
    member = support_team.members.exclude(pk=support_team.lead_id).first()
    people = {
        # A CoE reviewer who owns the finding (the CoE hands it to them).
        "owner": make_user("oscar", Role.COE_REVIEWER),
        # The use case's accountable owner, who also holds a CoE role.
        "accountable": support_team.lead,
        # A CoE reviewer on the owning team.
        "member": member,
        "team_member_role_only": make_user("tom", Role.TEAM_MEMBER),
        "executive": make_user("eve", Role.EXECUTIVE),
    }
    actor = people[who]
    if who in ("accountable", "member"):
        actor.groups.add(*role_groups(Role.COE_REVIEWER))
        actor._propylon_roles = None
    finding = make_finding(use_case, owner=people["owner"])
    with pytest.raises(ValidationError, match=refusal):
        services.finding_accept_risk(actor=actor, finding=finding, reason="Fine", until=_in(30))
    finding.refresh_from_db()
    assert finding.status == OPEN and not finding.events.exists()


@pytest.mark.parametrize(
    ("reason", "until", "field", "message"),
    [
        ("", 30, "reason", "Say why"),
        ("Fine", -1, "until", "in the future"),
        ("Fine", 366, "until", "at most 365 days"),
        ("Fine", None, "until", "until when"),
    ],
)
def test_an_acceptance_has_a_reason_and_a_bounded_end(use_case, reviewer, reason, until, field, message):
    finding = make_finding(use_case)
    with pytest.raises(ValidationError) as refused:
        services.finding_accept_risk(
            actor=reviewer, finding=finding, reason=reason, until=None if until is None else _in(until)
        )
    assert message in refused.value.message_dict[field][0]


def test_the_longest_acceptance_is_a_setting(use_case, reviewer, settings):
    settings.PROPYLON_FINDING_MAX_ACCEPTANCE_DAYS = 30
    finding = make_finding(use_case)
    with pytest.raises(ValidationError, match="at most 30 days"):
        services.finding_accept_risk(actor=reviewer, finding=finding, reason="Fine", until=_in(31))
    services.finding_accept_risk(actor=reviewer, finding=finding, reason="Fine", until=_in(29))
    assert finding.status == ACCEPTED and finding.risk_accepted_by == reviewer


def test_a_coe_finding_is_accepted_by_a_coe_approver(reviewer):
    finding = make_finding(None, check_id="unallocated-spend")
    assert finding.owned_by_coe and finding.owner is None
    services.finding_accept_risk(
        actor=reviewer, finding=finding, reason="Tagging next quarter", until=_in(90)
    )
    assert finding.status == ACCEPTED


#
# The daily scan: escalation once, expiring acceptances
#


def test_escalation_happens_once_and_notifies_the_coe_and_the_owner(
    use_case, support_team, reviewer, make_user, mailoutbox, django_capture_on_commit_callbacks
):
    lead_of_coe = make_user("cora", Role.COE_LEAD)
    make_user("ada", Role.ADMIN)  # admins are not paged for every overdue finding
    overdue = make_finding(use_case, due_in_days=-1)
    acknowledged = make_finding(use_case, status=ACK, due_in_days=-2)
    make_finding(use_case, due_in_days=3)  # not due yet
    make_finding(use_case, status=RESOLVED, due_in_days=-5)  # not live
    with django_capture_on_commit_callbacks(execute=True):
        assert services.findings_scan() == {"escalated": 2, "acceptances_expired": 0}
    for finding in (overdue, acknowledged):
        finding.refresh_from_db()
        assert finding.escalated_at is not None
        assert finding.events.filter(kind=FindingEventKindChoices.ESCALATED).count() == 1
        keys = set(
            Notification.objects.filter(key__startswith=f"finding-escalated:{finding.pk}:").values_list(
                "key", flat=True
            )
        )
        assert keys == {
            f"finding-escalated:{finding.pk}:email:{person.pk}"
            for person in (reviewer, lead_of_coe, support_team.lead)
        }
    assert sorted({address for message in mailoutbox for address in message.to}) == [
        "cora@example.com", "lena@example.com", "ravi@example.com"
    ]  # fmt: skip
    sent = len(mailoutbox)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.findings_scan() == {"escalated": 0, "acceptances_expired": 0}
    assert len(mailoutbox) == sent
    # Even if escalated_at were lost, the notification key keeps the CoE from hearing twice.
    Finding.objects.filter(pk=overdue.pk).update(escalated_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        services.findings_scan()
    assert len(mailoutbox) == sent


def test_an_expired_acceptance_reopens_the_finding_and_tells_the_owner(
    use_case, support_team, reviewer, mailoutbox, django_capture_on_commit_callbacks
):
    finding = make_finding(use_case)
    services.finding_accept_risk(actor=reviewer, finding=finding, reason="Vendor fix due", until=_in(10))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.findings_scan()["acceptances_expired"] == 0
        assert services.findings_scan(now=_in(11))["acceptances_expired"] == 1
    finding.refresh_from_db()
    assert finding.status == OPEN and finding.risk_accepted_until is None
    assert finding.events.filter(kind=FindingEventKindChoices.ACCEPTANCE_EXPIRED).count() == 1
    assert [message.to for message in mailoutbox] == [["lena@example.com"]]
    assert "expired" in mailoutbox[0].subject
    with django_capture_on_commit_callbacks(execute=True):
        assert services.findings_scan(now=_in(12))["acceptances_expired"] == 0
    assert len(mailoutbox) == 1


def test_the_job_runs_daily_and_admins_or_the_coe_lead_start_it(use_case, run_job):
    from django_celery_beat.models import PeriodicTask

    from portal.jobs import JOB_REGISTRY

    task = PeriodicTask.objects.get(task="approvals.escalate_findings")
    assert task.enabled and task.crontab.hour == "6" and task.crontab.minute == "30"
    definition = JOB_REGISTRY["approvals.escalate_findings"]
    assert definition.on_demand and set(definition.started_by) == {Role.ADMIN, Role.COE_LEAD}
    make_finding(use_case, due_in_days=-1)
    run = run_job(escalate_findings)
    assert run.status == "succeeded" and run.result == {"escalated": 1, "acceptances_expired": 0}
    assert run_job(escalate_findings).result == {"escalated": 0, "acceptances_expired": 0}


def test_an_expired_acceptance_of_a_coe_finding_tells_the_coe(
    reviewer, mailoutbox, django_capture_on_commit_callbacks
):
    finding = make_finding(None, check_id="unallocated-spend")
    services.finding_accept_risk(actor=reviewer, finding=finding, reason="Tagging next quarter", until=_in(5))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.findings_scan(now=_in(6))["acceptances_expired"] == 1
    assert [message.to for message in mailoutbox] == [["ravi@example.com"]]


def test_the_scan_works_through_every_batch(use_case, monkeypatch):
    monkeypatch.setattr(services, "SCAN_BATCH", 2)
    overdue = [make_finding(use_case, due_in_days=-1) for _ in range(5)]
    assert services.findings_scan()["escalated"] == 5
    assert all(Finding.objects.get(pk=finding.pk).escalated_at for finding in overdue)
