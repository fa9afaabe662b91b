"""Issue 10, item 31: a body over DATA_UPLOAD_MAX_MEMORY_SIZE answers 413 with a message."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_limit(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000


def test_an_api_body_over_the_limit_answers_413_json(client, admin_user, small_limit):
    client.force_login(admin_user)
    response = client.post(
        "/api/releases/", data=json.dumps({"notes": "x" * 5_000}), content_type="application/json"
    )
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["detail"].startswith("The request is larger than the 2,000 bytes this portal accepts")
    assert body["request_id"] == response["X-Request-ID"]


def test_an_api_form_body_over_the_limit_answers_413_json(client, admin_user, small_limit):
    client.force_login(admin_user)
    response = client.post("/api/use-cases/", data={"purpose": "x" * 5_000})
    assert response.status_code == 413
    assert "Nothing was saved" in response.json()["detail"]


def test_a_page_form_over_the_limit_answers_a_413_page(client, admin_user, small_limit):
    client.force_login(admin_user)
    response = client.post("/use-cases/new/", data={"name": "Bot", "purpose": "x" * 5_000})
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "That request is too large" in page and "2,000 bytes" in page


def test_uploaded_files_do_not_count_toward_the_limit(client, admin_user, small_limit):
    client.force_login(admin_user)
    content = (
        b"name,purpose,team,accountable_owner,ai_kind,data_sensitivity\n"
        + b"Bot,x,t,admin,generative,pii\n" * 200
    )
    assert len(content) > 2_000
    response = client.post("/use-cases/import/", {"file": SimpleUploadedFile("u.csv", content)})
    assert response.status_code != 413
    assert b"Preview of u.csv" in response.content
