"""Bulk import of use cases from CSV and XLSX: every problem named, all rows or none."""

import csv
import io
import zipfile
from types import SimpleNamespace

import openpyxl
import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.models import KeySequence, UseCase
from inventory.services import importing
from inventory.services.importing import ImportFileError, commit_import, parse_upload, validate_rows
from inventory.services.organisation import team_set_members
from inventory.services.usecases import usecase_create
from inventory.testing import TeamFactory
from portal.choices import AuditActionChoices
from portal.models import AuditEntry
from portal.roles import Role

pytestmark = pytest.mark.django_db

HEADER = ["key", "name", "purpose", "team", "accountable_owner", "ai_kind", "data_sensitivity", "customer_facing",
          "technical_owner", "tags", "stage", "repository_url"]  # fmt: skip


@pytest.fixture
def org(make_user):
    lena = make_user("lena", Role.TEAM_LEAD, Role.TEAM_MEMBER, email="lena@example.com")
    priya = make_user("priya", Role.TEAM_MEMBER)
    omar = make_user("omar", Role.TEAM_LEAD, Role.TEAM_MEMBER)
    support = TeamFactory(name="Support Automation", slug="support-automation", lead=lena, members=[priya])
    legal = TeamFactory(name="Legal Tech", slug="legal-tech", lead=omar)
    return SimpleNamespace(lena=lena, priya=priya, omar=omar, support=support, legal=legal)


def csv_bytes(rows, header=HEADER) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()


def row(name="Support chatbot", **overrides):
    values = {
        "key": "", "name": name, "purpose": "Answers customer questions from the help centre.",
        "team": "support-automation", "accountable_owner": "lena", "ai_kind": "generative",
        "data_sensitivity": "pii", "customer_facing": "yes", "technical_owner": "priya", "tags": "support, GenAI",
        "stage": "", "repository_url": "https://git.example.com/support/bot",
    }  # fmt: skip
    values.update(overrides)
    return [values[column] for column in HEADER]


def counts():
    return UseCase.objects.count(), AuditEntry.objects.count()


def import_file(content, filename, user):
    preview = validate_rows(parse_upload(content, filename), user=user)
    return preview, commit_import(preview, user=user)


def file_use_case(org, name="Existing", team=None, owner=None, **fields):
    return usecase_create(
        actor=owner or org.lena, name=name, purpose="Something useful.", owning_team=team or org.support,
        accountable_owner=owner or org.lena, ai_kind="predictive", data_sensitivity="internal", **fields,
    )  # fmt: skip


#
# The happy paths
#


def test_a_valid_csv_imports_every_row_in_one_go(org):
    content = csv_bytes([
        row("Support chatbot"),
        row("Ticket triage", key="uc-100", ai_kind="Predictive ML", data_sensitivity="Internal", customer_facing="no",
            stage="proposed", tags=""),
        row("Reply drafts", accountable_owner="lena@example.com", team="Support Automation", technical_owner=""),
    ])  # fmt: skip
    preview = validate_rows(parse_upload(content, "use-cases.csv"), user=org.lena)
    assert preview.is_valid, preview.error_messages()
    assert [r.action for r in preview.rows] == ["create", "create", "create"]
    assert preview.sheet.encoding == "UTF-8"

    result = commit_import(preview, user=org.lena)

    assert result.ok and len(result.created) == 3 and result.updated == []
    chatbot = UseCase.objects.get(name="Support chatbot")
    assert (chatbot.owning_team, chatbot.accountable_owner, chatbot.technical_owner) == (
        org.support,
        org.lena,
        org.priya,
    )
    assert chatbot.tags == ["genai", "support"] and chatbot.customer_facing and chatbot.is_draft
    triage = UseCase.objects.get(key="UC-0100")
    assert (triage.ai_kind, triage.data_sensitivity, triage.lifecycle_stage.key) == (
        "predictive",
        "internal",
        "proposed",
    )
    entry = AuditEntry.objects.get(action=AuditActionChoices.IMPORT)
    assert entry.extra == {"file": "use-cases.csv", "created": 3, "updated": 0}
    # A key chosen in a file is never handed out again by the sequence.
    assert KeySequence.objects.get(name="usecase").last_value >= 100
    assert file_use_case(org, "Later").key == "UC-0102"  # row 4 got UC-0101


