"""API shapes for duplicates, imports, exports and descriptors (the same services as the pages)."""

import json

from rest_framework import renderers, serializers

from inventory.selectors import duplicates
from inventory.selectors.exporting import XLSX_CONTENT_TYPE


class SimilarQuerySerializer(serializers.Serializer):
    name = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    purpose = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=duplicates.QUERY_MAX_CHARS
    )
    tags = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Comma-separated tags."
    )
    exclude = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="The key of the use case being edited."
    )
    limit = serializers.IntegerField(required=False, default=5, min_value=1, max_value=50)

    def validate(self, attrs):
        if len(f"{attrs['name']} {attrs['purpose']}".split()) < 3:
            raise serializers.ValidationError(
                {"purpose": ["Give at least three words of name and purpose to compare."]}
            )
        return attrs


class UseCaseRefSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    owning_team = serializers.CharField(source="owning_team.slug")
    lifecycle_stage = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    def get_lifecycle_stage(self, use_case) -> str:
        return use_case.lifecycle_stage.key if use_case.lifecycle_stage_id else "draft"

    def get_url(self, use_case) -> str:
        request = self.context.get("request")
        path = use_case.get_absolute_url()
        return request.build_absolute_uri(path) if request else path


class SimilarMatchSerializer(serializers.Serializer):
    use_case = UseCaseRefSerializer()
    score = serializers.FloatField(
        help_text=f"0 to 1; {duplicates.DEFAULT_THRESHOLD:.2f} and above counts as a likely duplicate."
    )
    shared_terms = serializers.ListField(child=serializers.CharField())


class DuplicatePairSerializer(serializers.Serializer):
    first = serializers.CharField(source="first.key")
    second = serializers.CharField(source="second.key")
    score = serializers.FloatField()
    shared_terms = serializers.ListField(child=serializers.CharField())


class DuplicateClusterSerializer(serializers.Serializer):
    members = UseCaseRefSerializer(many=True)
    top_score = serializers.FloatField()
    pairs = DuplicatePairSerializer(many=True)


class NotDuplicateSerializer(serializers.Serializer):
    other = serializers.CharField(help_text="The key of the use case this one only looks like.")
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=300)


class NotDuplicateResultSerializer(serializers.Serializer):
    first = serializers.CharField(source="first.key")
    second = serializers.CharField(source="second.key")
    decided_by = serializers.CharField(source="decided_by.username", allow_null=True)
    decided_at = serializers.DateTimeField()
    reason = serializers.CharField()


class ImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV (UTF-8) or XLSX with a header row.")
    commit = serializers.BooleanField(
        required=False,
        default=False,
        help_text="false (default): validate every row and report; true: write all rows or none.",
    )


class ImportRowSerializer(serializers.Serializer):
    row = serializers.IntegerField()
    action = serializers.ChoiceField(choices=["create", "update", "unchanged"])
    key = serializers.CharField(help_text="Empty for a new use case that will get the next key.")
    name = serializers.CharField()
    team = serializers.CharField()
    changes = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField(allow_null=True)),
        help_text="column → [before, after]; null where a new use case had no value before.",
    )
    submit = serializers.BooleanField()


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(allow_null=True, help_text="null: the file as a whole.")
    column = serializers.CharField()
    message = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    file = serializers.CharField()
    committed = serializers.BooleanField()
    rows = ImportRowSerializer(many=True)
    errors = ImportErrorSerializer(many=True)
    warnings = serializers.ListField(child=serializers.CharField())
    created = serializers.ListField(child=serializers.CharField())
    updated = serializers.ListField(child=serializers.CharField())
    unchanged = serializers.IntegerField()


def import_report(preview, result=None) -> dict:
    """One shape for a preview and a commit, so a client reads both the same way."""
    rows = [
        {
            "row": row.row,
            "action": row.action,
            "key": row.key,
            "name": row.name,
            "team": row.team,
            "changes": {column: list(pair) for column, pair in row.changes.items()},
            "submit": row.submit,
        }
        for row in preview.rows
    ]
    errors = result.errors if result is not None else preview.errors
    return {
        "file": preview.filename,
        "committed": result is not None and result.ok,
        "rows": rows,
        "errors": [{"row": error.row, "column": error.column, "message": error.message} for error in errors],
        "warnings": list(result.warnings if result is not None else preview.warnings),
        "created": list(result.created) if result is not None else [],
        "updated": list(result.updated) if result is not None else [],
        "unchanged": result.unchanged if result is not None else len(preview.unchanged),
    }


class FileRenderer(renderers.BaseRenderer):
    """Lets a client ask for a file's own media type (Accept: text/csv). Successful responses
    are the file itself; an error is still readable JSON."""

    charset = None

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes | str):
            return data
        # An error (or a JSON body) is JSON whatever file type was asked for: say so.
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return json.dumps(data).encode()


def file_renderer(media_type: str, extension: str) -> type[FileRenderer]:
    return type(
        f"{extension.title()}FileRenderer", (FileRenderer,), {"media_type": media_type, "format": extension}
    )


EXPORT_RENDERERS = [
    renderers.JSONRenderer,
    file_renderer("text/csv", "csv"),
    file_renderer(XLSX_CONTENT_TYPE, "xlsx"),
]
DESCRIPTOR_RENDERERS = [file_renderer("application/yaml", "yaml"), renderers.JSONRenderer]
