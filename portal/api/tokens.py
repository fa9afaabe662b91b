from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.response import Response

from portal.api.views import RestrictedViewSetMixin
from portal.models import ApiToken, TokenKind, TokenScope
from portal.policies import may_issue_tokens_for_others
from portal.services import DEFAULT_TOKEN_DAYS, api_token_create, api_token_revoke, default_token_expiry


class ApiTokenSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = ApiToken
        fields = ["id", "name", "user", "kind", "scopes", "key_prefix", "created_at", "expires_at",
                  "last_used_at", "revoked_at"]  # fmt: skip
        read_only_fields = fields


class ApiTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(child=serializers.ChoiceField(choices=TokenScope.values()), min_length=1)
    kind = serializers.ChoiceField(choices=TokenKind.values(), default=TokenKind.PERSONAL)
    expires_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text=f"Default: {DEFAULT_TOKEN_DAYS} days from now; null never expires.",
    )
    username = serializers.CharField(
        required=False, help_text="Administrators only: the account a machine token acts as."
    )


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    key = serializers.CharField(read_only=True, help_text="Shown once; Propylon stores only its hash.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiTokenViewSet(
    RestrictedViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Your API tokens (administrators: everyone's). DELETE revokes; tokens are never edited."""

    queryset = ApiToken.objects.select_related("user")
    serializer_class = ApiTokenSerializer
    filterset_fields = ["kind"]
    ordering_fields = ["created_at", "last_used_at"]

    @extend_schema(request=ApiTokenCreateSerializer, responses={201: ApiTokenCreatedSerializer})
    def create(self, request):
        """Create a token; the response carries its key, once."""
        self.check_add_permission()
        data = ApiTokenCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        owner = request.user
        if values.get("username") or values["kind"] == TokenKind.MACHINE:
            if not may_issue_tokens_for_others(request.user):
                raise exceptions.PermissionDenied(
                    "Only administrators issue machine tokens or tokens for others."
                )
            if values.get("username"):
                owner = get_user_model().objects.filter(username=values["username"], is_active=True).first()
                if owner is None:
                    raise exceptions.ValidationError(
                        {"username": [f"No active account named “{values['username']}”."]}
                    )
        token, key = api_token_create(
            user=owner,
            name=values["name"],
            scopes=values["scopes"],
            kind=values["kind"],
            expires_at=values["expires_at"] if "expires_at" in values else default_token_expiry(),
            created_by=request.user,
        )
        token.key = key
        return Response(ApiTokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        api_token_revoke(token=instance)
