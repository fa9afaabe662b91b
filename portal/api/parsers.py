"""Request parsers that refuse text no database column can hold.

PostgreSQL cannot store or even compare a NUL character (psycopg raises DataError, a 500 for
a slug lookup such as ``{"use_case": "UC\\u0000"}``), and a lone UTF-16 surrogate from a JSON
``\\ud800`` escape cannot be encoded for any database. Serializer CharFields already refuse
NUL, but related-object lookups, dict and JSON fields do not; checking the parsed body once
covers every endpoint, and the message names the field."""

from django.http import QueryDict
from rest_framework import parsers
from rest_framework.exceptions import ParseError


def _problem(text: str) -> str:
    if "\x00" in text:
        return "a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "an unpaired surrogate (\\ud800 to \\udfff)"
    return ""


def check_text(data, where: str = "") -> None:
    """Raise a 400 naming the first field whose name or text cannot be stored."""
    if isinstance(data, str):
        if problem := _problem(data):
            raise ParseError(f"“{where or 'the body'}” contains {problem}, which Propylon cannot store.")
    elif isinstance(data, dict):
        for key, value in data.items():
            name = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and (problem := _problem(key)):
                raise ParseError(f"A field name contains {problem}, which Propylon cannot store.")
            check_text(value, name)
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            check_text(value, f"{where}[{index}]")


def _check_form(data: QueryDict) -> None:
    for key, values in data.lists():
        # A form field sent once is named plainly; a repeated one by position.
        check_text({key: values[0] if len(values) == 1 else values})


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        check_text(data)
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _check_form(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        _check_form(result.data)
        return result
