"""Export use cases as CSV, XLSX or JSON, with the import's columns so an export re-imports cleanly.

The caller passes a queryset it has already restricted to what the person may see
(``restrict(UseCase.objects.all(), user)``) and filtered; this module only shapes it. Stage is
its key ("draft" when unsubmitted), people are usernames, tags are comma-joined in
spreadsheets and a list in JSON. Spreadsheet cells are neutralised against formula injection
(portal.exports.safe_cell); the importer strips that guard again.
"""

import io
from collections.abc import Iterator

from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone

from inventory.services.importing import IMPORT_COLUMNS, PEOPLE_FIELDS
from portal import audit
from portal.exports import csv_response, json_response, safe_cell

EXPORT_FORMATS = ("csv", "xlsx", "json")
EXPORT_COLUMNS = IMPORT_COLUMNS
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CHUNK_SIZE = 1000

__all__ = [
    "EXPORT_COLUMNS",
    "EXPORT_FORMATS",
    "export_csv",
    "export_filename",
    "export_json",
    "export_use_cases",
    "export_xlsx",
    "use_case_records",
]


def export_filename(extension: str) -> str:
    """``propylon-use-cases-2026-11-22.csv`` (today's date)."""
    return f"propylon-use-cases-{timezone.localdate().isoformat()}.{extension}"


def _prepared(queryset: QuerySet) -> QuerySet:
    # Everything a row touches comes in the same query: the count does not grow with the rows.
    return queryset.select_related("owning_team", "lifecycle_stage", *PEOPLE_FIELDS)


def use_case_records(queryset: QuerySet) -> Iterator[dict]:
    """One dict per use case with the export columns; tags a list, customer_facing a bool."""
    for use_case in _prepared(queryset).iterator(chunk_size=CHUNK_SIZE):
        record = {
            "key": use_case.key,
            "name": use_case.name,
            "purpose": use_case.purpose,
            "team": use_case.owning_team.slug,
        }
        for name in PEOPLE_FIELDS:
            person = getattr(use_case, name)
            record[name] = person.get_username() if person is not None else None
        record.update(
            ai_kind=use_case.ai_kind,
            data_sensitivity=use_case.data_sensitivity,
            customer_facing=use_case.customer_facing,
            human_oversight=use_case.human_oversight,
            visibility=use_case.visibility,
            risk_tier=use_case.risk_tier,
            stage=use_case.lifecycle_stage.key if use_case.lifecycle_stage_id else "draft",
            repository_url=use_case.repository_url,
            runbook_url=use_case.runbook_url,
            dashboard_url=use_case.dashboard_url,
            tags=list(use_case.tags or []),
        )
        yield record


def _spreadsheet_row(record: dict) -> list[str]:
    """A record as the text cells a spreadsheet shows (before the formula guard)."""
    cells = []
    for column in EXPORT_COLUMNS:
        value = record[column]
        if column == "tags":
            value = ", ".join(value)
        elif column == "customer_facing":
            value = "yes" if value else "no"
        cells.append("" if value is None else str(value))
    return cells


def _record_export(file_format: str, rows: int) -> None:
    audit.record(
        audit.AuditActionChoices.EXPORT,
        message=f"Exported {rows} use case{'s' if rows != 1 else ''} as {file_format.upper()}.",
        extra={"format": file_format, "rows": rows, "model": "inventory.usecase"},
    )


def export_csv(queryset: QuerySet) -> StreamingHttpResponse:
    """Streamed CSV (UTF-8 with BOM, for Excel); every cell through safe_cell."""
    _record_export("csv", queryset.count())
    rows = (_spreadsheet_row(record) for record in use_case_records(queryset))
    return csv_response(export_filename("csv"), EXPORT_COLUMNS, rows)


def export_json(queryset: QuerySet) -> StreamingHttpResponse:
    """Streamed JSON array of records (tags as a list, customer_facing as true/false)."""
    _record_export("json", queryset.count())
    return json_response(export_filename("json"), use_case_records(queryset))


def export_xlsx(queryset: QuerySet) -> HttpResponse:
    """An Excel workbook built with openpyxl's write-only mode (rows are not kept in memory)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    rows = 0
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Use cases")
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)

    def text_cell(value: str, *, header: bool = False) -> WriteOnlyCell:
        # Strings stay strings: the guard keeps a leading "=" from being read as a formula, and
        # the explicit type keeps numbers-as-text ("0042") and dates-as-text as they are.
        cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", safe_cell(value)))
        cell.data_type = "s"
        if header:
            cell.font = bold
        return cell

    sheet.append([text_cell(column, header=True) for column in EXPORT_COLUMNS])
    for record in use_case_records(queryset):
        sheet.append([text_cell(value) for value in _spreadsheet_row(record)])
        rows += 1
    buffer = io.BytesIO()
    workbook.save(buffer)
    _record_export("xlsx", rows)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{export_filename("xlsx")}"'
    return response


def export_use_cases(queryset: QuerySet, *, file_format: str) -> HttpResponse | StreamingHttpResponse:
    """The export response for ``file_format`` (csv, xlsx or json); ValueError for others."""
    exporters = {"csv": export_csv, "xlsx": export_xlsx, "json": export_json}
    try:
        exporter = exporters[file_format.lower()]
    except KeyError:
        raise ValueError(
            f'Unknown export format "{file_format}"; choose one of: {", ".join(EXPORT_FORMATS)}.'
        ) from None
    return exporter(queryset)