def test_a_valid_xlsx_imports_all_rows_and_formula_cells_stay_literal(org):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(
        ["Name", "Purpose", "Team", "Accountable Owner", "AI Kind", "Data Sensitivity", "Customer Facing"]
    )
    sheet.append(
        [
            "Contract summaries",
            "=SUM(A1:A3)",
            "support-automation",
            "lena",
            "generative",
            "confidential",
            True,
        ]
    )
    sheet.append(
        [
            "Search over docs",
            "Finds internal documents.",
            "support-automation",
            "priya",
            "agentic",
            "internal",
            None,
        ]
    )
    buffer = io.BytesIO()
    workbook.save(buffer)

    preview, result = import_file(buffer.getvalue(), "portfolio.xlsx", org.lena)

    assert result.ok, result.error_messages()
    assert len(result.created) == 2 and preview.sheet.file_type == "xlsx"
    summaries = UseCase.objects.get(name="Contract summaries")
    assert summaries.purpose == "=SUM(A1:A3)" and summaries.customer_facing is True
    assert UseCase.objects.get(name="Search over docs").customer_facing is False


def test_formula_looking_csv_cells_are_data(org):
    _, result = import_file(
        csv_bytes([row('=HYPERLINK("http://evil","x")', purpose="=SUM(1,2)")]), "f.csv", org.lena
    )
    assert result.ok
    use_case = UseCase.objects.get()
    assert (use_case.name, use_case.purpose) == ('=HYPERLINK("http://evil","x")', "=SUM(1,2)")


def test_an_existing_key_updates_that_use_case_and_the_preview_shows_what_changes(org):
    existing = file_use_case(org, "Support chatbot", technical_owner=org.priya, tags=["support"])
    content = csv_bytes([row("Support chatbot", key=existing.key, purpose="Now with hand-over to agents.",
                             ai_kind="predictive", data_sensitivity="internal", customer_facing="", tags="support")])  # fmt: skip
    preview = validate_rows(parse_upload(content, "update.csv"), user=org.priya)
    assert preview.is_valid, preview.error_messages()
    [planned] = preview.to_update
    assert set(planned.changes) == {"purpose", "repository_url"}
    assert planned.changes["purpose"] == ("Something useful.", "Now with hand-over to agents.")

    result = commit_import(preview, user=org.priya)

    assert result.ok and result.updated == [existing.key] and result.created == []
    existing.refresh_from_db()
    assert existing.purpose == "Now with hand-over to agents." and existing.customer_facing is False
    update = AuditEntry.objects.get(
        action=AuditActionChoices.UPDATE,
        content_type=ContentType.objects.get_for_model(UseCase),
        object_id=existing.pk,
    )
    assert set(update.changes) == {"purpose", "repository_url"}


def test_cp1252_and_semicolons_are_read_and_the_encoding_is_named(org):
    content = "name;purpose;team;accountable_owner;ai_kind;data_sensitivity\nRésumé screening;Sorts CVs;support-automation;lena;predictive;pii\n"
    sheet = parse_upload(content.encode("cp1252"), "hr.csv")
    assert sheet.encoding == "Windows-1252 (cp1252)"
    assert any("Windows-1252" in warning for warning in sheet.warnings)
    assert sheet.rows[0].values["name"] == "Résumé screening"
    bom = parse_upload(b"\xef\xbb\xbf" + csv_bytes([row()]), "bom.csv")
    assert bom.encoding == "UTF-8 with BOM" and bom.columns[0] == "key"


def test_unknown_columns_are_a_warning_not_an_error(org):
    content = csv_bytes([[*row(), "whatever"]], header=[*HEADER, "Budget owner"])
    preview, result = import_file(content, "extra.csv", org.lena)
    assert result.ok
    assert any("Budget owner" in warning for warning in preview.warnings)


#
# Files that cannot be read: one clear message naming the file, nothing written
#


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
)


@pytest.mark.parametrize(
    ("content", "filename"),
    [
        (PNG, "use-cases.csv"),
        (b"name,purpose\nA,B\n", "notes.txt"),
        (b"name,purpose\nA,B\n", "portfolio.xlsx"),
        (b"PK\x03\x04 not really a zip", "broken.xlsx"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 an old workbook", "legacy.xls"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 a password-protected workbook", "locked.xlsx"),
    ],
)
def test_a_bad_file_type_is_refused_naming_the_file(org, content, filename):
    before = counts()
    with pytest.raises(ImportFileError) as refused:
        parse_upload(content, filename)
    assert "Bad file type" in str(refused.value) and filename in str(refused.value)
    assert counts() == before


