from pathlib import Path

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from costs.ingest import readers
from costs.ingest.errors import CostImportError
from costs.ingest.normalize import money_text
from costs.models import CostImport, CostSource, cost_import_root


class CostSourceSerializer(serializers.ModelSerializer):
    """AWS secrets are write-only: ``has_secret`` says whether one is stored."""

    has_secret = serializers.BooleanField(read_only=True)
    secret_access_key = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        help_text="Write-only. Omit to keep the stored secret; an empty string removes it.",
    )

    class Meta:
        model = CostSource
        fields = [
            "id",
            "name",
            "kind",
            "location",
            "enabled",
            "description",
            "aws_region",
            "endpoint_url",
            "role_arn",
            "external_id",
            "access_key_id",
            "secret_access_key",
            "has_secret",
            "use_case_tag_key",
            "created_at",
        ]
        read_only_fields = ["created_at"]


class CurrencyTotalsSerializer(serializers.Serializer):
    billed = serializers.DecimalField(max_digits=30, decimal_places=10)
    effective = serializers.DecimalField(max_digits=30, decimal_places=10)
    list = serializers.DecimalField(max_digits=30, decimal_places=10)
    rows = serializers.IntegerField()


class ImportFileSerializer(serializers.Serializer):
    name = serializers.CharField()
    sha256 = serializers.CharField()
    bytes = serializers.IntegerField()
    rows = serializers.IntegerField()


class CostImportSerializer(serializers.ModelSerializer):
    source_name = serializers.CharField(source="source.name", read_only=True)
    files = serializers.SerializerMethodField()
    totals = serializers.SerializerMethodField()

    class Meta:
        model = CostImport
        fields = [
            "id",
            "source",
            "source_name",
            "format",
            "billing_period_start",
            "billing_period_end",
            "identifier",
            "location",
            "files",
            "status",
            "is_current",
            "is_estimated",
            "row_count",
            "totals",
            "error_message",
            "warnings",
            "job_run",
            "started_by",
            "started_at",
            "finished_at",
            "replaced",
        ]
        read_only_fields = fields

    @extend_schema_field(ImportFileSerializer(many=True))
    def get_files(self, cost_import: CostImport) -> list:
        return cost_import.files

    @extend_schema_field(serializers.DictField(child=CurrencyTotalsSerializer()))
    def get_totals(self, cost_import: CostImport) -> dict:
        """Per ISO 4217 currency; amounts are exact decimal strings (never floats, never an
        exponent such as ``0E-11``, never ``-0``)."""
        return {
            currency: {
                **values,
                **{key: money_text(values[key]) for key in ("billed", "effective", "list") if key in values},
            }
            for currency, values in cost_import.totals.items()
        }


class ImportRunSerializer(serializers.Serializer):
    source = serializers.PrimaryKeyRelatedField(queryset=CostSource.objects.all())
    location = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="File, folder, manifest or s3:// address; default the source's.",
    )

    def validate_location(self, value: str) -> str:
        """A local path must lie below the import root (checked again when the job reads it)."""
        value = value.strip()
        if value and not value.startswith("s3://"):
            try:
                readers.confined(Path(value), [cost_import_root()], value)
            except CostImportError as exc:
                raise serializers.ValidationError(str(exc)) from None
        return value

    periods = serializers.ListField(
        child=serializers.RegexField(r"^\d{4}-\d{2}$"),
        required=False,
        help_text="Billing months (YYYY-MM) for a CUR prefix or Cost Explorer; default this month and, "
        "until the 15th, the last.",
    )


class ImportUploadSerializer(serializers.Serializer):
    source = serializers.PrimaryKeyRelatedField(queryset=CostSource.objects.all())
    file = serializers.FileField(help_text="A FOCUS export: .csv, .csv.gz or .parquet.")
