"""Failed notifications: retried in eager mode too (a bounded number of quick in-process
retries), listed with ?failed=true, and resent by administrators (admin action and API) through
the same idempotent delivery; a sent notification is never resent."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from portal import notifications
from portal.choices import AuditActionChoices
from portal.models import AuditEntry, Notification
from portal.roles import Role

pytestmark = pytest.mark.django_db


class FlakyHook:
    """A local chat webhook answering the statuses in ``script`` in order, then 200."""

    def __init__(self, *script: int):
        self.script = list(script)
        self.received: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                status = hook.script.pop(0) if hook.script else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):  # tests stay quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook(settings):
    hooks = []

    def make(*script):
        made = FlakyHook(*script)
        hooks.append(made)
        settings.PROPYLON_SLACK_WEBHOOK_URL = made.url
        return made

    settings.PROPYLON_TEAMS_WEBHOOK_URL = ""
    settings.PROPYLON_NOTIFICATION_RETRY_BASE_SECONDS = 0.01
    yield make
    for made in hooks:
        made.close()


def notify(django_capture_on_commit_callbacks, key="test:resend") -> Notification:
    with django_capture_on_commit_callbacks(execute=True):
        (row,) = notifications.notify(key=key, recipients=[], subject="Gate GR-1", body="B")
    row.refresh_from_db()
    return row


def test_eager_mode_retries_a_failed_delivery(hook, settings, django_capture_on_commit_callbacks):
    settings.PROPYLON_NOTIFICATION_EAGER_RETRIES = 2
    target = hook(503)
    row = notify(django_capture_on_commit_callbacks)
    assert row.sent_at is not None and row.error == "" and row.attempts == 2
    assert len(target.received) == 2


def test_eager_retries_are_bounded(hook, settings, django_capture_on_commit_callbacks):
    settings.PROPYLON_NOTIFICATION_EAGER_RETRIES = 2
    target = hook(500, 500, 500, 500)
    row = notify(django_capture_on_commit_callbacks)
    assert row.sent_at is None and "HTTP 500" in row.error and row.attempts == 3
    assert len(target.received) == 3


def test_no_eager_retries_when_turned_off(hook, settings, django_capture_on_commit_callbacks):
    settings.PROPYLON_NOTIFICATION_EAGER_RETRIES = 0
    target = hook(500)
    row = notify(django_capture_on_commit_callbacks)
    assert row.sent_at is None and row.attempts == 1 and len(target.received) == 1


@pytest.fixture
def failed(hook, settings, django_capture_on_commit_callbacks):
    """A notification whose delivery failed (every attempt), the hook now answering 200."""
    settings.PROPYLON_NOTIFICATION_EAGER_RETRIES = 0
    target = hook(500)
    row = notify(django_capture_on_commit_callbacks)
    assert row.error
    return row, target


def api_as(user):
    client = APIClient()
    client.force_login(user)
    return client


def test_admins_list_failed_notifications_and_resend_one(
    failed, admin_user, make_user, django_capture_on_commit_callbacks
):
    row, target = failed
    make_user("someone", Role.TEAM_MEMBER, email="someone@example.com")
    sent = Notification.objects.create(key="old:sent", channel="email", subject="Sent", body="B",
                                       sent_at=row.created_at)  # fmt: skip
    client = api_as(admin_user)
    listed = client.get("/api/notifications/", {"failed": "true"}).json()["results"]
    assert [item["id"] for item in listed] == [row.pk]
    assert sent.pk in [
        item["id"] for item in client.get("/api/notifications/", {"failed": "false"}).json()["results"]
    ]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/notifications/{row.pk}/resend/")
    assert response.status_code == 202, response.json()
    row.refresh_from_db()
    assert row.sent_at is not None and row.error == "" and row.attempts == 1
    assert len(target.received) == 2
    entry = AuditEntry.objects.filter(action=AuditActionChoices.UPDATE, object_id=str(row.pk)).latest("id")
    assert entry.message == "Resent a failed notification."

    # Sent now: resending it again is refused, and nothing goes out.
    again = client.post(f"/api/notifications/{row.pk}/resend/")
    assert again.status_code == 400
    assert "is not sent again" in str(again.json())
    assert len(target.received) == 2


def test_only_admins_resend(failed, make_user, django_capture_on_commit_callbacks):
    row, target = failed
    for role in (Role.COE_LEAD, Role.AUDITOR, Role.TEAM_MEMBER):
        response = api_as(make_user(f"user-{role}", role)).post(f"/api/notifications/{row.pk}/resend/")
        assert response.status_code == 404  # a chat notification is nobody's: invisible to them
    mine = Notification.objects.create(key="mine", channel="email", recipient=make_user("me", Role.TEAM_MEMBER),
                                       subject="S", body="B", error="SMTP down", attempts=4)  # fmt: skip
    assert api_as(mine.recipient).post(f"/api/notifications/{mine.pk}/resend/").status_code == 403
    row.refresh_from_db()
    assert row.sent_at is None and len(target.received) == 1


def test_a_pending_notification_is_not_resent(admin_user):
    pending = Notification.objects.create(key="pending", channel="slack", subject="S", body="B")
    response = api_as(admin_user).post(f"/api/notifications/{pending.pk}/resend/")
    assert response.status_code == 400
    assert "still pending" in str(response.json())


def test_the_admin_action_resends_the_failed_ones_and_skips_sent_ones(
    failed, admin_user, client, django_capture_on_commit_callbacks
):
    row, target = failed
    sent = Notification.objects.create(key="old:sent", channel="slack", subject="Sent", body="B",
                                       sent_at=row.created_at)  # fmt: skip
    client.force_login(admin_user)
    changelist = reverse("admin:portal_notification_changelist")
    page = client.get(changelist)
    assert "Resend selected failed notifications" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            changelist, {"action": "resend_failed", "_selected_action": [row.pk, sent.pk]}, follow=True
        )
    text = response.content.decode()
    assert "1 failed notification resent." in text
    assert "a sent notification is not sent again" in text
    row.refresh_from_db()
    assert row.sent_at is not None and len(target.received) == 2
