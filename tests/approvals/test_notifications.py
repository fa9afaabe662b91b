"""Notifications: recorded once per key, delivered after commit by email (locmem) and to chat
webhooks (a local HTTP server), failures kept and logged; the gates' scan (overdue, expiring,
expired) and who hears about what."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from approvals.choices import ApprovalStatusChoices, DecisionChoices
from approvals.models import ApprovalRequest
from approvals.services import gates
from approvals.services.gates import gates_scan
from approvals.tasks import scan_gates
from portal import notifications
from portal.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _locmem_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PROPYLON_BASE_URL = "https://propylon.example.com"


class Hook:
    """A local incoming-webhook endpoint that records what it receives."""

    def __init__(self, status=200, delay=0.0):
        self.received: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                hook.received.append(json.loads(self.rfile.read(length)))
                if delay:
                    threading.Event().wait(delay)
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):  # tests stay quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_notify_is_idempotent_and_sends_after_commit(
    make_user, mailoutbox, django_capture_on_commit_callbacks
):
    ravi = make_user("ravi", email="ravi@example.com")
    gone = make_user("gone", email="gone@example.com", is_active=False)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        created = notifications.notify(key="test:1", recipients=[ravi, gone, None], subject="Hello  there",
                                       body="Body", link="/gates/")  # fmt: skip
    assert [row.recipient for row in created] == [ravi]  # inactive people get nothing
    assert not mailoutbox  # nothing leaves before the transaction commits
    for callback in callbacks:
        callback()
    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["ravi@example.com"] and message.subject == "Hello there"
    assert "https://propylon.example.com/gates/" in message.body
    row = Notification.objects.get(key="test:1:email:" + str(ravi.pk))
    assert row.sent_at is not None and row.attempts == 1
    # The same event again: no new row, no second email; delivering again does nothing.
    with django_capture_on_commit_callbacks(execute=True):
        assert notifications.notify(key="test:1", recipients=[ravi], subject="Hello", body="Body") == []
    assert notifications.deliver(row.pk) is False
    assert len(mailoutbox) == 1


def test_webhooks_get_slack_and_teams_payloads(make_user, settings, django_capture_on_commit_callbacks):
    slack, teams = Hook(), Hook()
    try:
        settings.PROPYLON_SLACK_WEBHOOK_URL = slack.url
        settings.PROPYLON_TEAMS_WEBHOOK_URL = teams.url
        with django_capture_on_commit_callbacks(execute=True):
            created = notifications.notify(key="test:hooks", recipients=[], subject="GR-1 <needs> you",
                                           body="UC-0001 & co", link="/gates/requests/1/")  # fmt: skip
        assert {row.channel for row in created} == {"slack", "teams"}
        assert slack.received[0]["text"] == "GR-1 <needs> you"
        block = slack.received[0]["blocks"][0]["text"]["text"]
        assert "*GR-1 &lt;needs&gt; you*" in block and "UC-0001 &amp; co" in block
        assert "<https://propylon.example.com/gates/requests/1/|Open in Propylon>" in block
        card = teams.received[0]["attachments"][0]
        assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
        assert card["content"]["body"][0]["text"] == "GR-1 <needs> you"
        assert card["content"]["actions"][0]["url"] == "https://propylon.example.com/gates/requests/1/"
        assert all(row.sent_at for row in Notification.objects.all())
    finally:
        slack.close()
        teams.close()


def test_webhook_failures_and_timeouts_are_kept_and_logged(
    settings, caplog, django_capture_on_commit_callbacks
):
    failing, slow = Hook(status=500), Hook(delay=1.0)
    try:
        settings.PROPYLON_SLACK_WEBHOOK_URL = failing.url
        settings.PROPYLON_TEAMS_WEBHOOK_URL = slow.url
        settings.PROPYLON_WEBHOOK_TIMEOUT = 0.2
        with (
            caplog.at_level("WARNING", logger="portal.notifications"),
            django_capture_on_commit_callbacks(execute=True),
        ):
            notifications.notify(key="test:fail", recipients=[], subject="S", body="B")
        slack_row = Notification.objects.get(channel="slack")
        teams_row = Notification.objects.get(channel="teams")
        # Eager mode retries in-process too (PROPYLON_NOTIFICATION_EAGER_RETRIES, default 2).
        assert slack_row.sent_at is None and "HTTP 500" in slack_row.error and slack_row.attempts == 3
        assert teams_row.sent_at is None and "timed out" in teams_row.error.lower()
        assert "notification #" in caplog.text and "HTTP 500" in caplog.text
    finally:
        failing.close()
        slow.close()


def test_submission_notifies_eligible_reviewers_only(ready_use_case, support_team, reviewers, make_user, mailoutbox,
                                                     django_capture_on_commit_callbacks):  # fmt: skip
    use_case, release = ready_use_case("minimal")
    insider = make_user("ines", "coe-reviewer")
    support_team.members.add(insider)
    with django_capture_on_commit_callbacks(execute=True):
        request = gates.approval_request_submit(
            use_case=use_case, release=release, to_stage="pilot", actor=support_team.lead
        )
    recipients = sorted(address for message in mailoutbox for address in message.to)
    # CoE reviewers and the CoE lead, but not the owning team's reviewer, nor security or legal.
    assert recipients == ["carl@example.com", "ravi@example.com", "rita@example.com"]
    assert f"{request.reference} waits for your review" in mailoutbox[0].subject
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        gates.approval_request_decide(
            request=request, actor=reviewers["ravi"], decision=DecisionChoices.APPROVE
        )
    # The outcome goes to the requester and the owners (lena is both: one email).
    assert sorted(address for message in mailoutbox for address in message.to) == ["lena@example.com"]
    assert "approved" in mailoutbox[0].subject


def test_scan_expires_and_reminds_once(ready_use_case, support_team, reviewers, mailoutbox, run_job,
                                       django_capture_on_commit_callbacks):  # fmt: skip
    use_case, release = ready_use_case("minimal")
    pending_case, pending_release = ready_use_case("minimal", name="Invoice matcher")
    approved = gates.approval_request_submit(use_case=use_case, release=release, to_stage="pilot",
                                             actor=support_team.lead)  # fmt: skip
    gates.approval_request_decide(request=approved, actor=reviewers["ravi"], decision=DecisionChoices.APPROVE)
    pending = gates.approval_request_submit(use_case=pending_case, release=pending_release, to_stage="pilot",
                                            actor=support_team.lead)  # fmt: skip
    now = timezone.now()
    ApprovalRequest.objects.filter(pk=approved.pk).update(expires_at=now + timedelta(days=10))
    ApprovalRequest.objects.filter(pk=pending.pk).update(due_at=now - timedelta(hours=2))
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        first = gates_scan(now=now)
    assert first == {"expired": 0, "overdue_notifications": 3, "expiry_notifications": 1}
    subjects = sorted(message.subject for message in mailoutbox)
    assert any("is overdue" in subject for subject in subjects)
    assert any("expires within 14 days" in subject for subject in subjects)
    with django_capture_on_commit_callbacks(execute=True):
        assert gates_scan(now=now) == {"expired": 0, "overdue_notifications": 0, "expiry_notifications": 0}
    # Three days before the end the second reminder goes out; after the end the approval expires.
    with django_capture_on_commit_callbacks(execute=True):
        assert gates_scan(now=now + timedelta(days=8))["expiry_notifications"] == 1
    run = run_job(scan_gates)
    assert run.status == "succeeded"
    with django_capture_on_commit_callbacks(execute=True):
        assert gates_scan(now=now + timedelta(days=11))["expired"] == 1
    approved.refresh_from_db()
    assert approved.status == ApprovalStatusChoices.EXPIRED
    assert approved.events.filter(kind="expired").count() == 1


def test_the_scan_runs_hourly_and_everyone_can_see_it_on_the_jobs_page():
    from django_celery_beat.models import PeriodicTask

    from portal.celery import app
    from portal.jobs import JOB_REGISTRY

    task = PeriodicTask.objects.get(task="approvals.scan_gates")
    assert task.enabled and task.crontab.hour == "*" and task.crontab.minute == "7"
    assert JOB_REGISTRY["approvals.scan_gates"].on_demand
    assert "portal.deliver_notification" in app.tasks
