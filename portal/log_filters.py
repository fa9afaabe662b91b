"""Logging filters named in settings.LOGGING."""

import logging

from django.core.exceptions import PermissionDenied


class PermissionDeniedOneLine(logging.Filter):
    """A refused request (403 from PermissionDenied) is routine: someone followed a link they may
    not use. Django logs it with the exception attached, which prints a traceback per refusal and
    buries real errors; keep the one "Forbidden (Permission denied): /path" line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], PermissionDenied):
            record.exc_info = None
            record.exc_text = None
        return True
