"""Duplicates, import, export and descriptors through the API and the pages: one set of services."""

import csv
import io
import json

import openpyxl
import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from inventory.choices import RiskTierChoices, VisibilityChoices
from inventory.models import KeySequence, NotDuplicate, UseCase
from inventory.services import usecases as services
from inventory.testing import TeamFactory
from portal.choices import AuditActionChoices
from portal.models import AuditEntry
from portal.roles import Role
from portal.services import api_token_create

pytestmark = pytest.mark.django_db

DOCUMENT_SEARCH = [
    ("Policy finder", "Search over our internal documents so staff find the right policy quickly."),
    (
        "Intranet answers",
        "Employees ask questions and get answers retrieved from the company wiki and handbooks.",
    ),
    ("Knowledge base search", "Semantic search across internal knowledge base articles and documents."),
]
HEADER = ["key", "name", "purpose", "team", "accountable_owner", "ai_kind", "data_sensitivity", "tags"]


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def three_teams(support_team, legal_team, make_user):
    hr_lead = make_user("hanna", Role.TEAM_LEAD, Role.TEAM_MEMBER)
    hr = TeamFactory(name="People Ops", slug="people-ops", lead=hr_lead)
    return [support_team, legal_team, hr]


@pytest.fixture
def document_search(three_teams, file_use_case):
    return [
        file_use_case(team, name=name, purpose=purpose, submit=True)
        for team, (name, purpose) in zip(three_teams, DOCUMENT_SEARCH, strict=True)
    ]


def csv_upload(rows, name="inventory.csv", header=HEADER):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode(), content_type="text/csv")


def sheet_row(name="Returns assistant", team="support-automation", owner="lena", **overrides):
    values = {"key": "", "name": name, "purpose": "Helps customers return orders from the help centre.",
              "team": team, "accountable_owner": owner, "ai_kind": "generative", "data_sensitivity": "pii",
              "tags": "support"}  # fmt: skip
    values.update(overrides)
    return [values[column] for column in HEADER]


#
# Duplicates
#


def test_the_api_finds_the_three_document_searches_and_not_the_chatbot(api, document_search, file_use_case,
                                                                      support_team):  # fmt: skip
    file_use_case(
        support_team, name="Invoice fraud scoring", purpose="Scores supplier invoices for fraud risk."
    )
    api.force_authenticate(support_team.lead)
    response = api.get("/api/use-cases/similar/", {
        "name": "Document search", "purpose": "Find answers in our internal documents and wiki pages.",
    })  # fmt: skip
    assert response.status_code == 200, response.json()
    found = {match["use_case"]["key"] for match in response.json()}
    assert found == {use_case.key for use_case in document_search}
    first = response.json()[0]
    assert 0 < first["score"] <= 1 and first["shared_terms"]
    assert first["use_case"]["url"].endswith(f"/use-cases/{first['use_case']['key']}/")


def test_similar_needs_some_words_and_says_so(api, team_member):
    api.force_authenticate(team_member)
    response = api.get("/api/use-cases/similar/", {"name": "bot"})
    assert response.status_code == 400
    assert response.json() == {"purpose": ["Give at least three words of name and purpose to compare."]}


def test_similar_never_shows_a_restricted_use_case_to_another_team(api, document_search, legal_team):
    hidden = document_search[0]
    services.usecase_update(
        use_case=hidden, actor=hidden.owning_team.lead, visibility=VisibilityChoices.RESTRICTED
    )
    api.force_authenticate(legal_team.lead)
    body = api.get(
        "/api/use-cases/similar/", {"purpose": "search over internal documents and policies"}
    ).json()
    assert hidden.key not in {match["use_case"]["key"] for match in body}
    assert (
        api.get(
            "/api/use-cases/similar/", {"purpose": "search over documents", "exclude": hidden.key}
        ).status_code
        == 404
    )


