"""Service-backed edit and delete pages: the one shape every create/edit/delete page has.

A page finds its object through restrict() (404 unless visible, the action checked), lets a form
check the input, calls the service that owns the write, and answers the service's ValidationError
on the form (an edit) or as a message (a delete, a button) — never a copy of that path per view."""

from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url

from portal.forms import add_service_errors
from portal.permissions import Action, can_add, get_restricted_object_or_404

T = TypeVar("T")
M = TypeVar("M", bound=Model)


def _resolve(value: T | Callable[[Any], T], obj: Any) -> T:
    """A URL or message: fixed, or computed from the object the service saved or deleted."""
    return value(obj) if callable(value) else value


def service_error_message(exc: ValidationError) -> str:
    """A service's ValidationError as one line for messages.error() (pages without a form)."""
    return " ".join(exc.messages)


def object_to_edit(
    request: HttpRequest,
    queryset: QuerySet[M],
    *,
    refusal: str,
    may_add: Callable[[], bool] | None = None,
    **lookup,
) -> M | None:
    """The object an edit page changes (404 unless the person may change it), or None on an add
    page (no lookup value), which needs the right to add (``may_add()``, default can_add())."""
    if all(value is None for value in lookup.values()):
        if not (can_add(request.user, queryset.model) if may_add is None else may_add()):
            raise PermissionDenied(refusal)
        return None
    return get_restricted_object_or_404(queryset, request.user, Action.CHANGE, **lookup)


def service_edit_view(
    request: HttpRequest,
    *,
    form,
    save: Callable[[dict], Any],
    template: str,
    context: dict,
    success_url: str | Model | Callable[[Any], str | Model],
    success_message: str | Callable[[Any], str],
) -> HttpResponse:
    """Render ``form``; on a valid POST call ``save(cleaned_data)`` (the service), then say
    ``success_message`` and redirect to ``success_url``; the service's errors go on the form."""
    if request.method == "POST" and form.is_valid():
        try:
            saved = save(dict(form.cleaned_data))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _resolve(success_message, saved))
            return redirect(_resolve(success_url, saved))
    return render(request, template, {"form": form, **context})


def service_delete_view(
    request: HttpRequest,
    queryset: QuerySet,
    *,
    delete: Callable[[Any], Any],
    success_url: str | Model | Callable[[Any], str | Model],
    success_message: str | Callable[[Any], str],
    failure_url: str | Model | Callable[[Any], str | Model] | None = None,
    cancel_url: str | Callable[[Any], str] | None = None,
    **lookup,
) -> HttpResponse:
    """Confirm, then ``delete(obj)`` (the service) on POST. The object comes from ``queryset``
    through restrict() with the delete action; a refusal by the service is shown as a message
    on ``failure_url`` (default ``success_url``)."""
    obj = get_restricted_object_or_404(queryset, request.user, Action.DELETE, **lookup)
    if request.method == "POST":
        try:
            delete(obj)
        except ValidationError as exc:
            messages.error(request, service_error_message(exc))
            return redirect(_resolve(success_url if failure_url is None else failure_url, obj))
        messages.success(request, _resolve(success_message, obj))
        return redirect(_resolve(success_url, obj))
    # Like success_url: a URL name, a path or an object (resolve_url), fixed or from the object.
    cancel = obj.get_absolute_url() if cancel_url is None else resolve_url(_resolve(cancel_url, obj))
    return render(request, "portal/confirm_delete.html", {"object": obj, "cancel_url": cancel})
