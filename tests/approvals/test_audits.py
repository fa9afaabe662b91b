"""Audit runs (approvals.services.audits): findings kept under their keys, opened, seen again,
cleared and reopened; scoped runs; broken checks; bounded queries; the job and its schedule."""

import re
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import PeriodicTask

from approvals.choices import FindingEventKindChoices, FindingStatusChoices
from approvals.models import AuditRun, Finding, FindingEvent
from approvals.services import audits
from approvals.tasks import run_audit
from portal.audit import verify_chain
from portal.auditing import register_check
from portal.choices import ChannelChoices, JobStatusChoices, SeverityChoices
from portal.models import AuditEntry, JobRun, Notification
from portal.roles import Role
from tests.approvals.audit_fixtures import about

pytestmark = pytest.mark.django_db


def execute(use_case=None, **kwargs):
    run = audits.audit_run_create(actor=None, use_case=use_case, channel=ChannelChoices.COMMAND)
    return audits.audit_run_execute(run, **kwargs)


@pytest.fixture
def two_use_cases(support_team, legal_team, file_use_case):
    return (
        file_use_case(support_team, name="Support chatbot"),
        file_use_case(legal_team, name="Contract review", purpose="Reads contracts and flags risky clauses."),
    )


def test_a_first_run_opens_findings_owned_by_the_accountable_owner(audit_checks, two_use_cases):
    chatbot, contracts = two_use_cases
    audit_checks.owner.report(about(chatbot), about(contracts, owned_by_coe=True))
    audit_checks.signal.report(about(chatbot, severity=SeverityChoices.CRITICAL))

    run = execute()

    assert run.status == JobStatusChoices.SUCCEEDED
    assert run.checks_run == ["test-owner", "test-signal", "test-spend"]
    assert run.counts["opened"] == 3 and run.counts["observed"] == 3
    assert run.counts["per_check"]["test-owner"] == {"observed": 2, "opened": 2, "cleared": 0}
    assert run.finished_at and run.duration_ms is not None
    mine = Finding.objects.get(key=f"test-owner:{chatbot.key}")
    assert (mine.owner, mine.owned_by_coe, mine.status) == (chatbot.accountable_owner, False, "open")
    assert mine.severity == SeverityChoices.HIGH
    assert (mine.due_at - mine.first_seen_at).days == SeverityChoices.DUE_DAYS[SeverityChoices.HIGH]
    orphan = Finding.objects.get(key=f"test-owner:{contracts.key}")
    assert (orphan.owner, orphan.owned_by_coe) == (None, True)
    critical = Finding.objects.get(check_id="test-signal")
    assert (critical.severity, (critical.due_at - critical.first_seen_at).days) == ("critical", 3)
    assert FindingEvent.objects.filter(kind=FindingEventKindChoices.OPENED, audit_run=run).count() == 3


def test_a_rerun_updates_last_seen_and_never_duplicates(audit_checks, two_use_cases):
    chatbot, _ = two_use_cases
    audit_checks.owner.report(about(chatbot))
    first = execute()
    finding = Finding.objects.get()
    audit_checks.owner.report(about(chatbot, title="The owner left in May", data={"left": "2026-05"}))

    second = execute()

    finding.refresh_from_db()
    assert Finding.objects.count() == 1
    assert finding.last_run == second and finding.last_seen_at > finding.first_seen_at
    assert (finding.title, finding.data) == ("The owner left in May", {"left": "2026-05"})
    assert second.counts["opened"] == 0 and second.counts["updated"] == 1
    assert FindingEvent.objects.filter(finding=finding).count() == 1  # opened once, by the first run
    assert first.pk != second.pk


