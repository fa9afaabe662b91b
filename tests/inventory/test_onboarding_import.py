"""Issue 10, item 25: onboarding a portfolio imports running pilots and production systems at
their stage, by an administrator or CoE lead, attested in the trail; a team lead still cannot."""

import pytest
from django.urls import reverse

from inventory.models import UseCase
from inventory.services.importing import commit_import, parse_upload, validate_rows
from portal.models import AuditEntry
from portal.roles import Role

pytestmark = pytest.mark.django_db

HEADER = "name,purpose,team,accountable_owner,ai_kind,data_sensitivity,stage\n"


def portfolio(*rows) -> bytes:
    return (HEADER + "".join(f"{row}\n" for row in rows)).encode()


ROWS = (
    "CV screening,Ranks applicants.,support-automation,lena,predictive,pii,production",
    "Reply drafts,Drafts answers.,support-automation,lena,generative,internal,Pilot",
    "Search,Finds documents.,support-automation,lena,generative,internal,proposed",
)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.COE_LEAD])
def test_an_admin_or_coe_lead_onboards_running_systems_at_their_stage(make_user, support_team, login, role):
    importer = make_user("onboarder", role)  # not a member of the team
    preview = validate_rows(parse_upload(portfolio(*ROWS), "portfolio.csv"), user=importer)
    assert preview.is_valid, preview.error_messages()
    assert [row.onboard_stage for row in preview.rows] == ["production", "pilot", ""]
    assert preview.rows[0].changes["stage"] == ("", "production (attested onboarding)")

    result = commit_import(preview, user=importer)

    assert result.ok, result.error_messages()
    cv = UseCase.objects.get(name="CV screening")
    assert (cv.lifecycle_stage.key, cv.onboarding_attested) == ("production", True)
    assert UseCase.objects.get(name="Reply drafts").lifecycle_stage.key == "pilot"
    search = UseCase.objects.get(name="Search")
    assert (search.lifecycle_stage.key, search.onboarding_attested) == ("proposed", False)
    attested = AuditEntry.objects.filter(extra__attested_onboarding=True)
    assert sorted(entry.extra["stage"] for entry in attested) == ["pilot", "production"]
    entry = attested.get(object_id=str(cv.pk))
    assert entry.message == (
        f"Attested onboarding: {cv.key} entered the lifecycle at Production without a gate approval, "
        "attested by onboarder."
    )

    page = login(support_team.lead).get(reverse("inventory:usecase-detail", args=[cv.key])).content.decode()
    assert "no approval on record" in page
    page = (
        login(support_team.lead).get(reverse("inventory:usecase-detail", args=[search.key])).content.decode()
    )
    assert "no approval on record" not in page


def test_the_preview_page_says_which_rows_are_attested(make_user, support_team, login):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = login(make_user("coe", Role.COE_LEAD))
    response = client.post(
        reverse("inventory:usecase-import"), {"file": SimpleUploadedFile("p.csv", portfolio(*ROWS))}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "attested onboarding" in page and "2 rows enter the lifecycle past intake" in page


def test_a_team_lead_still_cannot_import_past_intake(support_team):
    preview = validate_rows(parse_upload(portfolio(ROWS[0]), "portfolio.csv"), user=support_team.lead)
    errors = {(error.row, error.column): error.message for error in preview.errors}
    assert errors[(2, "stage")].startswith(
        'a new use case cannot start at "production": stages move only through gates.'
    )
    assert "administrator or CoE lead" in errors[(2, "stage")]
    assert not commit_import(preview, user=support_team.lead).ok
    assert not UseCase.objects.exists()


def test_an_unknown_stage_is_named_for_the_onboarder(admin_user, support_team):
    preview = validate_rows(
        parse_upload(portfolio(ROWS[0].replace("production", "live")), "p.csv"), user=admin_user
    )
    errors = {(error.row, error.column): error.message for error in preview.errors}
    assert errors[(2, "stage")].startswith('"live" is not a lifecycle stage; use one of: draft, proposed')