def test_clusters_and_not_duplicate_through_the_api(api, document_search, support_team, auditor):
    api.force_authenticate(support_team.lead)
    clusters = api.get("/api/use-cases/duplicates/").json()
    assert [sorted(member["key"] for member in cluster["members"]) for cluster in clusters] == [
        sorted(use_case.key for use_case in document_search)
    ]
    first, second = document_search[0], document_search[2]
    response = api.post(f"/api/use-cases/{first.key}/not-duplicate/", {"other": second.key.lower(),
                        "reason": "One is policies, the other the KB."}, format="json")  # fmt: skip
    assert response.status_code == 201, response.json()
    assert response.json()["decided_by"] == support_team.lead.username
    assert NotDuplicate.objects.filter(first=first, second=second).exists()
    pairs = {
        (pair["first"], pair["second"]) for pair in api.get("/api/use-cases/duplicates/").json()[0]["pairs"]
    }
    assert (first.key, second.key) not in pairs
    assert AuditEntry.objects.filter(
        content_type__model="notduplicate", action=AuditActionChoices.CREATE
    ).exists()

    again = api.post(f"/api/use-cases/{first.key}/not-duplicate/", {"other": second.key}, format="json")
    assert again.status_code == 201 and NotDuplicate.objects.count() == 1  # idempotent
    assert api.post(
        f"/api/use-cases/{first.key}/not-duplicate/", {"other": first.key}, format="json"
    ).json() == {"non_field_errors": ["A use case is not a duplicate of itself."]}
    assert api.post(
        f"/api/use-cases/{first.key}/not-duplicate/", {"other": "UC-9999"}, format="json"
    ).json() == {"other": ["No use case “UC-9999”."]}
    api.force_authenticate(auditor)
    assert api.post(f"/api/use-cases/{first.key}/not-duplicate/", {"other": document_search[1].key},
                    format="json").status_code == 403  # fmt: skip


#
# Export
#