def test_utf16_text_is_refused_naming_the_encodings_read(org):
    with pytest.raises(
        ImportFileError, match=r"wide\.csv is UTF-16 text; imports read UTF-8 .* or Windows-1252"
    ):
        parse_upload(csv_bytes([row()]).decode().encode("utf-16"), "wide.csv")


def test_an_xlsx_renamed_csv_is_refused(org):
    buffer = io.BytesIO()
    openpyxl.Workbook().save(buffer)
    with pytest.raises(ImportFileError, match=r"Bad file type: data\.csv is an Excel workbook"):
        parse_upload(buffer.getvalue(), "data.csv")


def test_a_missing_column_is_named_with_the_columns_found(org):
    content = b"name,purpose,team\nBot,Answers,support-automation\n"
    with pytest.raises(ImportFileError) as refused:
        parse_upload(content, "short.csv")
    message = str(refused.value)
    assert "short.csv is missing the required columns accountable_owner, ai_kind, data_sensitivity" in message
    assert "Columns found in row 1: name, purpose, team" in message


@pytest.mark.parametrize(
    "content", [b"", b"  \n\n", b"name,purpose,team,accountable_owner,ai_kind,data_sensitivity\n"]
)
def test_an_empty_file_is_refused(org, content):
    with pytest.raises(ImportFileError, match=r"empty\.csv (is empty|has a header .* but no rows)"):
        parse_upload(content, "empty.csv")


def test_an_oversized_file_names_the_limit(org):
    content = csv_bytes([row()]) + b"x" * importing.MAX_IMPORT_BYTES
    with pytest.raises(ImportFileError, match=r"big\.csv is larger than the 5 MB limit"):
        parse_upload(io.BytesIO(content), "big.csv")


def test_too_many_rows_names_the_limit(org, monkeypatch):
    monkeypatch.setattr(importing, "MAX_IMPORT_ROWS", 3)
    content = csv_bytes([row(f"Use case {n}") for n in range(4)])
    with pytest.raises(ImportFileError, match=r"many\.csv has more than 3 rows; the limit is 3"):
        parse_upload(content, "many.csv")


#
# Rows with problems: every problem with row and column, nothing written
#


def errors_of(preview):
    return {(error.row, error.column): error.message for error in preview.errors}


def assert_refused_and_nothing_written(org, content, filename="bad.csv", user=None):
    user = user or org.lena
    before = counts()
    preview = validate_rows(parse_upload(content, filename), user=user)
    result = commit_import(preview, user=user)
    assert not preview.is_valid and not result.ok
    assert counts() == before
    assert [e.describe(filename) for e in result.errors] == preview.error_messages()
    return errors_of(preview)


def test_an_unknown_team_is_named_with_row_and_column(org):
    errors = assert_refused_and_nothing_written(org, csv_bytes([row(), row("Other", team="suport")]))
    assert errors == {(3, "team"): 'unknown team "suport": use a team\'s slug or its exact name.'}


def test_one_bad_row_means_nothing_is_written(org):
    content = csv_bytes([row("First"), row("Second"), row("Third", ai_kind="magic")])
    errors = assert_refused_and_nothing_written(org, content)
    assert list(errors) == [(4, "ai_kind")]
    assert not UseCase.objects.exists()


def test_a_bad_choice_lists_the_allowed_values(org):
    errors = assert_refused_and_nothing_written(
        org, csv_bytes([row(data_sensitivity="secret", customer_facing="maybe")])
    )
    assert errors[(2, "data_sensitivity")] == (
        '"secret" is not a data sensitivity; use one of: public, internal, confidential, pii, phi.'
    )
    assert "yes or no" in errors[(2, "customer_facing")]


def test_a_duplicate_key_in_the_file_is_refused(org):
    errors = assert_refused_and_nothing_written(
        org, csv_bytes([row("A", key="UC-0500"), row("B", key="uc-500")])
    )
    assert errors == {(3, "key"): "UC-0500 is also on row 2; each use case may appear once."}


