"""OpenAPI description of our authentication, so the schema documents how to call the API."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "portal.api.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>` (or `Bearer <key>`) with a key from `propylon create_api_token`.",
        }


# Every operation can answer these (authentication, permissions, a lookup that finds nothing or
# nothing visible, bad query parameters, throttling). Documenting them once here keeps the
# schema true without an @extend_schema on each of the ~150 operations.
ERROR_RESPONSES = {
    "400": "Bad input: each field named with its messages, `non_field_errors` for the rest.",
    "401": "Not signed in, or the token is unknown, expired or revoked.",
    "403": "Signed in but not allowed: role, ownership or the token's scope.",
    "404": "No such object, or none the caller may see.",
    "429": "Too many requests; retry after the seconds in `Retry-After`.",
}
# Only requests with a body can be too large, or of a media type no parser of the operation reads
# (DRF answers 415 before the view runs, e.g. for a multipart body whose type it cannot tell).
BODY_ERROR_RESPONSES = {
    "413": "The request body is larger than the server accepts.",
    "415": "The body's media type is not one this operation accepts (see its request body).",
}
BODY_METHODS = {"post", "put", "patch"}

ERROR_SCHEMA = {
    "type": "object",
    "description": (
        "Every error: `detail` for refusals and missing objects; for bad input (400) the field "
        "names with their messages and `non_field_errors` for messages about the whole request."
    ),
    "properties": {
        "detail": {"type": "string"},
        "non_field_errors": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": {},
}


def document_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: add the generic error answers each operation lacks."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            errors = dict(ERROR_RESPONSES)
            if method in BODY_METHODS:
                errors.update(BODY_ERROR_RESPONSES)
            for code, description in errors.items():
                operation["responses"].setdefault(
                    code, {"description": description, "content": {"application/json": {"schema": reference}}}
                )
    return result
