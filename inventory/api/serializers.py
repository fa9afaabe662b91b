from django.contrib.auth import get_user_model
from rest_framework import serializers

from inventory.models import (
    BusinessUnit,
    Component,
    Dataset,
    DatasetVersion,
    DataSource,
    Environment,
    Kpi,
    Model,
    ModelVersion,
    PromptTemplate,
    PromptVersion,
    Release,
    Team,
    UseCase,
)
from inventory.models.usecases import MAX_TAGS, TAG_MAX_LENGTH
from portal.api.serializers import UserBriefSerializer
from portal.permissions import restrict


class PersonField(serializers.SlugRelatedField):
    """People are referred to by username in the API, and only active people can be chosen."""

    def __init__(self, **kwargs):
        super().__init__(
            slug_field="username", queryset=get_user_model().objects.filter(is_active=True), **kwargs
        )


class VisibleUseCaseField(serializers.SlugRelatedField):
    """A use case by key, among those the caller may see: a hidden one reads as missing.

    Every API field that takes a use case's key uses this, so that a key of another team's
    restricted use case answers exactly "does not exist", never "you may not change UC-0010 …".
    """

    def __init__(self, **kwargs):
        super().__init__(slug_field="key", queryset=UseCase.objects.all(), **kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        return restrict(UseCase.objects.all(), request.user if request else None)

    def to_internal_value(self, data):
        return super().to_internal_value(data.strip().upper() if isinstance(data, str) else data)


class BusinessUnitSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:businessunit-detail", lookup_field="slug")
    head = PersonField(required=False, allow_null=True)
    head_detail = UserBriefSerializer(source="head", read_only=True, allow_null=True)

    class Meta:
        model = BusinessUnit
        fields = ["id", "url", "slug", "name", "description", "head", "head_detail"]


class TeamSerializer(serializers.ModelSerializer):
    url = serializers.HyperlinkedIdentityField(view_name="api:team-detail", lookup_field="slug")
    business_unit = serializers.SlugRelatedField(slug_field="slug", queryset=BusinessUnit.objects.all())
    lead = PersonField(required=False, allow_null=True)
    members = PersonField(many=True, required=False)
    members_detail = UserBriefSerializer(source="members", many=True, read_only=True)

    class Meta:
        model = Team
        fields = [
            "id",
            "url",
            "slug",
            "name",
            "description",
            "business_unit",
            "lead",
            "members",
            "members_detail",
        ]


class TeamLeadSerializer(TeamSerializer):
    """What a team lead may change on their own team."""

    class Meta(TeamSerializer.Meta):
        read_only_fields = ["slug", "name", "business_unit"]


#
# Use cases
#


class UseCaseSerializer(serializers.ModelSerializer):
    """Teams by slug, people by username, the stage by key; writes go through the services."""

    url = serializers.HyperlinkedIdentityField(view_name="api:usecase-detail", lookup_field="key")
    owning_team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all())
    business_unit = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    lifecycle_stage = serializers.SlugRelatedField(slug_field="key", read_only=True, allow_null=True)
    accountable_owner = PersonField()
    technical_owner = PersonField(required=False, allow_null=True)
    business_sponsor = PersonField(required=False, allow_null=True)
    data_steward = PersonField(required=False, allow_null=True)
    escalation_contact = PersonField(required=False, allow_null=True)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=TAG_MAX_LENGTH), max_length=MAX_TAGS, required=False
    )
    is_orphaned = serializers.BooleanField(read_only=True, default=False)
    submit = serializers.BooleanField(
        write_only=True, required=False, default=False, help_text="File and submit at once."
    )

    class Meta:
        model = UseCase
        fields = [
            "key", "url", "name", "purpose", "business_unit", "owning_team", "lifecycle_stage", "risk_tier",
            "ai_kind", "customer_facing", "data_sensitivity", "human_oversight", "visibility",
            "accountable_owner", "technical_owner", "business_sponsor", "data_steward", "escalation_contact",
            "repository_url", "runbook_url", "dashboard_url", "tags", "is_orphaned", "created_at", "updated_at",
            "submitted_at", "submit",
        ]  # fmt: skip
        read_only_fields = ["key", "risk_tier", "created_at", "updated_at", "submitted_at"]