def test_a_duplicate_name_in_the_same_team_is_refused(org):
    errors = assert_refused_and_nothing_written(org, csv_bytes([row("Bot"), row("bot")]))
    assert "row 2 also has" in errors[(3, "name")]


def test_a_key_the_person_may_not_change_is_refused(org):
    theirs = file_use_case(org, "Clause finder", team=org.legal, owner=org.omar)
    errors = assert_refused_and_nothing_written(org, csv_bytes([row("Clause finder", key=theirs.key)]))
    assert errors == {(2, "key"): f"{theirs.key} exists and belongs to Legal Tech; you may not change it."}
    theirs.refresh_from_db()
    assert theirs.owning_team == org.legal


def test_a_key_of_a_use_case_the_person_cannot_see_answers_as_a_missing_one(org):
    hidden = file_use_case(org, "Board pack", team=org.legal, owner=org.omar, visibility="restricted")
    errors = assert_refused_and_nothing_written(org, csv_bytes([row("Mine", key=hidden.key)]))
    assert errors == {
        (
            2,
            "key",
        ): f"{hidden.key} is not a use case you can see. Leave the key empty to file a new use case; "
        f"a key you choose must be above {hidden.key}, the last one handed out."
    }


def test_an_owner_outside_the_team_is_refused(org):
    errors = assert_refused_and_nothing_written(org, csv_bytes([row(accountable_owner="omar")]))
    assert errors == {
        (2, "accountable_owner"): "omar is not a member of Support Automation; add them to the team first."
    }


def test_unknown_and_inactive_people_are_refused(org, make_user):
    gone = make_user("gone", Role.TEAM_MEMBER, is_active=False)
    team_set_members(team=org.support, members=[*org.support.members.all(), gone])
    errors = assert_refused_and_nothing_written(
        org, csv_bytes([row(accountable_owner="lenna"), row("B", accountable_owner="gone")])
    )
    assert errors[(2, "accountable_owner")].startswith('unknown person "lenna"')
    assert errors[(3, "accountable_owner")].startswith("gone is no longer active")


def test_a_bad_url_and_a_late_stage_are_refused(org):
    errors = assert_refused_and_nothing_written(
        org, csv_bytes([row(repository_url="git@host:repo", stage="production")])
    )
    assert "not a web address" in errors[(2, "repository_url")]
    assert "stages move only through gates" in errors[(2, "stage")]


def test_team_members_import_only_into_their_own_teams(org):
    errors = assert_refused_and_nothing_written(
        org, csv_bytes([row(team="legal-tech", accountable_owner="omar")])
    )
    assert errors == {
        (2, "team"): "you are not a member of Legal Tech; you may import only into your own teams."
    }


def test_an_admin_imports_into_any_team(org, admin_user):
    _, result = import_file(
        csv_bytes([row(team="legal-tech", accountable_owner="omar", technical_owner="")]), "a.csv", admin_user
    )
    assert result.ok and UseCase.objects.get().owning_team == org.legal


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.EXECUTIVE])
def test_auditors_and_executives_import_nothing(org, make_user, role):
    reader = make_user("reader", role)
    before = counts()
    preview, result = import_file(csv_bytes([row()]), "mine.csv", reader)
    assert preview.error_messages() == [
        "mine.csv: your roles do not allow importing use cases (filing or changing them)."
    ]
    assert not result.ok and counts() == before


def test_the_commit_validates_again(org):
    preview = validate_rows(
        parse_upload(csv_bytes([row(), row("Second", accountable_owner="priya")]), "late.csv"), user=org.lena
    )
    assert preview.is_valid
    team_set_members(team=org.support, members=[org.lena])  # priya left the team since the preview
    before = counts()
    result = commit_import(preview, user=org.lena)
    assert not result.ok and counts() == before
    assert result.error_messages() == [
        "late.csv, row 3, column accountable_owner: priya is not a member of Support Automation; add them to the team first."
    ]


def test_a_preview_survives_the_session_as_plain_data(org):
    sheet = parse_upload(csv_bytes([row()]), "kept.csv")
    again = importing.ParsedSheet.from_dict(sheet.as_dict())
    assert again == sheet
    assert commit_import(validate_rows(again, user=org.lena), user=org.lena).ok


