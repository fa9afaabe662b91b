"""Moving the inventory in and out: spreadsheet import with a preview, exports, descriptors."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from inventory.descriptors import descriptor_filename, dump_descriptor
from inventory.exporting import EXPORT_FORMATS, export_use_cases
from inventory.importing import (
    IMPORT_COLUMNS,
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ROWS,
    REQUIRED_COLUMNS,
    ImportFileError,
    ParsedSheet,
    commit_import,
    may_import,
    parse_upload,
    validate_rows,
)
from inventory.selectors import use_case_for, use_case_list

SESSION_KEY = "inventory_import_sheet"


@login_required
def usecase_export(request, fmt: str):
    if fmt not in EXPORT_FORMATS:
        raise PermissionDenied("Unknown export format.")
    _filterset, use_cases = use_case_list(user=request.user, params=request.GET)
    return export_use_cases(use_cases, file_format=fmt)


def _import_context(**extra) -> dict:
    return {
        "columns": IMPORT_COLUMNS,
        "required": REQUIRED_COLUMNS,
        "max_megabytes": MAX_IMPORT_BYTES // (1024 * 1024),
        "max_rows": MAX_IMPORT_ROWS,
        **extra,
    }


@login_required
def usecase_import(request):
    """Upload a CSV or XLSX; every row is validated and shown before anything is written."""
    if not may_import(request.user):
        raise PermissionDenied("Your roles do not allow importing use cases.")
    if request.method != "POST":
        request.session.pop(SESSION_KEY, None)
        return render(request, "inventory/import.html", _import_context())
    upload = request.FILES.get("file")
    if upload is None:
        return render(
            request,
            "inventory/import.html",
            _import_context(file_error="Choose a CSV or XLSX file to upload."),
            status=400,
        )
    try:
        sheet = parse_upload(upload, upload.name)
    except ImportFileError as exc:
        return render(request, "inventory/import.html", _import_context(file_error=str(exc)), status=400)
    preview = validate_rows(sheet, user=request.user)
    if preview.is_valid:
        request.session[SESSION_KEY] = sheet.as_dict()
    return render(request, "inventory/import.html", _import_context(preview=preview))


@require_POST
@login_required
def usecase_import_commit(request):
    """Write the previewed rows: all of them or, if anything changed meanwhile, none."""
    # Permission before the session check: someone who may not import is refused (403) as on
    # the upload page, not sent back to upload a file they may not import anyway.
    if not may_import(request.user):
        raise PermissionDenied("Your roles do not allow importing use cases.")
    data = request.session.pop(SESSION_KEY, None)
    if data is None:
        messages.error(request, "The preview expired. Upload the file again.")
        return redirect("inventory:usecase-import")
    sheet = ParsedSheet.from_dict(data)
    result = commit_import(validate_rows(sheet, user=request.user), user=request.user)
    if not result.ok:
        return render(
            request,
            "inventory/import.html",
            _import_context(commit_errors=result.error_messages(), filename=sheet.filename),
            status=400,
        )
    messages.success(
        request,
        f"Imported {sheet.filename}: {len(result.created)} created, {len(result.updated)} updated, "
        f"{result.unchanged} unchanged.",
    )
    return redirect("inventory:usecase-list")


@login_required
def usecase_descriptor(request, key: str):
    """The use case as a catalog-as-code YAML descriptor (apply with `propylon sync_descriptors`)."""
    use_case = use_case_for(user=request.user, key=key)
    response = HttpResponse(dump_descriptor(use_case), content_type="application/yaml; charset=utf-8")
    disposition = "attachment" if request.GET.get("download") else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{descriptor_filename(use_case)}"'
    return response
