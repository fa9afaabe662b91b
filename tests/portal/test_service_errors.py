"""Issue 10 item 16: one converter from a service's ValidationError to what people see.

The API answers every shape as a serializer would (fields, ``non_field_errors``); forms show
every shape on the form (portal.forms.add_service_errors)."""

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from portal.api.exceptions import api_error
from portal.forms import add_service_errors

SHAPES = {
    "plain": (ValidationError("Not now."), {"__all__": ["Not now."]}),
    "list": (ValidationError(["First.", "Second."]), {"__all__": ["First.", "Second."]}),
    "dict": (
        ValidationError({"name": ["Taken."], "__all__": ["Whole."], "team": ["Gone."]}),
        {"name": ["Taken."], "__all__": ["Whole.", "Team: Gone."]},
    ),
}


class NameForm(forms.Form):
    name = forms.CharField()


@pytest.mark.parametrize("shape", SHAPES)
def test_forms_show_every_shape_of_service_error(shape):
    error, expected = SHAPES[shape]
    form = NameForm({"name": "x"})
    assert form.is_valid()
    add_service_errors(form, error)
    assert form.errors == expected


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ValidationError("Not now."), {"non_field_errors": ["Not now."]}),
        (ValidationError(["First.", "Second."]), {"non_field_errors": ["First.", "Second."]}),
        (
            ValidationError({"name": ["Taken."], "__all__": ["Whole."]}),
            {"name": ["Taken."], "non_field_errors": ["Whole."]},
        ),
    ],
)
def test_the_api_answers_every_shape_as_a_serializer_does(error, expected):
    assert api_error(error).detail == expected


@pytest.mark.django_db
def test_a_plain_message_from_a_service_is_shown_on_the_form_not_a_crash(client, team_member, monkeypatch):
    # The token page read exc.message_dict, which a plain-message ValidationError does not have.
    def refuse(**kwargs):
        raise ValidationError("Tokens are paused for maintenance.")

    monkeypatch.setattr("portal.views.tokens.api_token_create", refuse)
    client.force_login(team_member)
    response = client.post(reverse("portal:tokens"), {"name": "r", "scopes": ["read"], "expires_in_days": 30})
    assert response.status_code == 200
    assert "Tokens are paused for maintenance." in response.content.decode()


@pytest.mark.django_db
def test_a_plain_service_error_through_the_api_is_non_field_errors(admin_user, monkeypatch):
    def refuse(**kwargs):
        raise ValidationError("Tokens are paused for maintenance.")

    monkeypatch.setattr("portal.api.tokens.api_token_create", refuse)
    api = APIClient()
    api.force_authenticate(admin_user)
    response = api.post("/api/tokens/", {"name": "ci", "scopes": ["read"]}, format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Tokens are paused for maintenance."]}


@pytest.mark.django_db
def test_search_with_a_nul_character_answers_the_one_error_shape(admin_user):
    api = APIClient()
    api.force_authenticate(admin_user)
    # DRF's SearchFilter answers a bare list; the handler gives it the non-field key.
    response = api.get("/api/use-cases/", {"search": "a\x00"})
    assert response.status_code == 400
    assert isinstance(response.json(), dict)


def test_a_bare_validation_error_in_a_view_gets_the_non_field_key():
    from rest_framework import exceptions

    from portal.api.exceptions import api_exception_handler

    response = api_exception_handler(exceptions.ValidationError("Bad."), {})
    assert response.status_code == 400
    assert response.data == {"non_field_errors": ["Bad."]}
