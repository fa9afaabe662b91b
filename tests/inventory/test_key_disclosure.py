"""Issue 10, item 28: a use case the caller may not see answers exactly as a key that does not exist.

"You may not change UC-0010 CV screening assistant" told another team's lead that UC-0010
exists and what it is. Every API write that takes a use-case key, the spreadsheet import and
the descriptors must answer for a hidden key what they answer for a missing one.
"""

import json

import pytest
from rest_framework.test import APIClient

from inventory.choices import VisibilityChoices
from inventory.models import KeySequence
from inventory.services.importing import Lookups, parse_upload, plan_intent, validate_rows

pytestmark = pytest.mark.django_db

MISSING = "UC-0999"

# (method, path, body): every API write that takes a use case's key, in the body or the path.
# "{key}" is replaced by the key under test.
WRITES = [
    ("post", "/api/releases/", {"use_case": "{key}", "version": "1.0", "code_ref": "abc123"}),
    (
        "post",
        "/api/kpis/",
        {"use_case": "{key}", "name": "Tickets deflected", "unit": "tickets", "target": "10"},
    ),
    (
        "post",
        "/api/budgets/",
        {"use_case": "{key}", "amount": "100.00", "currency": "EUR", "period": "monthly"},
    ),
    ("post", "/api/allocation-rules/", {"name": "R", "target_use_case": "{key}", "priority": 1}),
    ("post", "/api/shared-pools/", {"name": "P", "split_method": "even", "members": [{"use_case": "{key}"}]}),
    ("post", "/api/approval-requests/", {"use_case": "{key}", "release": 1, "to_stage": "pilot"}),
    ("post", "/api/approval-requests/preflight/", {"use_case": "{key}", "release": 1, "to_stage": "pilot"}),
    ("post", "/api/risk-assessments/", {"use_case": "{key}", "answers": {}}),
    ("post", "/api/risk-register/", {"use_case": "{key}", "title": "Leak", "owner": "lena"}),
    ("post", "/api/maturity-evidence/", {"use_case": "{key}", "check_key": "x", "note": "n"}),
    ("patch", "/api/use-cases/{key}/", {"name": "Renamed"}),
    ("put", "/api/use-cases/{key}/", {"name": "Renamed"}),
    ("delete", "/api/use-cases/{key}/", None),
    ("post", "/api/use-cases/{key}/submit/", {}),
    ("post", "/api/use-cases/{key}/reassign/", {"accountable_owner": "lena"}),
    ("post", "/api/use-cases/{key}/not-duplicate/", {"other": "UC-0001"}),
]


@pytest.fixture
def hidden(legal_team, file_use_case):
    return file_use_case(
        legal_team,
        name="CV screening assistant",
        purpose="Ranks applicants' CVs for the recruiters.",
        visibility=VisibilityChoices.RESTRICTED,
    )


@pytest.fixture
def mine(support_team, file_use_case):
    return file_use_case(support_team, name="Support chatbot")


def request_for(api, method, path, body, key):
    path = path.replace("{key}", key)
    data = json.loads(json.dumps(body).replace("{key}", key)) if body is not None else None
    return getattr(api, method)(path, data, format="json")


def shown(response, key):
    text = response.content.decode().replace(key, "<KEY>")
    try:
        body = json.loads(text)
    except ValueError:
        return text
    if isinstance(body, dict):
        body.pop("request_id", None)
    return body


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
def test_every_api_write_answers_a_hidden_key_as_a_missing_one(
    support_team, hidden, mine, method, path, body
):
    api = APIClient()
    api.force_authenticate(support_team.lead)
    assert hidden.key != MISSING

    for_hidden = request_for(api, method, path, body, hidden.key)
    for_missing = request_for(api, method, path, body, MISSING)

    assert (for_hidden.status_code, shown(for_hidden, hidden.key)) == (
        for_missing.status_code,
        shown(for_missing, MISSING),
    )
    assert "CV screening" not in for_hidden.content.decode()
    assert "Legal" not in for_hidden.content.decode()


def test_the_release_and_kpi_answers_are_the_field_error_of_a_missing_key(support_team, hidden):
    api = APIClient()
    api.force_authenticate(support_team.lead)
    response = api.post("/api/releases/", {"use_case": hidden.key, "version": "1.0"}, format="json")
    assert response.status_code == 400
    assert response.json()["use_case"] == [f"Object with key={hidden.key} does not exist."]


def import_errors(content, user):
    preview = validate_rows(parse_upload(content, "keys.csv"), user=user)
    return {(error.row, error.column): error.message for error in preview.errors}


def test_the_import_answers_a_hidden_key_as_a_missing_one(support_team, hidden):
    KeySequence.advance_past("usecase", 999)  # UC-0999 was handed out once and is gone now
    header = "key,name,purpose,team,accountable_owner,ai_kind,data_sensitivity\n"

    def errors_for(key):
        content = (header + f"{key},Mine,Answers.,support-automation,lena,generative,pii\n").encode()
        return {
            where: message.replace(key, "<KEY>")
            for where, message in import_errors(content, support_team.lead).items()
        }

    assert errors_for(hidden.key) == errors_for("UC-0998")
    assert errors_for(hidden.key) == {
        (2, "key"): "<KEY> is not a use case you can see. Leave the key empty to file a new use case; "
        "a key you choose must be above UC-0999, the last one handed out."
    }


def test_a_new_key_above_the_sequence_is_still_taken_as_chosen(support_team, hidden):
    content = (
        b"key,name,purpose,team,accountable_owner,ai_kind,data_sensitivity\n"
        b"UC-0500,Mine,Answers.,support-automation,lena,generative,pii\n"
    )
    preview = validate_rows(parse_upload(content, "keys.csv"), user=support_team.lead)
    assert preview.is_valid, preview.error_messages()
    assert [(row.action, row.key) for row in preview.rows] == [("create", "UC-0500")]


def test_descriptors_answer_a_hidden_key_or_name_as_a_missing_one(support_team, legal_team, hidden):
    KeySequence.advance_past("usecase", 999)

    def plan_for(intent):
        plan = plan_intent(
            intent, lookups=Lookups(user=support_team.lead, intents=[intent]), match_by_name=True
        )
        key = intent.get("key") or "<none>"
        return [(name, message.replace(key, "<KEY>")) for name, message in plan.errors]

    base = {"name": "Mine", "purpose": "Answers.", "team": "support-automation", "accountable_owner": "lena",
            "ai_kind": "generative", "data_sensitivity": "pii"}  # fmt: skip
    assert plan_for({**base, "key": hidden.key}) == plan_for({**base, "key": "UC-0998"}) != []
    # Matching by team and name never finds a use case the person cannot see.
    by_name = {
        **base,
        "name": hidden.name,
        "team": "legal-tech",
        "accountable_owner": legal_team.lead.username,
    }
    assert plan_for(by_name) == plan_for({**by_name, "name": "Nothing by this name"})