def test_a_finding_clears_itself_and_reopens_when_the_condition_is_back(audit_checks, two_use_cases):
    chatbot, contracts = two_use_cases
    audit_checks.owner.report(about(chatbot), about(contracts))
    execute()
    audit_checks.owner.report(about(contracts))

    cleared_by = execute()

    gone = Finding.objects.get(key=f"test-owner:{chatbot.key}")
    assert gone.status == FindingStatusChoices.RESOLVED and gone.resolved_at is not None
    assert cleared_by.counts["cleared"] == 1
    assert Finding.objects.get(key=f"test-owner:{contracts.key}").status == FindingStatusChoices.OPEN
    assert gone.events.last().kind == FindingEventKindChoices.CLEARED

    execute()  # still gone: nothing more happens to it
    assert gone.events.count() == 2

    audit_checks.owner.report(about(chatbot), about(contracts))
    back = execute()

    gone.refresh_from_db()
    assert gone.status == FindingStatusChoices.OPEN and gone.resolved_at is None
    assert back.counts["reopened"] == 1 and back.counts["opened"] == 0
    assert [event.kind for event in gone.events.all()] == ["opened", "cleared", "reopened"]
    assert Finding.objects.count() == 2


def test_acknowledged_findings_stay_acknowledged_and_accepted_risks_stay_accepted(
    audit_checks, two_use_cases
):
    chatbot, contracts = two_use_cases
    audit_checks.owner.report(about(chatbot), about(contracts))
    execute()
    Finding.objects.filter(key=f"test-owner:{chatbot.key}").update(status=FindingStatusChoices.ACKNOWLEDGED)
    Finding.objects.filter(key=f"test-owner:{contracts.key}").update(
        status=FindingStatusChoices.RISK_ACCEPTED
    )

    execute()

    statuses = dict(Finding.objects.values_list("subject_key", "status"))
    assert statuses == {chatbot.key: "acknowledged", contracts.key: "risk_accepted"}

    audit_checks.owner.report()
    execute()
    statuses = dict(Finding.objects.values_list("subject_key", "status"))
    # The acknowledged one is live and cleared; an accepted risk is not live and is left alone.
    assert statuses == {chatbot.key: "resolved", contracts.key: "risk_accepted"}


def test_a_run_for_one_use_case_leaves_the_others_alone(audit_checks, two_use_cases):
    chatbot, contracts = two_use_cases
    audit_checks.owner.report(about(chatbot), about(contracts))
    audit_checks.spend.report(about(chatbot, ":2026-11"))
    execute()
    audit_checks.owner.report()  # both conditions cleared...
    audit_checks.spend.report()

    run = execute(use_case=chatbot)  # ...but only the chatbot is audited

    assert run.checks_run == ["test-owner", "test-signal"]  # the portfolio-wide check is skipped
    assert audit_checks.spend.calls == 1
    statuses = dict(Finding.objects.values_list("key", "status"))
    assert statuses == {
        f"test-owner:{chatbot.key}": "resolved",
        f"test-owner:{contracts.key}": "open",
        f"test-spend:{chatbot.key}:2026-11": "open",
    }


def test_a_scoped_run_ignores_what_a_check_reports_about_other_use_cases(audit_checks, two_use_cases):
    chatbot, contracts = two_use_cases
    register_check(id="test-leaky", title="Test: ignores its scope", severity=SeverityChoices.LOW)(
        lambda scope: [about(contracts)]
    )

    run = execute(use_case=chatbot, check_ids=["test-leaky"])

    assert run.checks_run == ["test-leaky"]
    assert run.counts["observed"] == 0 and not Finding.objects.exists()


def test_a_failing_check_does_not_sink_the_run_nor_clear_its_findings(audit_checks, two_use_cases):
    chatbot, contracts = two_use_cases
    audit_checks.owner.report(about(chatbot))
    audit_checks.signal.report(about(contracts))
    execute()
    audit_checks.owner.error = RuntimeError("the database of owners is down")
    audit_checks.signal.report()

    run = execute()

    assert run.status == JobStatusChoices.SUCCEEDED
    assert run.counts["errors"] == {"test-owner": "RuntimeError: the database of owners is down"}
    assert "test-owner" in run.error
    statuses = dict(Finding.objects.values_list("check_id", "status"))
    assert statuses == {"test-owner": "open", "test-signal": "resolved"}

    audit_checks.signal.error = audit_checks.spend.error = ValueError("also broken")
    assert execute().status == JobStatusChoices.FAILED  # every check failed