def test_validation_queries_do_not_grow_with_the_rows(org, django_assert_max_num_queries):
    existing = [file_use_case(org, f"Existing {n}") for n in range(6)]
    small = parse_upload(csv_bytes([row("New 0"), row(existing[0].name, key=existing[0].key)]), "small.csv")
    big = parse_upload(
        csv_bytes(
            [row(f"New {n}") for n in range(6)]
            + [row(u.name, key=u.key, purpose="Changed.") for u in existing]
        ),
        "big.csv",
    )
    validate_rows(small, user=org.lena)  # the person's roles are read once and cached
    with CaptureQueriesContext(connection) as few:
        validate_rows(small, user=org.lena)
    with django_assert_max_num_queries(len(few)):
        preview = validate_rows(big, user=org.lena)
    assert (len(preview.to_create), len(preview.to_update)) == (6, 6)


#
# Issue 10, items 14 and 29: the work of reading a file is bounded
#

XLSX_HEADER = ["Name", "Purpose", "Team", "Accountable Owner", "AI Kind", "Data Sensitivity"]


def xlsx_bytes(rows, header=XLSX_HEADER) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for values in rows:
        sheet.append(values)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def cells_converted(monkeypatch):
    """Counts the cells the XLSX reader turns into text: the work done, whatever the clock says."""
    seen = {"cells": 0}
    convert = importing._xlsx_text

    def counting(value):
        seen["cells"] += 1
        if seen["cells"] > 1_000_000:
            seen["runaway"] = True
            raise RuntimeError("runaway")  # the padded rows of the original reader: stop early
        return convert(value)

    monkeypatch.setattr(importing, "_xlsx_text", counting)
    return seen


def test_a_cell_in_column_xfd_on_10000_rows_is_refused_without_padding_the_rows(org, cells_converted):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(XLSX_HEADER)
    for number in range(2, 10_002):
        sheet.cell(row=number, column=16_384, value="x")  # column XFD
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert len(buffer.getvalue()) < 100_000

    with pytest.raises(ImportFileError) as refused:
        parse_upload(buffer.getvalue(), "padded.xlsx")

    assert "padded.xlsx has more than 5,000 rows" in str(refused.value)
    assert "empty rows count too" in str(refused.value)
    assert "runaway" not in cells_converted
    # The header is read at most MAX_IMPORT_COLUMNS wide, every other row only as wide as the header.
    assert cells_converted["cells"] <= importing.MAX_IMPORT_COLUMNS + 5_001 * len(XLSX_HEADER)


def test_rows_are_read_only_as_wide_as_the_header(org, cells_converted):
    content = xlsx_bytes(
        [
            ["Bot", "Answers questions.", "support-automation", "lena", "generative", "pii"]
            + [None] * 100
            + ["far away"],
            ["Triage", "Routes tickets.", "support-automation", "lena", "predictive", "internal"],
        ]
    )
    sheet = parse_upload(content, "wide.xlsx")
    assert [row.values["name"] for row in sheet.rows] == ["Bot", "Triage"]
    assert sheet.cells_read == importing.MAX_IMPORT_COLUMNS + 2 * len(XLSX_HEADER)
    assert cells_converted["cells"] == sheet.cells_read
    assert validate_rows(sheet, user=org.lena).is_valid


def test_a_csv_with_too_many_cells_is_refused(org):
    content = csv_bytes([row()]) + b"," * (importing.MAX_IMPORT_CELLS + 10) + b"\n"
    with pytest.raises(ImportFileError, match=r"wide\.csv has more than 250,000 cells"):
        parse_upload(content, "wide.csv")


def test_an_xlsx_zip_bomb_is_refused_from_the_zip_directory(org, monkeypatch):
    content = xlsx_bytes([["Bot", "Answers.", "support-automation", "lena", "generative", "pii"]])
    bomb = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(content)) as source,
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for part in source.infolist():
            data = source.read(part)
            if part.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</worksheet>", b" " * 20_000_000 + b"</worksheet>")
            out.writestr(part.filename, data)
    assert len(bomb.getvalue()) < 100_000

    def never(*args, **kwargs):
        raise AssertionError("the workbook was opened")

    monkeypatch.setattr(openpyxl, "load_workbook", never)
    with pytest.raises(
        ImportFileError, match=r"bomb\.xlsx unpacks to 19\.\d+ MB from .* \(xl/worksheets/sheet1\.xml\)"
    ):
        parse_upload(bomb.getvalue(), "bomb.xlsx")
