"""Pages of billing sources and imports (administrators configure and import; executives, the
CoE and auditors read; team people have no raw billing pages)."""

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from costs.choices import AllocationStateChoices, CostImportStatusChoices, ImportFormatChoices
from costs.forms.imports import CostSourceForm, CostUploadForm
from costs.ingest.errors import CostImportError
from costs.models import AllocationState, CostImport, CostSource
from costs.policies import may_view_billing
from costs.selectors.imports import imports_visible_to, sources_visible_to, summed_line_item_totals
from costs.services.imports import cost_upload_store
from costs.services.sources import cost_source_create, cost_source_update
from costs.tasks import import_cost_source
from portal import jobs
from portal.choices import ChannelChoices
from portal.permissions import Action, can, can_add, get_restricted_object_or_404
from portal.views.generic import object_to_edit, service_edit_view

IMPORTS_PER_PAGE = 50


def _require_reader(user) -> None:
    """The billing pages are 403 for people who may read no billing data (team people: their
    cost reaches them through allocations, not the raw bill)."""
    if not may_view_billing(user):
        raise PermissionDenied("Billing data is for administrators, executives, the CoE and auditors.")


@login_required
def source_list(request):
    _require_reader(request.user)
    sources = sources_visible_to(request.user)
    current = {}
    for item in CostImport.objects.filter(source__in=sources, is_current=True).order_by(
        "billing_period_start"
    ):
        current[item.source_id] = item  # the latest current period of each source
    rows = [(source, current.get(source.pk)) for source in sources]
    return render(
        request, "costs/source_list.html", {"rows": rows, "can_add": can_add(request.user, CostSource)}
    )


@login_required
def source_detail(request, pk: int):
    source = get_restricted_object_or_404(CostSource.objects.all(), request.user, pk=pk)
    imports = imports_visible_to(request.user).filter(source=source)[:24]
    may_import = can_add(request.user, CostImport)
    # Periods whose last allocation run failed: the person who imports sees it where they look.
    allocation_failures = AllocationState.objects.filter(
        source=source, status=AllocationStateChoices.FAILED
    ).select_related("job_run")
    return render(
        request,
        "costs/source_detail.html",
        {
            "source": source,
            "imports": imports,
            "allocation_failures": allocation_failures,
            "can_change": can(request.user, Action.CHANGE, source),
            "can_import": may_import and source.enabled,
            "can_upload": may_import and source.import_format == ImportFormatChoices.FOCUS,
            "may_import_now": source.import_format == ImportFormatChoices.COST_EXPLORER
            or bool(source.location),
        },
    )


@login_required
def source_edit(request, pk: int | None = None):
    source = object_to_edit(
        request, CostSource.objects.all(), refusal="Only administrators configure cost sources.", pk=pk
    )
    form = CostSourceForm(request.POST or None, instance=source)

    def save(_data):
        arguments = form.service_arguments()
        if source is None:
            return cost_source_create(**arguments)
        return cost_source_update(
            source=source, secret_access_key=arguments.pop("secret_access_key", None), **arguments
        )

    return service_edit_view(
        request,
        form=form,
        save=save,
        template="costs/source_form.html",
        context={"source": source},
        success_url=lambda saved: saved,
        success_message=lambda saved: (
            f"Cost source “{saved.name}” {'created' if source is None else 'saved'}."
        ),
    )


@require_POST
@login_required
def source_import_now(request, pk: int):
    source = get_restricted_object_or_404(CostSource.objects.all(), request.user, pk=pk)
    if not can_add(request.user, CostImport):
        raise PermissionDenied("Only administrators run imports.")
    if source.import_format != ImportFormatChoices.COST_EXPLORER and not source.location:
        messages.error(request, f"{source.name} has no location to read; upload a file instead.")
        return redirect(source)
    run = jobs.enqueue(import_cost_source, actor=request.user, channel=ChannelChoices.UI, source_id=source.pk)
    messages.success(request, f"Import of “{source.name}” queued.")
    return redirect(run)


@login_required
def source_upload(request, pk: int):
    source = get_restricted_object_or_404(CostSource.objects.all(), request.user, pk=pk)
    if not can_add(request.user, CostImport):
        raise PermissionDenied("Only administrators upload billing files.")
    form = CostUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            path = cost_upload_store(source=source, uploaded_file=form.cleaned_data["file"])
        except CostImportError as exc:
            form.add_error("file", str(exc))
        else:
            run = jobs.enqueue(
                import_cost_source,
                actor=request.user,
                channel=ChannelChoices.UI,
                source_id=source.pk,
                location=str(path),
                remove_after=True,
            )
            messages.success(request, f"“{form.cleaned_data['file'].name}” uploaded; the import is running.")
            return redirect(run)
    return render(request, "costs/upload.html", {"form": form, "source": source})


@login_required
def import_list(request):
    _require_reader(request.user)
    imports = imports_visible_to(request.user)
    sources = sources_visible_to(request.user)
    selected_source = request.GET.get("source", "")
    if selected_source.isdigit():
        imports = imports.filter(source_id=int(selected_source))
    status = request.GET.get("status", "")
    if status in CostImportStatusChoices.values():
        imports = imports.filter(status=status)
    page = Paginator(imports, IMPORTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "costs/import_list.html",
        {
            "page": page,
            "sources": sources,
            "selected_source": selected_source,
            "status_choices": CostImportStatusChoices.CHOICES,
            "selected_status": status,
        },
    )


@login_required
def import_detail(request, pk: int):
    cost_import = get_restricted_object_or_404(
        CostImport.objects.select_related("source", "job_run", "replaced", "load"), request.user, pk=pk
    )
    checked = summed_line_item_totals(cost_import) if cost_import.is_current else {}
    totals = [
        {
            "currency": currency,
            "billed": values["billed"],
            "effective": values["effective"],
            "list": values["list"],
            "rows": values["rows"],
            "matches": (
                currency in checked
                and round(checked[currency]["billed"], 2) == round(_decimal(values["billed"]), 2)
                and checked[currency]["rows"] == values["rows"]
            ),
        }
        for currency, values in cost_import.totals.items()
    ]
    return render(
        request,
        "costs/import_detail.html",
        {
            "item": cost_import,
            "totals": totals,
            "checked": bool(checked),
            "replaced_by": cost_import.replaced_by.all(),
            # While a delivery loads, each file's job and progress; afterwards the files read.
            "load_files": (
                cost_import.load.files.select_related("job_run").order_by("position")
                if cost_import.load_id and cost_import.status == CostImportStatusChoices.RUNNING
                else []
            ),
        },
    )


def _decimal(value) -> Decimal:
    return Decimal(value)
