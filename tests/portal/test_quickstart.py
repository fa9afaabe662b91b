"""`propylon quickstart` prepares a working portal with demo data, and is safe to run twice."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from inventory.models import BusinessUnit, Team
from portal.demo import DEMO_PASSWORD, persona_accounts
from portal.roles import Role, roles_of

pytestmark = pytest.mark.django_db


def counts():
    return (get_user_model().objects.count(), BusinessUnit.objects.count(), Team.objects.count())


def test_quickstart_loads_the_demo_and_is_idempotent(capsys):
    call_command("quickstart", "--no-serve")
    first = counts()
    out = capsys.readouterr().out
    call_command("quickstart", "--no-serve")
    assert counts() == first
    assert first[1] >= 4 and first[2] >= 5
    assert f"password for all: {DEMO_PASSWORD}" in out
    for person in persona_accounts():
        assert person.username in out


def test_every_persona_can_sign_in_with_the_printed_credentials(client):
    call_command("quickstart", "--no-serve", stdout=StringIO())
    expected = {
        "lead": Role.TEAM_LEAD,
        "reviewer": Role.COE_REVIEWER,
        "coelead": Role.COE_LEAD,
        "cto": Role.EXECUTIVE,
        "auditor": Role.AUDITOR,
        "admin": Role.ADMIN,
    }
    for username, role in expected.items():
        user = get_user_model().objects.get(username=username)
        assert role in roles_of(user), username
        assert client.login(username=username, password=DEMO_PASSWORD), username
        client.logout()


def test_the_team_lead_leads_a_team_and_a_departed_member_is_inactive():
    call_command("quickstart", "--no-serve", stdout=StringIO())
    lead = get_user_model().objects.get(username="lead")
    assert Team.objects.filter(lead=lead, members=lead).exists()
    assert get_user_model().objects.get(username="dmitri").is_active is False


def test_quickstart_refuses_production(settings):
    settings.IS_PRODUCTION = True
    with pytest.raises(CommandError, match="refused when PROPYLON_ENV=production"):
        call_command("quickstart", "--no-serve")


def test_quickstart_rejects_a_bad_port():
    with pytest.raises(CommandError, match="--port must be between 1 and 65535"):
        call_command("quickstart", "--no-serve", "--port", "70000")