class KpiSerializer(serializers.ModelSerializer):
    use_case = VisibleUseCaseField()

    class Meta:
        model = Kpi
        fields = ["id", "use_case", "name", "unit", "target", "direction", "value_per_unit"]


class ReleaseSerializer(serializers.ModelSerializer):
    use_case = VisibleUseCaseField()
    model_versions = serializers.PrimaryKeyRelatedField(
        many=True, queryset=ModelVersion.objects.all(), required=False
    )
    prompt_versions = serializers.PrimaryKeyRelatedField(
        many=True, queryset=PromptVersion.objects.all(), required=False
    )
    dataset_versions = serializers.PrimaryKeyRelatedField(
        many=True, queryset=DatasetVersion.objects.all(), required=False
    )
    pins_digests = serializers.BooleanField(read_only=True)

    class Meta:
        model = Release
        fields = ["id", "use_case", "version", "code_ref", "notes", "model_versions", "prompt_versions",
                  "dataset_versions", "pins_digests", "created_at", "frozen_at", "frozen_reason"]  # fmt: skip
        read_only_fields = ["created_at", "frozen_at", "frozen_reason"]


class TeamOwnedSerializer(serializers.ModelSerializer):
    owning_team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all())


def team_owned_serializer(model_class, extra_fields=()):
    meta = type("Meta", (), {"model": model_class, "fields": ["id", "slug", "name", "description", "owning_team",
                                                                "created_at", *extra_fields],
                             "read_only_fields": ["created_at"]})  # fmt: skip
    return type(f"{model_class.__name__}Serializer", (TeamOwnedSerializer,), {"Meta": meta})


ComponentSerializer = team_owned_serializer(Component, ["repository_url"])
DataSourceSerializer = team_owned_serializer(DataSource, ["system", "sensitivity"])
ModelSerializer = team_owned_serializer(Model, ["provider", "vendor", "registry_url"])
PromptTemplateSerializer = team_owned_serializer(PromptTemplate)


class DatasetSerializer(TeamOwnedSerializer):
    sources = serializers.SlugRelatedField(
        slug_field="slug", many=True, queryset=DataSource.objects.all(), required=False
    )

    class Meta:
        model = Dataset
        fields = ["id", "slug", "name", "description", "owning_team", "sensitivity", "sources", "created_at"]
        read_only_fields = ["created_at"]


class ModelVersionSerializer(serializers.ModelSerializer):
    model = serializers.SlugRelatedField(slug_field="slug", queryset=Model.objects.all())
    # Checked and normalised by inventory.services.usecases (a "sha256:" prefix and capitals are accepted).
    sha256 = serializers.CharField(required=False, allow_blank=True, max_length=71)

    class Meta:
        model = ModelVersion
        fields = ["id", "model", "version", "artifact_uri", "sha256", "registry_url", "created_at"]
        read_only_fields = ["created_at"]


class PromptVersionSerializer(serializers.ModelSerializer):
    template = serializers.SlugRelatedField(slug_field="slug", queryset=PromptTemplate.objects.all())

    class Meta:
        model = PromptVersion
        fields = ["id", "template", "version", "content", "content_sha256", "created_at"]
        read_only_fields = ["content_sha256", "created_at"]


class DatasetVersionSerializer(serializers.ModelSerializer):
    dataset = serializers.SlugRelatedField(slug_field="slug", queryset=Dataset.objects.all())
    # Checked and normalised by inventory.services.usecases (a "sha256:" prefix and capitals are accepted).
    sha256 = serializers.CharField(required=False, allow_blank=True, max_length=71)

    class Meta:
        model = DatasetVersion
        fields = ["id", "dataset", "version", "location", "sha256", "lineage", "derived_from", "created_at"]
        read_only_fields = ["created_at"]


class EnvironmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Environment
        fields = ["id", "slug", "name", "kind", "description"]
