"""Issue 10 item 2: the owning team registers what a use case is built from, adds versions,
assembles releases and sees what changed, in the UI; the API goes through the same services."""

import html

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from inventory.choices import AssetKindChoices
from inventory.models import Model, ModelVersion, Release
from inventory.models.assets import ReleaseFrozen
from inventory.services import catalog as catalog_services
from portal.models import AuditEntry

pytestmark = pytest.mark.django_db

DIGEST = "ab" * 32


@pytest.fixture
def chatbot(support_team, file_use_case):
    return file_use_case(support_team)


def _model(team, slug="support-llm", name="Support LLM"):
    return catalog_services.asset_create(
        actor=team.lead, kind=AssetKindChoices.MODEL, owning_team=team, name=name, slug=slug, provider="api"
    )


def test_an_empty_release_does_not_claim_to_pin_digests(chatbot, support_team):
    release = catalog_services.release_create(
        use_case=chatbot, actor=support_team.lead, version="0.1", code_ref="git:a"
    )
    assert release.pins_digests is False
    api = APIClient()
    api.force_authenticate(support_team.lead)
    assert api.get(f"/api/releases/{release.pk}/").json()["pins_digests"] is False
    model = _model(support_team)
    pinned = catalog_services.model_version_create(
        actor=support_team.lead, model=model, version="1", sha256=DIGEST
    )
    catalog_services.release_update(release=release, actor=support_team.lead, model_versions=[pinned])
    assert Release.objects.get(pk=release.pk).pins_digests is True


def test_a_team_lead_registers_versions_and_assembles_releases_in_the_ui(client, chatbot, support_team):
    client.force_login(support_team.lead)
    tab = client.get(
        reverse("inventory:usecase-detail", args=[chatbot.key]) + "?tab=releases"
    ).content.decode()
    assert reverse("inventory:asset-add", args=[chatbot.key, "model"]) in tab
    assert reverse("inventory:release-add", args=[chatbot.key]) in tab

    response = client.post(
        reverse("inventory:asset-add", args=[chatbot.key, "model"]),
        {"name": "Support LLM", "owning_team": support_team.pk, "provider": "api", "description": ""},
    )
    model = Model.objects.get(slug="support-llm")
    assert response["Location"] == reverse("inventory:version-add", args=[chatbot.key, "model", model.slug])
    for version, digest in (("1.0", f"sha256:{DIGEST.upper()}"), ("1.1", "cd" * 32)):
        response = client.post(
            reverse("inventory:version-add", args=[chatbot.key, "model", model.slug]),
            {"version": version, "sha256": digest, "artifact_uri": f"s3://models/llm/{version}"},
        )
        assert response.status_code == 302
    first, second = ModelVersion.objects.get(version="1.0"), ModelVersion.objects.get(version="1.1")
    assert first.sha256 == DIGEST  # the prefix and capitals people paste are normalised

    client.post(reverse("inventory:release-add", args=[chatbot.key]),
                {"version": "0.1", "code_ref": "git:111", "model_versions": [first.pk]})  # fmt: skip
    # The next release starts from what the latest pins.
    form = client.get(reverse("inventory:release-add", args=[chatbot.key])).context["form"]
    assert form.initial["model_versions"] == [first.pk]
    response = client.post(reverse("inventory:release-add", args=[chatbot.key]),
                           {"version": "0.2", "code_ref": "git:222", "model_versions": [second.pk]})  # fmt: skip
    assert response.status_code == 302
    assert list(chatbot.releases.get(version="0.2").model_versions.all()) == [second]

    page = client.get(reverse("inventory:usecase-detail", args=[chatbot.key]) + "?tab=releases")
    latest = page.context["releases"][0]
    assert latest.version == "0.2" and latest.previous.version == "0.1"
    assert {
        "kind": "Code",
        "name": "code ref",
        "change": "changed",
        "before": "git:111",
        "after": "git:222",
    } in (latest.changes)
    assert {"kind": "Model", "name": "Support LLM", "change": "changed", "before": "1.0", "after": "1.1"} in (
        latest.changes
    )
    assert "Model Support LLM: 1.0 → 1.1" in page.content.decode()
    assert AuditEntry.objects.filter(content_type__model="release").count() >= 2