def test_export_through_the_api_applies_filters_and_neutralises_formulas(api, support_team, legal_team, file_use_case,
                                                                        executive):  # fmt: skip
    file_use_case(support_team, name='=HYPERLINK("http://evil")', tags=["support"])
    file_use_case(legal_team, name="Contract summariser", tags=["legal"])
    api.force_authenticate(executive)

    response = api.get("/api/use-cases/export.csv/", {"tag": "support"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [row["name"] for row in rows] == ['\'=HYPERLINK("http://evil")']

    body = b"".join(api.get("/api/use-cases/export.json/").streaming_content)
    assert {row["name"] for row in json.loads(body)} == {'=HYPERLINK("http://evil")', "Contract summariser"}

    response = api.get("/api/use-cases/export.xlsx/", HTTP_ACCEPT="application/vnd.openxmlformats-officedocument"
                       ".spreadsheetml.sheet")  # fmt: skip
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet.max_row == 3
    exports = AuditEntry.objects.filter(action=AuditActionChoices.EXPORT)
    assert exports.count() == 3 and {entry.channel for entry in exports} == {"api"}


def test_an_export_shows_only_what_the_person_may_see(api, support_team, legal_team, file_use_case):
    file_use_case(legal_team, name="Secret M&A screening", visibility=VisibilityChoices.RESTRICTED)
    file_use_case(support_team, name="Support chatbot")
    api.force_authenticate(support_team.lead)
    body = b"".join(api.get("/api/use-cases/export.json/").streaming_content)
    assert [row["name"] for row in json.loads(body)] == ["Support chatbot"]


def test_a_read_token_exports_and_cannot_import(api, support_team, file_use_case):
    file_use_case(support_team)
    _token, secret = api_token_create(user=support_team.lead, name="reporting", scopes=["read"])
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.get("/api/use-cases/export.csv/", HTTP_ACCEPT="text/csv").status_code == 200
    response = api.post("/api/use-cases/import/", {"file": csv_upload([sheet_row()])}, format="multipart")
    assert response.status_code == 403
    assert UseCase.objects.count() == 1


#
# Import
#


def test_import_previews_then_commits_through_the_api(api, support_team):
    api.force_authenticate(support_team.lead)
    response = api.post("/api/use-cases/import/", {"file": csv_upload([sheet_row(), sheet_row("FAQ bot")])},
                        format="multipart")  # fmt: skip
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["committed"], body["errors"], [row["action"] for row in body["rows"]]) == (
        False, [], ["create", "create"]
    )  # fmt: skip
    assert not UseCase.objects.exists()

    response = api.post("/api/use-cases/import/", {"file": csv_upload([sheet_row(), sheet_row("FAQ bot")]),
                        "commit": "true"}, format="multipart")  # fmt: skip
    assert response.status_code == 200, response.json()
    assert response.json()["committed"] and response.json()["created"] == ["UC-0001", "UC-0002"]
    assert AuditEntry.objects.filter(action=AuditActionChoices.IMPORT, channel="api").count() == 1


def test_an_api_import_with_errors_names_row_and_column_and_writes_nothing(api, support_team):
    api.force_authenticate(support_team.lead)
    rows = [sheet_row(), sheet_row("Second", team="no-such-team"), sheet_row("Third", ai_kind="psychic")]
    response = api.post(
        "/api/use-cases/import/", {"file": csv_upload(rows), "commit": "true"}, format="multipart"
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [(error["row"], error["column"]) for error in errors] == [(3, "team"), (4, "ai_kind")]
    assert "no-such-team" in errors[0]["message"]
    assert not UseCase.objects.exists()


def test_a_bad_file_is_a_clear_api_error(api, support_team, auditor):
    api.force_authenticate(support_team.lead)
    upload = SimpleUploadedFile("portfolio.pdf", b"%PDF-1.7 binary", content_type="application/pdf")
    response = api.post("/api/use-cases/import/", {"file": upload}, format="multipart")
    assert response.status_code == 400
    assert "portfolio.pdf" in response.json()["file"][0]
    assert api.post("/api/use-cases/import/", {}, format="multipart").json() == {
        "file": ["No file was submitted."]
    }
    api.force_authenticate(auditor)
    assert (
        api.post(
            "/api/use-cases/import/", {"file": csv_upload([sheet_row()])}, format="multipart"
        ).status_code
        == 403
    )


def test_a_descriptor_through_the_api(api, support_team, file_use_case, legal_team):
    use_case = file_use_case(support_team, tags=["support"], submit=True)
    api.force_authenticate(support_team.lead)
    response = api.get(f"/api/use-cases/{use_case.key}/descriptor/")
    assert response.status_code == 200
    document = yaml.safe_load(response.content)
    assert (document["kind"], document["metadata"]["key"], document["spec"]["owner"]) == (
        "AIUseCase", use_case.key, {"team": "support-automation", "accountable": "lena"}
    )  # fmt: skip
    restricted = file_use_case(legal_team, name="Secret", visibility=VisibilityChoices.RESTRICTED)
    assert api.get(f"/api/use-cases/{restricted.key}/descriptor/").status_code == 404


#
# Rules behind the writes
#


def test_an_explicit_key_moves_the_sequence_past_it(support_team, file_use_case):
    file_use_case(support_team, key="UC-0041")
    assert KeySequence.objects.get(name="usecase").last_value == 41
    assert file_use_case(support_team, name="Next one").key == "UC-0042"
    with pytest.raises(services.ValidationError, match="not a use case key"):
        file_use_case(support_team, name="Odd", key="UC-ABC")


def test_the_risk_tier_is_not_edited_like_other_fields(support_team, file_use_case):
    use_case = file_use_case(support_team, risk_tier=RiskTierChoices.HIGH)
    with pytest.raises(services.ValidationError, match="risk_tier"):
        services.usecase_update(use_case=use_case, actor=support_team.lead, risk_tier=RiskTierChoices.MINIMAL)
    use_case.refresh_from_db()
    assert use_case.risk_tier == RiskTierChoices.HIGH


def test_an_inactive_person_is_not_named_as_an_owner(support_team, file_use_case, make_user):
    gone = make_user("gone", Role.TEAM_MEMBER, is_active=False)
    with pytest.raises(services.ValidationError, match="gone is no longer active"):
        file_use_case(support_team, technical_owner=gone)
    use_case = file_use_case(support_team)
    with pytest.raises(services.ValidationError, match="gone is no longer active"):
        services.usecase_update(use_case=use_case, actor=support_team.lead, data_steward=gone)


def test_an_import_cannot_reclassify_an_existing_use_case(api, support_team, file_use_case):
    use_case = file_use_case(support_team, risk_tier=RiskTierChoices.HIGH)
    api.force_authenticate(support_team.lead)
    header = [*HEADER, "risk_tier"]
    row = [*sheet_row(use_case.name, key=use_case.key, purpose=use_case.purpose), "minimal"]
    response = api.post(
        "/api/use-cases/import/", {"file": csv_upload([row], header=header)}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["column"] == "risk_tier"
    assert "only through the risk classification" in response.json()["errors"][0]["message"]


#
# The pages
#


def test_import_page_previews_then_commits(client, login, support_team):
    login(support_team.lead)
    response = client.post("/use-cases/import/", {"file": csv_upload([sheet_row(), sheet_row("FAQ bot")])})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Returns assistant" in page and "FAQ bot" in page
    assert not UseCase.objects.exists()
    response = client.post("/use-cases/import/commit/", follow=True)
    assert "Imported inventory.csv: 2 created, 0 updated, 0 unchanged." in response.content.decode()
    assert UseCase.objects.count() == 2
    # The preview is used once: a second commit asks for the file again.
    response = client.post("/use-cases/import/commit/", follow=True)
    assert "The preview expired. Upload the file again." in response.content.decode()
    assert UseCase.objects.count() == 2


def test_import_page_names_each_error_and_offers_no_commit(client, login, support_team):
    login(support_team.lead)
    response = client.post("/use-cases/import/", {"file": csv_upload([sheet_row(team="nowhere")])})
    page = response.content.decode()
    assert '<td class="num">2</td><td class="mono small">team</td>' in page and "nowhere" in page
    assert "Nothing has been written." in page
    assert "/use-cases/import/commit/" not in page
    response = client.post("/use-cases/import/", {"file": SimpleUploadedFile("x.docx", b"PK\x03\x04junk")})
    assert response.status_code == 400 and "x.docx" in response.content.decode()
    assert client.post("/use-cases/import/commit/").status_code == 302
    assert not UseCase.objects.exists()


def test_people_who_cannot_file_do_not_get_the_import_page(client, login, auditor):
    login(auditor)
    assert client.get("/use-cases/import/").status_code == 403


def test_export_page_downloads_and_descriptor_shows(client, login, support_team, file_use_case):
    use_case = file_use_case(support_team, submit=True)
    login(support_team.lead)
    response = client.get("/use-cases/export.csv", {"team": "support-automation"})
    assert response.status_code == 200
    assert 'filename="propylon-use-cases-' in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert use_case.key in text
    response = client.get(f"/use-cases/{use_case.key}/descriptor.yaml")
    assert response.status_code == 200 and yaml.safe_load(response.content)["kind"] == "AIUseCase"
    assert client.get("/use-cases/export.pdf", follow=True).status_code == 404


def test_the_duplicates_page_lists_the_cluster_and_marks_a_pair(client, login, document_search, support_team):
    login(support_team.lead)
    page = client.get("/use-cases/duplicates/").content.decode()
    assert all(use_case.key in page for use_case in document_search)
    first, second = document_search[0], document_search[1]
    response = client.post("/use-cases/duplicates/not-duplicate/", {"first": first.key, "second": second.key},
                           follow=True)  # fmt: skip
    assert f"{first.key} and {second.key} marked as not duplicates." in response.content.decode()


def test_the_similar_panel_answers_while_typing(client, login, document_search, support_team):
    login(support_team.lead)
    response = client.get("/use-cases/similar/", {"name": "Docs bot",
                          "purpose": "answers from internal documents"}, HTTP_HX_REQUEST="true")  # fmt: skip
    page = response.content.decode()
    assert sum(use_case.key in page for use_case in document_search) >= 2


# Longer than a URL may be (servers and proxies answer 414 past 4-8 KB), longer than the
# 10,000 characters a check reads.
LONG_PURPOSE = "Staff search our internal documents and the wiki for answers. " * 200


def test_the_similar_panel_takes_a_long_purpose_by_post_with_the_csrf_header(document_search, support_team):
    client = Client(enforce_csrf_checks=True)
    client.force_login(support_team.lead)
    client.get("/use-cases/new/")  # sets the CSRF cookie, as the intake page does for htmx
    token = client.cookies["csrftoken"].value

    response = client.post(
        "/use-cases/similar/",
        {"name": "Docs finder", "purpose": LONG_PURPOSE},
        HTTP_HX_REQUEST="true",
        HTTP_X_CSRFTOKEN=token,
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert sum(use_case.key in page for use_case in document_search) >= 2
    # Without the header, a forged cross-site post is refused like any other.
    assert client.post("/use-cases/similar/", {"purpose": LONG_PURPOSE}).status_code == 403


def test_the_intake_form_posts_only_the_fields_the_panel_reads(client, login, support_team):
    login(support_team.lead)
    page = client.get("/use-cases/new/").content.decode()

    purpose = page[page.index('<textarea name="purpose"') :].split(">", 1)[0]
    assert 'hx-post="/use-cases/similar/"' in purpose and "hx-get" not in purpose
    assert 'hx-params="name,purpose,tags,owning_team,exclude"' in purpose


def test_the_api_takes_a_long_purpose_by_post(api, document_search, support_team):
    api.force_authenticate(support_team.lead)

    response = api.post(
        "/api/use-cases/similar/", {"name": "Docs finder", "purpose": LONG_PURPOSE[:10_000]}, format="json"
    )

    assert response.status_code == 200, response.json()
    found = {match["use_case"]["key"] for match in response.json()}
    assert len(found & {use_case.key for use_case in document_search}) >= 2
    too_long = api.post("/api/use-cases/similar/", {"purpose": LONG_PURPOSE}, format="json")
    assert too_long.status_code == 400
    assert "10000" in str(too_long.json()["purpose"])
