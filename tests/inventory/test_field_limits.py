"""Issue 10, item 31: the purpose and the tags have limits, the same for every way in."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from inventory.models import UseCase
from inventory.models.usecases import MAX_TAGS, PURPOSE_MAX_LENGTH, TAG_MAX_LENGTH
from inventory.services.descriptors import parse_descriptor
from inventory.services.importing import Lookups, parse_upload, plan_intent, validate_rows

pytestmark = pytest.mark.django_db

LONG_PURPOSE = "x" * (PURPOSE_MAX_LENGTH + 1)
MANY_TAGS = [f"tag{n}" for n in range(MAX_TAGS + 1)]


def test_the_service_refuses_a_long_purpose_and_too_many_or_too_long_tags(support_team, file_use_case):
    with pytest.raises(ValidationError) as refused:
        file_use_case(support_team, purpose=LONG_PURPOSE)
    assert refused.value.message_dict["purpose"] == [
        f"The purpose is {PURPOSE_MAX_LENGTH + 1} characters long; at most {PURPOSE_MAX_LENGTH} are allowed. "
        "Keep it to a few paragraphs and link to longer documents."
    ]
    with pytest.raises(ValidationError) as refused:
        file_use_case(support_team, tags=MANY_TAGS)
    assert refused.value.message_dict["tags"] == [
        f"There are {MAX_TAGS + 1} tags; at most {MAX_TAGS} are allowed."
    ]
    with pytest.raises(ValidationError, match=f"Each tag is at most {TAG_MAX_LENGTH} characters"):
        file_use_case(support_team, tags=["y" * (TAG_MAX_LENGTH + 1)])
    assert not UseCase.objects.exists()
    file_use_case(support_team, purpose="x" * PURPOSE_MAX_LENGTH, tags=MANY_TAGS[:MAX_TAGS])


def test_the_api_refuses_them_naming_the_field(support_team):
    api = APIClient()
    api.force_authenticate(support_team.lead)
    base = {
        "name": "Bot", "purpose": "Answers.", "owning_team": "support-automation",
        "accountable_owner": support_team.lead.username, "ai_kind": "generative", "data_sensitivity": "pii",
    }  # fmt: skip
    response = api.post("/api/use-cases/", {**base, "purpose": LONG_PURPOSE}, format="json")
    assert response.status_code == 400 and "purpose" in response.json()
    response = api.post("/api/use-cases/", {**base, "tags": MANY_TAGS}, format="json")
    assert response.status_code == 400 and "tags" in response.json()
    response = api.post("/api/use-cases/", {**base, "tags": ["y" * (TAG_MAX_LENGTH + 1)]}, format="json")
    assert response.status_code == 400 and "tags" in response.json()
    assert not UseCase.objects.exists()


def test_the_page_refuses_a_long_purpose(login, support_team):
    response = login(support_team.lead).post(
        reverse("inventory:usecase-add"),
        {
            "name": "Bot", "purpose": LONG_PURPOSE, "owning_team": support_team.pk,
            "accountable_owner": support_team.lead.pk, "ai_kind": "generative", "data_sensitivity": "pii",
            "human_oversight": "in_the_loop", "visibility": "normal", "tags": ", ".join(MANY_TAGS), "draft": "",
        },
    )  # fmt: skip
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "at most 10000 characters" in errors["purpose"][0]
    assert not UseCase.objects.exists()


def test_the_page_refuses_too_many_tags(login, support_team):
    response = login(support_team.lead).post(
        reverse("inventory:usecase-add"),
        {
            "name": "Bot", "purpose": "Answers.", "owning_team": support_team.pk,
            "accountable_owner": support_team.lead.pk, "ai_kind": "generative", "data_sensitivity": "pii",
            "human_oversight": "in_the_loop", "visibility": "normal", "tags": ", ".join(MANY_TAGS), "draft": "",
        },
    )  # fmt: skip
    assert response.status_code == 200
    assert response.context["form"].errors["tags"] == [
        f"There are {MAX_TAGS + 1} tags; at most {MAX_TAGS} are allowed."
    ]
    assert not UseCase.objects.exists()


def test_the_import_and_the_descriptors_refuse_them_by_row_and_field(support_team):
    header = "name,purpose,team,accountable_owner,ai_kind,data_sensitivity,tags\n"
    content = (
        header
        + f"Bot,{LONG_PURPOSE},support-automation,lena,generative,pii,\n"
        + f'Other,Answers.,support-automation,lena,generative,pii,"{", ".join(MANY_TAGS)}"\n'
    ).encode()
    preview = validate_rows(parse_upload(content, "limits.csv"), user=support_team.lead)
    errors = {(error.row, error.column): error.message for error in preview.errors}
    assert errors[(2, "purpose")].startswith(f"The purpose is {PURPOSE_MAX_LENGTH + 1} characters long")
    assert errors[(3, "tags")] == f"There are {MAX_TAGS + 1} tags; at most {MAX_TAGS} are allowed."

    intent = parse_descriptor(
        "apiVersion: propylon.dev/v1\nkind: AIUseCase\nmetadata: {name: Bot}\n"
        f"spec: {{purpose: {LONG_PURPOSE}, owner: {{team: support-automation, accountable: lena}}, "
        "aiKind: generative, dataSensitivity: pii}\n",
        "bot.yaml",
    )
    plan = plan_intent(intent, lookups=Lookups(user=support_team.lead, intents=[intent]), match_by_name=True)
    assert [name for name, _message in plan.errors] == ["purpose"]