def test_bad_input_is_shown_on_the_field(client, chatbot, support_team):
    client.force_login(support_team.lead)
    model = _model(support_team)
    response = client.post(
        reverse("inventory:version-add", args=[chatbot.key, "model", model.slug]),
        {"version": "1.0", "sha256": "not-a-digest"},
    )
    assert response.status_code == 200
    # It says what is accepted (capitals and a "sha256:" prefix are), not only the stored form.
    page = html.unescape(response.content.decode())
    assert "64 hexadecimal characters (0-9 and a-f, capitals accepted)" in page
    assert "prefixed with “sha256:”" in page and "lowercase hexadecimal" not in page
    with pytest.raises(ValidationError) as error:
        catalog_services.model_version_create(
            actor=support_team.lead, model=model, version="x", sha256="sha256:ABC"
        )
    assert error.value.message_dict["sha256"] == [
        "A SHA-256 digest is 64 hexadecimal characters (0-9 and a-f, capitals accepted), optionally "
        "prefixed with “sha256:”."
    ]
    one = catalog_services.model_version_create(
        actor=support_team.lead, model=model, version="1", sha256=DIGEST
    )
    two = catalog_services.model_version_create(
        actor=support_team.lead, model=model, version="2", sha256=DIGEST
    )
    response = client.post(reverse("inventory:release-add", args=[chatbot.key]),
                           {"version": "1", "code_ref": "git:a", "model_versions": [one.pk, two.pk]})  # fmt: skip
    assert "A release pins one version of each model" in response.content.decode()
    assert not chatbot.releases.exists()


def test_only_the_owning_team_writes(client, chatbot, support_team, legal_team, auditor):
    model = _model(support_team)
    other = legal_team.lead
    client.force_login(other)
    for url in (
        reverse("inventory:asset-add", args=[chatbot.key, "model"]),
        reverse("inventory:release-add", args=[chatbot.key]),
        reverse("inventory:version-add", args=[chatbot.key, "model", model.slug]),
    ):
        assert client.get(url).status_code == 403, url
        assert client.post(url, {"version": "x", "code_ref": "y", "name": "z"}).status_code == 403, url
    client.force_login(auditor)
    assert client.get(reverse("inventory:release-add", args=[chatbot.key])).status_code == 403
    with pytest.raises(PermissionDenied):
        catalog_services.release_create(use_case=chatbot, actor=other, version="1", code_ref="git:a")
    with pytest.raises(PermissionDenied):
        catalog_services.model_version_create(actor=other, model=model, version="9")
    with pytest.raises(PermissionDenied):
        catalog_services.asset_create(
            actor=other, kind="model", owning_team=support_team, name="X", provider="api"
        )
    assert not chatbot.releases.exists() and not model.versions.exists()


def test_a_restricted_use_case_answers_404_to_other_teams(client, support_team, legal_team, file_use_case):
    hidden = file_use_case(support_team, visibility="restricted")
    client.force_login(legal_team.lead)
    assert client.get(reverse("inventory:release-add", args=[hidden.key])).status_code == 404


def test_a_frozen_release_cannot_be_edited(client, chatbot, support_team):
    model = _model(support_team)
    pinned = catalog_services.model_version_create(
        actor=support_team.lead, model=model, version="1", sha256=DIGEST
    )
    release = catalog_services.release_create(use_case=chatbot, actor=support_team.lead, version="1", code_ref="git:a",
                                      model_versions=[pinned])  # fmt: skip
    client.force_login(support_team.lead)
    edit = reverse("inventory:release-edit", args=[chatbot.key, release.pk])
    assert (
        client.post(edit, {"version": "1", "code_ref": "git:b", "model_versions": [pinned.pk]}).status_code
        == 302
    )
    catalog_services.release_freeze(release=release, reason="gate request #1")
    assert client.get(edit).status_code == 403
    assert client.post(edit, {"version": "1", "code_ref": "git:c"}).status_code == 403
    with pytest.raises(ReleaseFrozen):
        catalog_services.release_update(release=release, actor=support_team.lead, notes="sneaky")
    with pytest.raises(ReleaseFrozen):  # what an approval covered keeps its digest
        catalog_services.version_update(actor=support_team.lead, item=pinned, sha256="cd" * 32)
    release.refresh_from_db()
    assert (release.code_ref, release.notes, list(release.model_versions.all())) == ("git:b", "", [pinned])
    tab = client.get(
        reverse("inventory:usecase-detail", args=[chatbot.key]) + "?tab=releases"
    ).content.decode()
    assert edit not in tab


