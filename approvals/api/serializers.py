from rest_framework import serializers

from approvals.choices import RiskLevelChoices
from approvals.models import RiskAssessment, RiskRegisterEntry
from inventory.api.serializers import PersonField, VisibleUseCaseField
from portal.api.serializers import UserBriefSerializer


class ReasonSerializer(serializers.Serializer):
    reference = serializers.CharField()
    text = serializers.CharField()


class DutySerializer(serializers.Serializer):
    reference = serializers.CharField()
    duty = serializers.CharField()
    role = serializers.CharField()


class RiskAssessmentSerializer(serializers.ModelSerializer):
    use_case = serializers.SlugRelatedField(slug_field="key", read_only=True)
    reasons = ReasonSerializer(many=True, read_only=True)
    duties = DutySerializer(many=True, read_only=True)
    genai_risks = serializers.ListField(child=serializers.CharField(), read_only=True)
    answers = serializers.DictField(read_only=True)
    assessed_by = UserBriefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = RiskAssessment
        fields = ["id", "use_case", "version", "catalog_version", "tier", "reasons", "duties", "role", "is_gpai",
                  "exemption_rationale", "genai_risks", "answers", "assessed_by", "assessed_at"]  # fmt: skip
        read_only_fields = fields


class RiskAssessmentRecordSerializer(serializers.Serializer):
    """Record a new version: the use case and the answers, keyed by question id
    (``GET /api/risk-catalog/``). Everything else is worked out from the answers."""

    use_case = VisibleUseCaseField()
    answers = serializers.DictField(help_text="Answers keyed by question id.")


class RiskRegisterEntrySerializer(serializers.ModelSerializer):
    use_case = VisibleUseCaseField()
    owner = PersonField()
    owner_detail = UserBriefSerializer(source="owner", read_only=True)
    residual_likelihood = serializers.IntegerField(
        min_value=1, max_value=5, required=False, help_text="Omitted on creation: the likelihood."
    )
    residual_severity = serializers.IntegerField(
        min_value=1, max_value=5, required=False, help_text="Omitted on creation: the severity."
    )
    likelihood = serializers.IntegerField(min_value=1, max_value=5)
    severity = serializers.IntegerField(min_value=1, max_value=5)
    inherent_score = serializers.IntegerField(read_only=True)
    residual_score = serializers.IntegerField(read_only=True)
    inherent_level = serializers.ChoiceField(choices=RiskLevelChoices.pairs(), read_only=True)
    residual_level = serializers.ChoiceField(choices=RiskLevelChoices.pairs(), read_only=True)

    class Meta:
        model = RiskRegisterEntry
        fields = ["id", "use_case", "title", "description", "category", "likelihood", "severity", "owner",
                  "owner_detail", "mitigation", "residual_likelihood", "residual_severity", "review_date", "status",
                  "inherent_score", "residual_score", "inherent_level", "residual_level", "created_at",
                  "updated_at"]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance is not None and not isinstance(self.instance, list | tuple):
            # An entry stays with its use case.
            self.fields["use_case"].read_only = True


class RiskCatalogOptionSerializer(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()
    reference = serializers.CharField()


class RiskCatalogQuestionSerializer(serializers.Serializer):
    id = serializers.CharField()
    text = serializers.CharField()
    help = serializers.CharField()
    reference = serializers.CharField()
    kind = serializers.ChoiceField(choices=["yes_no", "one_of", "any_of", "text"])
    required = serializers.BooleanField()
    options = RiskCatalogOptionSerializer(many=True)


class RiskCatalogSectionSerializer(serializers.Serializer):
    id = serializers.CharField()
    title = serializers.CharField()
    questions = RiskCatalogQuestionSerializer(many=True)


class RiskCatalogSerializer(serializers.Serializer):
    version = serializers.CharField()
    sections = RiskCatalogSectionSerializer(many=True)
