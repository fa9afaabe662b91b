"""Issue 10 items 15 and 33: bad input is a documented 4xx with a message, never a 500."""

import pytest
from rest_framework.test import APIClient

from portal.demo import load_demo_portfolio
from portal.testing.factories import JobRunFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


@pytest.fixture
def schema(api):
    return api.get("/api/schema/", {"format": "json"}).json()


#
# NUL characters and unknown addresses (item 15)
#


@pytest.mark.parametrize(
    "url",
    [
        "/api/teams/a%00/",
        "/api/use-cases/UC%00/",
        "/api/use-cases/?search=a%00",
        "/api/use-cases/?owning_team=%00",
        "/api/audit/?q=x&actor=%00",
    ],
)
def test_a_nul_in_an_api_address_is_a_400_with_a_message(api, url):
    response = api.get(url)
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_a_nul_in_a_page_address_is_a_400_page(client, admin_user):
    client.force_login(admin_user)
    for url in ["/use-cases/UC%00/", "/use-cases/?q=a%00"]:
        response = client.get(url)
        assert response.status_code == 400
        assert "could not be understood" in response.content.decode()


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/model-versions/", {"model": "gpt\x00", "version": "1"}, "model"),
        ("/api/risk-assessments/", {"use_case": "UC-0001\x00", "answers": {}}, "use_case"),
        ("/api/teams/", {"name": "Ops", "business_unit": "x\x00"}, "business_unit"),
        ("/api/releases/", {"use_case": "UC-0001\x00", "version": "1"}, "use_case"),
        ("/api/kpis/", {"use_case": "UC-0001\x00", "name": "k"}, "use_case"),
        ("/api/teams/", {"name": "Ops", "members": ["a", "b\x00"]}, "members[1]"),
    ],
)
def test_text_no_database_can_store_is_refused_naming_the_field(api, url, body, field):
    # On PostgreSQL a NUL in a slug lookup raised DataError, a 500.
    response = api.post(url, body, format="json")
    assert response.status_code == 400
    assert f"“{field}” contains a NUL character" in response.json()["detail"]


def test_a_nul_in_a_multipart_field_is_refused(api):
    response = api.post("/api/teams/", {"name": "Ops", "business_unit": "x\x00"}, format="multipart")
    assert response.status_code == 400
    assert "“business_unit” contains a NUL character" in response.json()["detail"]


def test_a_nul_in_an_update_is_refused(api):
    load_demo_portfolio()
    response = api.patch("/api/use-cases/UC-0002/", {"owning_team": "support\x00"}, format="json")
    assert response.status_code == 400
    assert "“owning_team” contains a NUL character" in response.json()["detail"]


def test_an_unpaired_surrogate_is_refused(api):
    response = api.generic("POST", "/api/teams/", '{"name": "\\ud800"}', content_type="application/json")
    assert response.status_code == 400
    assert "unpaired surrogate" in response.json()["detail"]


def test_an_unknown_api_address_is_a_json_404(api):
    response = api.get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_an_error_for_a_file_download_says_it_is_json(api):
    response = api.get("/api/use-cases/UC-9999/descriptor/", HTTP_ACCEPT="application/yaml")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"]


#
# page_size (item 33)
#


@pytest.mark.parametrize("page_size", ["abc", "", "null", "0", "-1", "501", "1.5", "٣"])
def test_page_size_must_be_a_whole_number_in_range(api, page_size):
    response = api.get("/api/jobs/", {"page_size": page_size})
    assert response.status_code == 400
    assert response.json() == {"page_size": [f"A whole number from 1 to 500, not “{page_size}”."]}


def test_page_size_in_range_is_honoured(api):
    for _ in range(3):
        JobRunFactory()
    assert len(api.get("/api/jobs/", {"page_size": "2"}).json()["results"]) == 2
    assert len(api.get("/api/jobs/", {"page_size": "500"}).json()["results"]) == 3


def test_page_size_is_documented_as_a_bounded_integer(schema):
    parameters = {p["name"]: p for p in schema["paths"]["/api/jobs/"]["get"]["parameters"]}
    assert parameters["page_size"]["schema"] == {"type": "integer", "minimum": 1, "maximum": 500}


#
# The schema tells the truth (item 33)
#


def test_every_operation_documents_the_generic_errors(schema):
    undocumented = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            expected = {"400", "401", "403", "404", "429"}
            if method in {"post", "put", "patch"}:
                expected.add("413")
            if missing := expected - set(operation["responses"]):
                undocumented.append(f"{method.upper()} {path}: {sorted(missing)}")
    assert not undocumented
    assert schema["components"]["schemas"]["Error"]["properties"]["detail"] == {"type": "string"}


NULLABLE = [
    ("ApprovalRequest", "requested_by"),
    ("ApprovalRequest", "revoked_by"),
    ("ApprovalEvent", "actor"),
    ("MaturityEvidence", "added_by"),
    ("MaturityEvidence", "withdrawn_by"),
    ("MaturityAssessment", "assessed_by"),
    ("RiskAssessment", "assessed_by"),
    ("CostAllocation", "team"),
    ("CostAllocation", "use_case"),
    ("KpiReading", "recorded_by"),
    ("UseCase", "lifecycle_stage"),
    ("BusinessUnit", "head_detail"),
    ("JobRun", "actor"),
    ("UseCaseMaturity", "assessment"),
]


def test_fields_that_can_be_null_are_documented_nullable(schema):
    components = schema["components"]["schemas"]
    wrong = [
        f"{component}.{field}"
        for component, field in NULLABLE
        if components[component]["properties"][field].get("nullable") is not True
    ]
    assert not wrong


def test_the_import_report_documents_its_null_before_values(schema):
    changes = schema["components"]["schemas"]["ImportRow"]["properties"]["changes"]
    assert changes["additionalProperties"]["items"].get("nullable") is True


def test_a_form_body_over_the_limit_is_a_413_not_a_500(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post("/api/teams/", {"name": "x" * 2000}, format="multipart")
    assert response.status_code == 413
    body = response.json()
    assert body["detail"].startswith("The request is larger than the 1,000 bytes this portal accepts")
    assert body["request_id"] == response["X-Request-ID"]