def test_a_component_registered_from_a_use_case_is_attached(client, chatbot, support_team):
    client.force_login(support_team.lead)
    response = client.post(
        reverse("inventory:asset-add", args=[chatbot.key, "component"]),
        {"name": "Retrieval layer", "owning_team": support_team.pk, "repository_url": "git.example.com/rag"},
    )
    assert response.status_code == 302
    assert [c.name for c in chatbot.components.all()] == ["Retrieval layer"]
    assert chatbot.components.get().repository_url == "https://git.example.com/rag"


def test_the_api_uses_the_same_services(chatbot, support_team, legal_team, make_user):
    api = APIClient()
    api.force_authenticate(support_team.lead)
    response = api.post("/api/models/", {"name": "Ranker", "slug": "ranker", "owning_team": "support-automation",
                                         "provider": "in_house"}, format="json")  # fmt: skip
    assert response.status_code == 201, response.json()
    response = api.post("/api/model-versions/", {"model": "ranker", "version": "1",
                                                 "sha256": f"sha256:{DIGEST.upper()}"}, format="json")  # fmt: skip
    assert response.status_code == 201, response.json()
    assert response.json()["sha256"] == DIGEST
    version = ModelVersion.objects.get(model__slug="ranker")
    response = api.post("/api/releases/", {"use_case": chatbot.key, "version": "1", "code_ref": "git:a",
                                           "model_versions": [version.pk]}, format="json")  # fmt: skip
    assert response.status_code == 201 and response.json()["pins_digests"] is True
    catalog_services.release_freeze(release=Release.objects.get(pk=response.json()["id"]), reason="gate")
    response = api.patch(f"/api/model-versions/{version.pk}/", {"sha256": "cd" * 32}, format="json")
    assert response.status_code == 400 and "frozen release" in str(response.json())
    api.force_authenticate(legal_team.lead)
    response = api.post("/api/model-versions/", {"model": "ranker", "version": "2"}, format="json")
    assert response.status_code == 403


def test_a_member_of_the_owning_team_may_too(client, chatbot, support_team, make_user):
    member = support_team.members.exclude(pk=support_team.lead_id).first()
    assert member is not None
    client.force_login(member)
    response = client.post(
        reverse("inventory:asset-add", args=[chatbot.key, "dataset"]),
        {"name": "Tickets", "owning_team": support_team.pk, "sensitivity": "pii"},
    )
    assert response.status_code == 302
    with pytest.raises(ValidationError):
        catalog_services.asset_create(actor=member, kind="nonsense", owning_team=support_team, name="X")


def test_the_admin_shows_a_frozen_release_read_only(client, chatbot, support_team, admin_user):
    model = _model(support_team)
    pinned = catalog_services.model_version_create(
        actor=support_team.lead, model=model, version="1", sha256=DIGEST
    )
    release = catalog_services.release_create(use_case=chatbot, actor=support_team.lead, version="1", code_ref="git:a",
                                      model_versions=[pinned])  # fmt: skip
    client.force_login(admin_user)
    change = reverse("admin:inventory_release_change", args=[release.pk])
    assert 'name="_save"' in client.get(change).content.decode()
    catalog_services.release_freeze(release=release, reason="gate request #1")
    page = client.get(change)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.post(change, {"version": "2", "code_ref": "git:b"}).status_code == 403
    assert (
        client.post(reverse("admin:inventory_release_delete", args=[release.pk]), {"post": "yes"}).status_code
        == 403
    )
    model_page = client.get(reverse("admin:inventory_model_change", args=[model.pk])).content.decode()
    assert 'name="versions-0-sha256"' not in model_page  # the pinned version's digest is not editable
    release.refresh_from_db()
    assert release.code_ref == "git:a"


def test_the_releases_tab_costs_the_same_queries_however_many_releases(client, chatbot, support_team):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    model = _model(support_team)
    client.force_login(support_team.lead)
    url = reverse("inventory:usecase-detail", args=[chatbot.key]) + "?tab=releases"

    def add_releases(count):
        for _ in range(count):
            number = chatbot.releases.count() + 1
            pinned = catalog_services.model_version_create(
                actor=support_team.lead, model=model, version=str(number)
            )
            catalog_services.release_create(use_case=chatbot, actor=support_team.lead, version=str(number),
                                    code_ref=f"git:{number}", model_versions=[pinned])  # fmt: skip

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    add_releases(2)
    few = queries()
    add_releases(6)
    assert queries() == few
