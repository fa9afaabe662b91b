"""API of deployment targets: administrators configure them and send test events; the CoE and
auditors read them. Secrets are write-only: ``secret``, ``callback_secret`` and ``read_token``
are accepted and never returned; ``has_secret`` (and its siblings) say whether one is stored."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from inventory.models import Environment, UseCase
from operations.models import DeploymentTarget
from operations.services.targets import target_create, target_delete, target_send_test, target_update
from portal.api.views import RestrictedModelViewSet, permission_action

WRITE_ONLY_HELP = "Write-only, never returned. Omit to keep the stored value; an empty string removes it."


def _write_only(help_text: str) -> serializers.CharField:
    return serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=True,
        style={"input_type": "password"},
        help_text=f"{help_text} {WRITE_ONLY_HELP}",
    )


class DeploymentTargetSerializer(serializers.ModelSerializer):
    environment = serializers.SlugRelatedField(slug_field="slug", queryset=Environment.objects.all())
    use_case = serializers.SlugRelatedField(
        slug_field="key",
        queryset=UseCase.objects.all(),
        required=False,
        allow_null=True,
        help_text="The use case this target alone serves; null: the environment's default.",
    )
    options = serializers.JSONField(
        required=False,
        help_text='Per kind: GitHub {"repository", "workflow", "ref"}; GitLab {"project", "ref"}; '
        'Argo CD {"application", "app_namespace", "prune"}; webhook {}.',
    )
    secret = _write_only("The webhook signing secret, or the GitHub, GitLab trigger or Argo CD token.")
    callback_secret = _write_only("Signs the pipeline's status callbacks.")
    read_token = _write_only("GitLab: a read_api token so Propylon can poll the pipeline.")
    has_secret = serializers.BooleanField(read_only=True)
    has_callback_secret = serializers.BooleanField(read_only=True)
    has_read_token = serializers.BooleanField(read_only=True)

    class Meta:
        model = DeploymentTarget
        fields = [
            "id",
            "name",
            "slug",
            "kind",
            "environment",
            "use_case",
            "url",
            "options",
            "timeout_seconds",
            "enabled",
            "secret",
            "callback_secret",
            "read_token",
            "has_secret",
            "has_callback_secret",
            "has_read_token",
            "secret_set_at",
            "last_test_at",
            "last_test_result",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["secret_set_at", "last_test_at", "last_test_result", "created_at", "updated_at"]
        # The service checks "one enabled target per environment and use case" and names the rival.
        validators = []


class TargetTestResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()
    last_test_at = serializers.DateTimeField()


class DeploymentTargetViewSet(RestrictedModelViewSet):
    """Where deployments go: a signed webhook, a GitHub Actions workflow, a GitLab pipeline or an
    Argo CD application, per environment (and optionally per use case)."""

    queryset = DeploymentTarget.objects.select_related("environment", "use_case")
    serializer_class = DeploymentTargetSerializer
    lookup_field = "slug"
    filterset_fields = ["kind", "enabled", "environment__slug"]
    search_fields = ["name", "slug", "url"]
    ordering_fields = ["name", "created_at"]

    def perform_create(self, serializer):
        self.check_add_permission()
        serializer.instance = target_create(**serializer.validated_data)

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = target_update(target=serializer.instance, **data)

    def perform_destroy(self, instance):
        target_delete(target=instance)

    @extend_schema(request=None, responses={200: TargetTestResultSerializer})
    @permission_action("custom:test")
    @action(detail=True, methods=["post"], filter_backends=[], pagination_class=None)
    def test(self, request, slug=None):
        """Send a test event: the target's harmless authenticated call (GitHub: read the workflow;
        GitLab: read the project with the read token; Argo CD: read the application; webhook: a
        signed {"event": "test"}). ``ok`` false carries the target's answer in ``message``."""
        target = self.get_object()
        outcome = target_send_test(actor=request.user, target=target)
        target.refresh_from_db(fields=["last_test_at"])
        return Response(
            TargetTestResultSerializer(
                {"ok": outcome.ok, "message": outcome.message, "last_test_at": target.last_test_at}
            ).data
        )