def test_owners_get_one_notification_per_run_listing_their_findings(audit_checks, two_use_cases, make_user):
    chatbot, contracts = two_use_cases
    make_user("cora", Role.COE_LEAD)
    audit_checks.owner.report(about(chatbot), about(contracts, owned_by_coe=True))
    audit_checks.signal.report(about(chatbot), about(chatbot, ":latency"))

    run = execute()

    to_owner = Notification.objects.get(recipient=chatbot.accountable_owner)
    assert (
        to_owner.key
        == f"audit-findings:{run.pk}:{chatbot.accountable_owner.pk}:email:{chatbot.accountable_owner.pk}"
    )
    assert "found 3 findings for you" in to_owner.subject
    assert to_owner.body.count("\n") == 2  # three lines, most severe first
    to_coe = Notification.objects.get(recipient__username="cora")
    assert "for the CoE" in to_coe.subject and contracts.key in to_coe.body

    execute()  # nothing new: nobody hears again
    assert Notification.objects.count() == 2


def test_findings_and_their_status_changes_are_in_the_audit_trail(audit_checks, two_use_cases):
    chatbot, _ = two_use_cases
    audit_checks.owner.report(about(chatbot))
    execute()
    finding = Finding.objects.get()
    history = AuditEntry.objects.filter(object_id=str(finding.pk), content_type__model="finding")
    assert list(history.order_by("id").values_list("action", flat=True)) == ["create"]

    execute()  # seen again: last_seen_at is not history
    assert history.count() == 1

    audit_checks.owner.report()
    execute()
    assert history.count() == 2
    assert history.order_by("id").last().changes["status"] == {"before": "open", "after": "resolved"}


def _count_queries(run_it) -> tuple[int, int]:
    """(the run's own queries, the audit trail's): the trail writes one entry per finding
    created or changed (portal.audit.record: a savepoint, the chain's last hash, the insert)."""
    with CaptureQueriesContext(connection) as captured:
        run_it()
    sql = [query["sql"] for query in captured.captured_queries]
    trail = sum("portal_auditentry" in statement for statement in sql)
    savepoints = sum("SAVEPOINT" in statement for statement in sql)
    return len(sql) - trail - savepoints, trail


def test_queries_do_not_grow_with_the_portfolio(audit_checks, support_team, file_use_case):
    """A run's own queries are the same for 3 and for 12 use cases (a chunk is 5,000 rows); only
    the audit trail's entries, one per finding created or changed, grow with what changed."""
    cases = [
        file_use_case(support_team, name=f"Use case {n}", purpose=f"Purpose number {n}.") for n in range(12)
    ]

    def measure(portfolio):
        audit_checks.owner.report(*(about(case) for case in portfolio))
        audit_checks.signal.report(*(about(case) for case in portfolio))
        first, _ = _count_queries(execute)
        rerun, rerun_trail = _count_queries(execute)
        audit_checks.owner.report()
        cleared, _ = _count_queries(execute)
        return {"first": first, "rerun": rerun, "rerun_trail": rerun_trail, "cleared": cleared}

    small = measure(cases[:3])
    Finding.objects.all().delete()
    large = measure(cases)

    assert small["rerun_trail"] == large["rerun_trail"] == 0  # nothing changed: no history written
    assert large == small, (small, large)


def test_starting_needs_the_right_to_audit_the_scope(
    audit_checks, two_use_cases, team_lead, reviewer, make_user
):
    chatbot, contracts = two_use_cases
    lead = chatbot.owning_team.lead
    with pytest.raises(ValidationError, match="whole portfolio"):
        audits.audit_run_start(actor=lead, channel=ChannelChoices.UI)
    with pytest.raises(ValidationError, match=f"may not audit {contracts.key}"):
        audits.audit_run_start(actor=lead, use_case=contracts, channel=ChannelChoices.UI)
    auditor = make_user("aksel", Role.AUDITOR)
    with pytest.raises(ValidationError):
        audits.audit_run_start(actor=auditor, use_case=chatbot, channel=ChannelChoices.UI)
    assert audits.audit_run_start(actor=lead, use_case=chatbot, channel=ChannelChoices.UI).use_case == chatbot
    assert audits.audit_run_start(actor=reviewer, channel=ChannelChoices.UI).use_case is None


