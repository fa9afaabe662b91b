"""API errors as JSON with a clear message, never a stack trace."""

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


def api_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        # A service's full_clean() failed: report the fields the same way a serializer would.
        return Response(as_serializer_error(exc), status=status.HTTP_400_BAD_REQUEST)
    response = exception_handler(exc, context)
    if response is not None:
        return response
    request = context.get("request")
    request_id = str(getattr(request, "id", "")) if request is not None else ""
    logger.exception("Unhandled API error (request %s)", request_id)
    return Response(
        {"detail": "Propylon hit an internal error. It has been logged.", "request_id": request_id},
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
