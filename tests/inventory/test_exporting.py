"""Exports: the import's columns, formula injection neutralised, and a clean round trip."""

import csv
import io
import json
from types import SimpleNamespace

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from approvals.models import LifecycleStage
from inventory.models import UseCase
from inventory.selectors.exporting import EXPORT_COLUMNS, export_use_cases
from inventory.services.importing import IMPORT_COLUMNS, commit_import, parse_upload, validate_rows
from inventory.services.usecases import usecase_create
from inventory.testing import TeamFactory
from portal.choices import AuditActionChoices
from portal.models import AuditEntry
from portal.permissions import restrict
from portal.roles import Role

pytestmark = pytest.mark.django_db

EVIL = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture
def org(make_user):
    lena = make_user("lena", Role.TEAM_LEAD, Role.TEAM_MEMBER)
    priya = make_user("priya", Role.TEAM_MEMBER)
    support = TeamFactory(name="Support Automation", slug="support-automation", lead=lena, members=[priya])
    return SimpleNamespace(lena=lena, priya=priya, support=support)


def file_use_case(org, name, **fields):
    values = {
        "purpose": "Answers questions.\nSecond line.",
        "ai_kind": "generative",
        "data_sensitivity": "pii",
    } | fields
    return usecase_create(
        actor=org.lena, name=name, owning_team=org.support, accountable_owner=org.lena, **values
    )


@pytest.fixture
def portfolio(org):
    chatbot = file_use_case(
        org, EVIL, technical_owner=org.priya, tags=["support", "genai"], customer_facing=True,
        repository_url="https://git.example.com/bot", purpose="-1 tickets a day", submit=True,
    )  # fmt: skip
    triage = file_use_case(
        org, "Ticket triage", ai_kind="predictive", data_sensitivity="internal", risk_tier="minimal"
    )
    pilot = LifecycleStage.objects.get(key="pilot")
    UseCase.objects.filter(pk=triage.pk).update(lifecycle_stage=pilot)
    file_use_case(org, "Reply drafts", visibility="restricted", human_oversight="on_the_loop")
    return chatbot


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def exported(user, file_format):
    return export_use_cases(restrict(UseCase.objects.all(), user), file_format=file_format)


def test_csv_export_has_the_import_columns_and_neutralises_formulas(org, portfolio):
    response = exported(org.lena, "csv")
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="propylon-use-cases-{today}.csv"'
    rows = list(csv.DictReader(io.StringIO(body(response).decode("utf-8-sig"))))
    assert list(rows[0]) == list(IMPORT_COLUMNS) == list(EXPORT_COLUMNS)
    chatbot = next(r for r in rows if r["key"] == portfolio.key)
    assert chatbot["name"] == "'" + EVIL and chatbot["purpose"] == "'-1 tickets a day"
    assert (chatbot["team"], chatbot["accountable_owner"], chatbot["technical_owner"]) == (
        "support-automation",
        "lena",
        "priya",
    )
    assert (chatbot["tags"], chatbot["customer_facing"], chatbot["stage"]) == (
        "genai, support",
        "yes",
        "proposed",
    )
    assert {r["stage"] for r in rows} == {"proposed", "pilot", "draft"}
    entry = AuditEntry.objects.filter(action=AuditActionChoices.EXPORT).get()
    assert entry.extra == {"format": "csv", "rows": 3, "model": "inventory.usecase"}


def test_xlsx_export_writes_strings_with_the_guard(org, portfolio):
    response = exported(org.lena, "xlsx")
    assert response["Content-Disposition"].endswith('.xlsx"')
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    header = [cell.value for cell in sheet[1]]
    assert header == list(EXPORT_COLUMNS)
    cells = {cell.value: cell for row in sheet.iter_rows(min_row=2) for cell in row}
    name_cell = cells["'" + EVIL]
    assert name_cell.data_type == "s"
    assert not any(cell.data_type == "f" for cell in cells.values())
    assert AuditEntry.objects.filter(action=AuditActionChoices.EXPORT).get().extra["format"] == "xlsx"


def test_json_export_lists_tags_as_a_list(org, portfolio):
    records = json.loads(body(exported(org.lena, "json")))
    chatbot = next(r for r in records if r["key"] == portfolio.key)
    assert chatbot["tags"] == ["genai", "support"]
    assert chatbot["customer_facing"] is True and chatbot["name"] == EVIL
    assert chatbot["business_sponsor"] is None
    assert AuditEntry.objects.filter(action=AuditActionChoices.EXPORT).get().extra == {
        "format": "json", "rows": 3, "model": "inventory.usecase"
    }  # fmt: skip


@pytest.mark.parametrize(("file_format", "filename"), [("csv", "export.csv"), ("xlsx", "export.xlsx")])
def test_an_export_re_imports_without_creating_or_changing_anything(org, portfolio, file_format, filename):
    content = body(exported(org.lena, file_format))
    before = {use_case.pk: use_case.updated_at for use_case in UseCase.objects.all()}
    updates = AuditEntry.objects.filter(action=AuditActionChoices.UPDATE).count()

    preview = validate_rows(parse_upload(content, filename), user=org.lena)
    assert preview.is_valid, preview.error_messages()
    assert (len(preview.to_create), len(preview.to_update), len(preview.unchanged)) == (0, 0, 3)
    result = commit_import(preview, user=org.lena)

    assert result.ok and result.created == [] and result.updated == [] and result.unchanged == 3
    assert {use_case.pk: use_case.updated_at for use_case in UseCase.objects.all()} == before
    assert AuditEntry.objects.filter(action=AuditActionChoices.UPDATE).count() == updates


def test_the_export_shows_only_what_the_queryset_holds(org, portfolio, make_user):
    outsider = make_user("omar", Role.TEAM_MEMBER)
    records = json.loads(body(exported(outsider, "json")))
    assert {r["name"] for r in records} == {EVIL, "Ticket triage"}  # the restricted one is not theirs


@pytest.mark.parametrize("file_format", ["csv", "xlsx", "json"])
def test_export_queries_do_not_grow_with_the_rows(org, portfolio, file_format):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            body(exported(org.lena, file_format))
        return len(captured)

    queries()  # the person's roles are read once and cached on the user
    few = queries()
    for n in range(5):
        file_use_case(
            org, f"More {n}", technical_owner=org.priya, business_sponsor=org.lena, submit=bool(n % 2)
        )
    assert queries() == few


def test_an_unknown_format_is_refused(org):
    with pytest.raises(ValueError, match="choose one of: csv, xlsx, json"):
        export_use_cases(UseCase.objects.none(), file_format="pdf")
