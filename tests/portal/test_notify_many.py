"""notify_many(): many messages in a number of queries that does not grow with them (the nightly
audit tells every owner at once), each key recorded and delivered once."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.models import Notification
from portal.notifications import Message, notify, notify_many

pytestmark = pytest.mark.django_db


def _messages(people, run: int) -> list[Message]:
    return [
        Message(
            key=f"test-run:{run}:{person.pk}", recipients=[person], subject="Found", body="-", webhooks=False
        )
        for person in people
    ]


def _queries(messages) -> int:
    with CaptureQueriesContext(connection) as captured:
        notify_many(messages)
    return len(captured)


def test_the_queries_do_not_grow_with_the_messages(make_user, django_capture_on_commit_callbacks):
    few = [make_user(f"few{n}", email=f"few{n}@example.com") for n in range(3)]
    many = [make_user(f"many{n}", email=f"many{n}@example.com") for n in range(40)]
    assert _queries(_messages(many, 1)) <= _queries(_messages(few, 2))
    assert Notification.objects.count() == 43


def test_existing_keys_are_left_alone_and_only_new_rows_delivered(
    make_user, django_capture_on_commit_callbacks
):
    ann, bob = make_user("ann", email="ann@example.com"), make_user("bob", email="bob@example.com")
    first = notify(key="event:1", recipients=[ann], subject="One", body="-", webhooks=False)
    with django_capture_on_commit_callbacks() as callbacks:
        created = notify_many(
            [
                Message(key="event:1", recipients=[ann, bob], subject="Again", body="-", webhooks=False),
                Message(
                    key="event:1", recipients=[bob], subject="Twice in one call", body="-", webhooks=False
                ),
            ]
        )
    assert [row.recipient for row in created] == [bob]
    assert len(callbacks) == 1
    assert Notification.objects.get(key=first[0].key).subject == "One"
    assert Notification.objects.filter(key__startswith="event:1").count() == 2
