"""One answer for one forbidden act: permission is decided before validation (issue 10, item 24).

A read-only person (an auditor) who posts nonsense to a write endpoint learns that they may not
write there (403), never what was wrong with the data (400): the refusal must not depend on the
payload, and must be the same answer the same act gets with a valid payload."""

import pytest
from rest_framework.test import APIClient

from portal.api.routes import router
from portal.permissions import SELF_SERVICE_MODELS
from portal.roles import Role
from portal.testing.factories import UserFactory

pytestmark = pytest.mark.django_db

# Routes where a read-only person may act: invalid data is then rightly a 400.
READ_ONLY_MAY_ACT = {
    "/api/jobs/start/",  # auditors start the audit-trail verification
    "/api/use-cases/similar/",  # a search posted for its long purpose: a read, open to readers
}
INVALID = {"name": "", "use_case": "UC-9999", "to_stage": 17, "amount": "lots", "decision": "maybe"}


def _write_routes():
    """Every list-level POST of the API router: ``create`` and custom actions."""
    for prefix, viewset, _basename in router.registry:
        model = getattr(getattr(viewset, "queryset", None), "model", None)
        if model is not None and model._meta.label_lower in SELF_SERVICE_MODELS:
            continue  # auditors manage their own tokens: invalid data is a 400 for them
        if hasattr(viewset, "create"):
            yield f"/api/{prefix}/"
        for extra in viewset.get_extra_actions():
            if not extra.detail and "post" in extra.mapping:
                yield f"/api/{prefix}/{extra.url_path}/"


def test_an_auditors_invalid_post_is_refused_not_validated():
    auditor = UserFactory(username="audrey", roles=[Role.AUDITOR])
    client = APIClient()
    client.force_authenticate(auditor)
    answers = {
        url: client.post(url, INVALID, format="json").status_code
        for url in _write_routes()
        if url not in READ_ONLY_MAY_ACT
    }
    assert answers, "the router has write routes"
    wrong = {url: code for url, code in answers.items() if code != 403}
    assert not wrong, (
        f"Write routes that answered an auditor's invalid POST with something else than 403: {wrong}"
    )


# The pages: an auditor posting nonsense to what they may see but not change is refused (403),
# not shown the form's errors (200/400) nor sent elsewhere (302).
from tests.inventory.conftest import file_use_case, support_team  # noqa: E402, F401


def test_an_auditors_invalid_page_posts_are_refused(client, make_user, support_team, file_use_case):  # noqa: F811
    from approvals.models import GatePolicy, LifecycleStage

    use_case = file_use_case(support_team, submit=True)
    auditor = make_user("audrey", Role.AUDITOR)
    client.force_login(auditor)
    urls = [
        "/use-cases/new/",
        f"/use-cases/{use_case.key}/edit/",
        f"/use-cases/{use_case.key}/reassign/",
        f"/use-cases/{use_case.key}/gates/new/",
        f"/use-cases/{use_case.key}/stage/",
        f"/use-cases/{use_case.key}/risk/",
        f"/use-cases/{use_case.key}/maturity/evidence/new/",
        "/use-cases/import/",
        "/use-cases/import/commit/",
        "/teams/new/",
        f"/teams/{support_team.slug}/edit/",
        "/gates/policies/new/",
        f"/gates/policies/{GatePolicy.objects.first().pk}/edit/",
        "/lifecycle/stages/new/",
        f"/lifecycle/stages/{LifecycleStage.objects.first().key}/edit/",
    ]
    answers = {
        url: client.post(url, {"name": "", "decision": "maybe", "to_stage": "x"}).status_code for url in urls
    }
    wrong = {url: code for url, code in answers.items() if code != 403}
    assert not wrong, f"Pages that answered an auditor's invalid POST with something else than 403: {wrong}"


def test_the_token_form_offers_a_read_only_person_only_the_read_scope(client, make_user):
    auditor = make_user("audrey", Role.AUDITOR)
    client.force_login(auditor)
    page = client.get("/account/tokens/").content.decode()
    assert 'value="read"' in page and 'value="write"' not in page
    response = client.post("/account/tokens/", {"name": "Scripts", "scopes": ["read"], "expires_in_days": 30})
    assert response.status_code == 200 and "Copy it now" in response.content.decode()
    refused = client.post("/account/tokens/", {"name": "Sneaky", "scopes": ["write"], "expires_in_days": 30})
    assert "carry only the read scope" in str(refused.context["form"].errors["scopes"])
    lead = make_user("lena", Role.TEAM_LEAD)
    client.force_login(lead)
    assert 'value="write"' in client.get("/account/tokens/").content.decode()
