from rest_framework import serializers

from inventory.api.serializers import VisibleUseCaseField
from inventory.models import Environment, Release
from operations.choices import DeploymentStatusChoices
from operations.models import Deployment, DeploymentEvent
from portal.api.serializers import UserBriefSerializer


class DeploymentEventSerializer(serializers.ModelSerializer):
    actor = UserBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = DeploymentEvent
        fields = ["id", "kind", "status", "actor", "at", "message"]
        read_only_fields = fields


class DeploymentSerializer(serializers.ModelSerializer):
    use_case = serializers.SlugRelatedField(slug_field="key", read_only=True)
    release = serializers.SlugRelatedField(slug_field="version", read_only=True)
    release_id = serializers.IntegerField(read_only=True)
    environment = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    target = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    approval = serializers.SlugRelatedField(slug_field="reference", read_only=True, allow_null=True)
    requested_by = UserBriefSerializer(read_only=True, allow_null=True)
    idempotency_key = serializers.CharField(read_only=True)
    # Empty until the target names its run's page: a plain string, not an always-valid URI.
    external_url = serializers.CharField(
        read_only=True, help_text="The run's page at the target, if it gave one."
    )

    class Meta:
        model = Deployment
        fields = ["id", "use_case", "release", "release_id", "environment", "target", "approval", "status",
                  "is_current", "rollback_of", "requested_by", "requested_at", "dispatch_started_at",
                  "dispatched_at", "finished_at", "attempts", "external_id", "external_url", "message",
                  "idempotency_key", "job_run"]  # fmt: skip
        read_only_fields = fields


class DeploymentDetailSerializer(DeploymentSerializer):
    events = DeploymentEventSerializer(many=True, read_only=True)

    class Meta(DeploymentSerializer.Meta):
        fields = [*DeploymentSerializer.Meta.fields, "events"]
        read_only_fields = fields


class DeploymentRequestSerializer(serializers.Serializer):
    """Deploy one release of a use case to an environment (production needs a covering approval)."""

    use_case = VisibleUseCaseField()
    release = serializers.CharField(help_text="The release's version (or its numeric id).")
    environment = serializers.SlugRelatedField(slug_field="slug", queryset=Environment.objects.all())

    def validate(self, data):
        use_case, wanted = data["use_case"], data["release"].strip()
        releases = Release.objects.filter(use_case=use_case)
        release = releases.filter(version=wanted).first() or (
            releases.filter(pk=int(wanted)).first() if wanted.isdigit() else None
        )
        if release is None:
            raise serializers.ValidationError({"release": f"{use_case.key} has no release “{wanted}”."})
        return {**data, "release": release}


class DeploymentCallbackSerializer(serializers.Serializer):
    """What a target reports (signed with X-Propylon-Timestamp / X-Propylon-Signature)."""

    status = serializers.ChoiceField(
        choices=[
            DeploymentStatusChoices.RUNNING,
            DeploymentStatusChoices.SUCCEEDED,
            DeploymentStatusChoices.FAILED,
        ]
    )
    message = serializers.CharField(required=False, allow_blank=True)
    external_url = serializers.URLField(required=False, allow_blank=True)


class CallbackErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
