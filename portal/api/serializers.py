from django.contrib.auth import get_user_model
from rest_framework import serializers

from portal.models import JobLogLine, JobRun
from portal.roles import roles_of


class UserBriefSerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True)

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "display_name", "email", "is_active"]


class JobLogLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobLogLine
        fields = ["time", "level", "message"]


class JobRunSerializer(serializers.ModelSerializer):
    actor = UserBriefSerializer(read_only=True, allow_null=True)
    url = serializers.HyperlinkedIdentityField(view_name="api:jobrun-detail")
    duration_seconds = serializers.SerializerMethodField()

    class Meta:
        model = JobRun
        fields = [
            "id",
            "url",
            "task_name",
            "label",
            "status",
            "progress",
            "progress_message",
            "arguments",
            "result",
            "error",
            "actor",
            "actor_label",
            "channel",
            "attempts",
            "created_at",
            "started_at",
            "finished_at",
            "duration_seconds",
        ]
        read_only_fields = fields

    def get_duration_seconds(self, run: JobRun) -> float | None:
        return run.duration.total_seconds() if run.duration is not None else None


class JobRunDetailSerializer(JobRunSerializer):
    log = JobLogLineSerializer(source="log_lines", many=True, read_only=True)

    class Meta(JobRunSerializer.Meta):
        fields = [*JobRunSerializer.Meta.fields, "log"]
        read_only_fields = fields


class JobDefinitionSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()
    on_demand = serializers.BooleanField()
    idempotent = serializers.BooleanField()
    started_by = serializers.ListField(child=serializers.CharField())


class JobStartSerializer(serializers.Serializer):
    task = serializers.CharField(help_text="Name of an on-demand job, from /api/jobs/definitions/.")


class MeSerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True)
    roles = serializers.SerializerMethodField()
    teams = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "display_name", "email", "title", "roles", "teams"]

    def get_roles(self, user) -> list[str]:
        return sorted(roles_of(user))
