"""Moving the inventory in and out: spreadsheet import with a preview, exports, descriptors."""

from pathlib import PurePath

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from inventory.selectors.exporting import EXPORT_FORMATS, export_use_cases
from inventory.selectors.usecases import use_case_for, use_case_list
from inventory.services.descriptors import descriptor_filename, dump_descriptor
from inventory.services.importing import (
    IMPORT_COLUMNS,
    MAX_IMPORT_BYTES,
    MAX_IMPORT_ROWS,
    REQUIRED_COLUMNS,
    ImportFileError,
    ImportLimits,
    ImportTooLarge,
    ParsedSheet,
    commit_import,
    may_import,
    parse_upload,
    validate_rows,
)
from inventory.tasks import check_use_case_import, import_use_cases, is_stored_upload, store_upload
from portal import jobs
from portal.choices import ChannelChoices, JobStatusChoices
from portal.models import JobRun

SESSION_KEY = "inventory_import_sheet"
IMPORT_JOBS = ("inventory.check_use_case_import", "inventory.import_use_cases")


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
        if "job" in request.GET:
            return _job_page(request, _import_job(request, request.GET["job"]))
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
        # A request reads a bounded amount; a larger file is checked by a background job.
        sheet = parse_upload(upload, upload.name, limits=ImportLimits.request())
    except ImportTooLarge as exc:
        if upload.size > MAX_IMPORT_BYTES:
            return render(request, "inventory/import.html", _import_context(file_error=str(exc)), status=400)
        return _start_check(request, upload)
    except ImportFileError as exc:
        return render(request, "inventory/import.html", _import_context(file_error=str(exc)), status=400)
    preview = validate_rows(sheet, user=request.user)
    if preview.is_valid:
        request.session[SESSION_KEY] = sheet.as_dict()
    return render(request, "inventory/import.html", _import_context(preview=preview))


def _start_check(request, upload):
    request.session.pop(SESSION_KEY, None)
    path = store_upload(upload, user=request.user)
    run = jobs.enqueue(
        check_use_case_import,
        actor=request.user,
        channel=ChannelChoices.UI,
        path=str(path),
        filename=PurePath(upload.name or "upload").name,
    )
    return redirect(f"{reverse('inventory:usecase-import')}?job={run.pk}")


def _import_job(request, job_id) -> JobRun:
    """One of the person's own import jobs, else 404 (whoever else started it)."""
    if not str(job_id or "").isdigit():
        raise Http404("No such import.")
    run = JobRun.objects.filter(pk=int(job_id), actor=request.user, task_name__in=IMPORT_JOBS).first()
    if run is None:
        raise Http404("No such import.")
    return run


def _job_page(request, run: JobRun):
    context = _import_context(run=run)
    if run.status == JobStatusChoices.SUCCEEDED and run.task_name == IMPORT_JOBS[0]:
        context["job_preview"] = run.result
    if getattr(request, "htmx", False):
        return render(request, "inventory/_import_job.html", context)
    return render(request, "inventory/import.html", context)


def _commit_job(request):
    check = _import_job(request, request.POST.get("job"))
    path = check.arguments.get("path", "")
    usable = (
        check.task_name == IMPORT_JOBS[0]
        and check.status == JobStatusChoices.SUCCEEDED
        and not check.result.get("error_count")
        and not JobRun.objects.filter(task_name=IMPORT_JOBS[1], arguments__path=path).exists()
        and is_stored_upload(path)
        and PurePath(path).name
    )
    if not usable:
        messages.error(
            request, "That check cannot be imported (it found problems, or it was imported already)."
        )
        return redirect("inventory:usecase-import")
    run = jobs.enqueue(
        import_use_cases,
        actor=request.user,
        channel=ChannelChoices.UI,
        path=path,
        filename=check.arguments.get("filename", "upload"),
    )
    return redirect(f"{reverse('inventory:usecase-import')}?job={run.pk}")


@require_POST
@login_required
def usecase_import_commit(request):
    """Write the previewed rows: all of them or, if anything changed meanwhile, none."""
    # Permission before the session check: someone who may not import is refused (403) as on
    # the upload page, not sent back to upload a file they may not import anyway.
    if not may_import(request.user):
        raise PermissionDenied("Your roles do not allow importing use cases.")
    if request.POST.get("job"):
        return _commit_job(request)
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
