"""OpenID Connect sign-in against a provider the test starts on localhost."""

from urllib.parse import parse_qs, urlparse
from urllib.request import HTTPRedirectHandler, build_opener

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from portal import sso
from portal.choices import AuditActionChoices
from portal.models import AuditEntry
from portal.roles import Role, roles_of
from portal.testing.oidc_provider import OIDCTestProvider

pytestmark = pytest.mark.django_db


class _NoRedirect(HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def provider(settings):
    oidc = OIDCTestProvider(client_id="propylon", client_secret="s3cret-for-tests").start()
    settings.PROPYLON_OIDC_ENABLED = True
    settings.PROPYLON_OIDC_ISSUER = oidc.issuer
    settings.OIDC_RP_CLIENT_ID = "propylon"
    settings.OIDC_RP_CLIENT_SECRET = "s3cret-for-tests"
    settings.PROPYLON_OIDC_ROLE_MAP = {"ai-coe": Role.COE_REVIEWER, "internal-audit": Role.AUDITOR}
    settings.AUTHENTICATION_BACKENDS = ["portal.sso.PortalOIDCBackend", *settings.AUTHENTICATION_BACKENDS]
    sso._discovery_cache.clear()
    yield oidc
    oidc.stop()
    sso._discovery_cache.clear()


def sign_in_through(client, provider):
    """Follow the browser's path: Propylon → provider → back to Propylon's callback."""
    start = client.get(reverse("oidc_authentication_init"))
    assert start.status_code == 302 and start["Location"].startswith(provider.issuer + "/authorize")
    query = parse_qs(urlparse(start["Location"]).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"]
    try:
        build_opener(_NoRedirect).open(start["Location"])
    except Exception as redirect:  # urllib raises HTTPError for the unfollowed 302
        location = redirect.headers["Location"]
    callback = urlparse(location)
    return client.get(callback.path, parse_qs(callback.query))


def test_the_login_page_offers_sso_when_configured(client, provider, settings):
    settings.PROPYLON_OIDC_PROVIDER_NAME = "Contoso ID"
    assert "Sign in with Contoso ID" in client.get(reverse("login")).content.decode()


def test_a_new_person_signs_in_and_gets_the_roles_their_groups_map_to(client, provider):
    provider.sign_in_as(
        sub="a1", preferred_username="ines", email="ines@example.com", given_name="Inès", family_name="Moreau",
        groups=["ai-coe", "unrelated-group"],
    )  # fmt: skip
    response = sign_in_through(client, provider)
    assert response.status_code == 302 and response["Location"] == "/"
    person = get_user_model().objects.get(username="ines")
    assert (person.first_name, person.email) == ("Inès", "ines@example.com")
    assert roles_of(person) == {Role.COE_REVIEWER}
    assert int(client.session["_auth_user_id"]) == person.pk
    assert AuditEntry.objects.filter(action=AuditActionChoices.LOGIN, actor=person).exists()
    token_request = provider.token_requests[-1]
    assert token_request["code_verifier"] and token_request["client_secret"] == "s3cret-for-tests"


def test_the_directory_is_the_source_of_truth_for_mapped_roles(client, provider, make_user):
    person = make_user("ines", Role.COE_REVIEWER, Role.TEAM_MEMBER, email="ines@example.com")
    provider.sign_in_as(
        sub="a1", preferred_username="ines", email="ines@example.com", groups=["internal-audit"]
    )
    sign_in_through(client, provider)
    person._propylon_roles = None
    assert roles_of(person) == {Role.AUDITOR}


def test_without_the_groups_claim_roles_are_left_alone(client, provider, make_user):
    person = make_user("ines", Role.TEAM_LEAD, email="ines@example.com")
    provider.sign_in_as(sub="a1", preferred_username="ines", email="ines@example.com")
    sign_in_through(client, provider)
    person._propylon_roles = None
    assert roles_of(person) == {Role.TEAM_LEAD}


def test_a_token_from_another_issuer_is_refused(client, provider):
    provider.sign_in_as(sub="a1", preferred_username="mallory", email="m@example.com")
    provider.token_issuer = "http://127.0.0.1:1"
    response = sign_in_through(client, provider)
    assert response["Location"] == "/login/?sso=failed"
    assert not get_user_model().objects.filter(username="mallory").exists()
    assert AuditEntry.objects.filter(action=AuditActionChoices.LOGIN_FAILED, extra__sso=True).exists()


def test_password_sign_in_works_while_the_provider_is_down(client, provider, settings, team_lead):
    settings.PROPYLON_OIDC_ISSUER = "http://127.0.0.1:1"
    sso._discovery_cache.clear()
    response = client.post(
        reverse("login"), {"username": team_lead.username, "password": "correct-horse-battery"}
    )
    assert response.status_code == 302


def test_an_error_from_the_provider_is_a_message_not_a_crash(client, provider):
    response = client.get(reverse("oidc_authentication_callback"), {"error": "access_denied", "state": "x"})
    assert response["Location"] == "/login/?sso=failed"
    page = client.get(response["Location"]).content.decode()
    assert "Single sign-on did not complete" in page


def test_an_unreachable_provider_is_a_message_not_a_crash(client, provider, settings):
    settings.PROPYLON_OIDC_ISSUER = "http://127.0.0.1:1"
    sso._discovery_cache.clear()
    response = client.get(reverse("oidc_authentication_init"))
    assert response["Location"] == "/login/?sso=failed"


def test_sso_urls_are_404_when_not_configured(client):
    assert client.get(reverse("oidc_authentication_init")).status_code == 404
    assert client.get(reverse("oidc_authentication_callback")).status_code == 404
    assert "Sign in with" not in client.get(reverse("login")).content.decode()
