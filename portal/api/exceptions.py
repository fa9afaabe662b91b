"""API errors as JSON with a clear message, never a stack trace.

One shape for every error (docs/architecture.md, API): a 400 for bad input carries the field
names with their messages and ``non_field_errors`` for the rest, exactly as a serializer's
``is_valid()`` reports; every other error carries a ``detail`` string."""

import logging

from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

from portal.middleware import request_too_large_message

logger = logging.getLogger(__name__)


def api_error(exc: DjangoValidationError, *, field: str = "") -> exceptions.ValidationError:
    """A service's ValidationError (plain message, list or field dict) as the API's 400.

    ``field`` nests a service's field errors under the request field they came from (the risk
    answers are one JSON object in the request). The exception handler below uses this too, so
    a view may also simply let the service's exception propagate."""
    detail = as_serializer_error(exc)
    if NON_FIELD_ERRORS in detail:
        # full_clean()'s clean() errors: the key a serializer's validate() errors use.
        detail.setdefault(api_settings.NON_FIELD_ERRORS_KEY, []).extend(detail.pop(NON_FIELD_ERRORS))
    if field and hasattr(exc, "error_dict"):
        detail = {field: detail}
    return exceptions.ValidationError(detail)


def api_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        # A service's full_clean() failed: report the fields the same way a serializer would.
        exc = api_error(exc)
    request = context.get("request")
    request_id = str(getattr(request, "id", "")) if request is not None else ""
    if isinstance(exc, RequestDataTooBig):
        # Django refuses a form body over DATA_UPLOAD_MAX_MEMORY_SIZE while DRF parses it; the
        # answer is the one RequestTooLargeMiddleware gives any other body that is too large.
        return Response(
            {"detail": request_too_large_message(), "request_id": request_id},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, SuspiciousOperation):
        # Too many fields or files, a malformed multipart body: the client's fault, not ours.
        exc = exceptions.ParseError(f"The request could not be read: {exc}")
    response = exception_handler(exc, context)
    if response is not None:
        if isinstance(exc, exceptions.ValidationError) and not isinstance(response.data, dict):
            # ValidationError("message") or a list (e.g. SearchFilter's null-character check)
            # would answer a bare list: give it the key a serializer uses for non-field errors.
            response.data = {api_settings.NON_FIELD_ERRORS_KEY: response.data}
        return response
    logger.exception("Unhandled API error (request %s)", request_id)
    return Response(
        {"detail": "Propylon hit an internal error. It has been logged.", "request_id": request_id},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
