import pytest

from inventory.choices import AIKindChoices, DataSensitivityChoices
from inventory.services import usecases as services
from inventory.testing import TeamFactory
from portal.roles import Role


@pytest.fixture
def support_team(make_user):
    lead = make_user("lena", Role.TEAM_LEAD, Role.TEAM_MEMBER)
    member = make_user("priya", Role.TEAM_MEMBER)
    return TeamFactory(name="Support Automation", slug="support-automation", lead=lead, members=[member])


@pytest.fixture
def legal_team(make_user):
    lead = make_user("jonas", Role.TEAM_LEAD, Role.TEAM_MEMBER)
    return TeamFactory(name="Legal Tech", slug="legal-tech", lead=lead)


@pytest.fixture
def file_use_case():
    def file(team, *, owner=None, submit=False, **fields):
        owner = owner or team.lead
        defaults = {
            "name": "Support chatbot",
            "purpose": "Answers customers' questions about orders from the help centre articles.",
            "ai_kind": AIKindChoices.GENERATIVE,
            "data_sensitivity": DataSensitivityChoices.PII,
        }
        return services.usecase_create(
            actor=team.lead,
            owning_team=team,
            accountable_owner=owner,
            submit=submit,
            **{**defaults, **fields},
        )

    return file