def test_the_job_executes_the_run_once(audit_checks, two_use_cases, django_capture_on_commit_callbacks):
    chatbot, _ = two_use_cases
    audit_checks.owner.report(about(chatbot))
    with django_capture_on_commit_callbacks(execute=True):
        run = audits.audit_run_start(
            actor=chatbot.owning_team.lead, use_case=chatbot, channel=ChannelChoices.UI
        )
    run.refresh_from_db()
    assert run.status == JobStatusChoices.SUCCEEDED and run.counts["opened"] == 1
    job_run = run.job_run
    assert (job_run.task_name, job_run.status, job_run.result["opened"]) == (
        "approvals.run_audit",
        "succeeded",
        1,
    )
    assert job_run.arguments == {"audit_run_id": run.pk}

    # A redelivered message (a new JobRun for the same audit run, or the same again): nothing.
    audit_checks.owner.report()
    run_audit.apply(kwargs={"audit_run_id": run.pk})
    run_audit.apply(kwargs={"job_run_id": job_run.pk, "audit_run_id": run.pk})
    assert Finding.objects.get().status == FindingStatusChoices.OPEN
    assert audit_checks.owner.calls == 1


def test_the_job_without_a_run_audits_the_portfolio(audit_checks, two_use_cases, run_job, reviewer):
    chatbot, contracts = two_use_cases
    audit_checks.owner.report(about(chatbot), about(contracts))

    job_run = run_job("approvals.run_audit", actor=reviewer, channel=ChannelChoices.UI)

    run = AuditRun.objects.get(job_run=job_run)
    assert (run.use_case, run.requested_by, run.status) == (None, reviewer, JobStatusChoices.SUCCEEDED)
    assert Finding.objects.count() == 2 and job_run.status == "succeeded"


def test_a_job_that_breaks_marks_its_run_failed(audit_checks, two_use_cases, monkeypatch):
    run = audits.audit_run_create(actor=None, channel=ChannelChoices.JOB)

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("approvals.tasks.audit_run_execute", broken)
    run_audit.apply(kwargs={"audit_run_id": run.pk})
    run.refresh_from_db()
    assert run.status == JobStatusChoices.FAILED and "disk full" in run.error
    assert JobRun.objects.get(audit_run=run).status == "failed"


def test_the_nightly_schedule_runs_the_audit():
    task = PeriodicTask.objects.get(task="approvals.run_audit")
    assert task.enabled and task.crontab.hour == "2" and task.kwargs in ("{}", "")


def test_the_command_runs_the_audit_and_prints_its_counts(audit_checks, two_use_cases):
    chatbot, contracts = two_use_cases
    audit_checks.owner.report(about(chatbot), about(contracts))
    out = StringIO()

    call_command("run_audit", "--use-case", chatbot.key.lower(), stdout=out)

    assert f"of {chatbot.key}: 2 check(s)" in out.getvalue()
    assert "Total: 1 observed, 1 opened" in out.getvalue()
    run = AuditRun.objects.get()
    assert (run.channel, run.use_case) == (ChannelChoices.COMMAND, chatbot)

    call_command("run_audit", "--check", "test-signal", stdout=StringIO())
    assert AuditRun.objects.first().checks_run == ["test-signal"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--use-case", "UC-9999"], "No use case has the key 'UC-9999'"),
        (["--check", "no-such-check"], "Unknown audit check: no-such-check (known: test-owner, test-signal"),
    ],
)
def test_the_command_names_what_it_does_not_know(audit_checks, arguments, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("run_audit", *arguments, stdout=StringIO())
    assert not AuditRun.objects.exists()


def test_a_bulk_write_keeps_the_trail_verifiable(audit_checks, two_use_cases):
    """The run's creations and status changes are appended in bulk (portal.audit._append): the
    chain still verifies entry by entry."""
    chatbot, contracts = two_use_cases
    audit_checks.owner.report(about(chatbot), about(contracts))
    audit_checks.signal.report(about(chatbot), about(contracts))
    execute()
    audit_checks.owner.report()
    execute()

    assert AuditEntry.objects.filter(content_type__model="finding").count() == 6  # 4 created, 2 resolved
    verification = verify_chain()
    assert verification.intact, verification.reason


@pytest.mark.postgres
def test_a_bulk_write_keeps_the_trail_verifiable_on_postgresql(audit_checks, two_use_cases):
    test_a_bulk_write_keeps_the_trail_verifiable(audit_checks, two_use_cases)
