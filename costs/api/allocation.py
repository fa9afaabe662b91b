"""API of allocation rules, shared pools, allocations (with summaries, reconciliation, ROI and
recomputation), budgets, budget alerts and KPI readings. Writes go through costs.services; reads
through portal.permissions.restrict."""

from datetime import date
from decimal import ROUND_HALF_UP

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from costs.choices import SplitMethodChoices
from costs.models import (
    AllocationRule,
    Budget,
    BudgetAlert,
    CostAllocation,
    CostSource,
    KpiReading,
    SharedPool,
)
from costs.policies import may_curate_costs, may_record_kpi_reading, may_view_billing
from costs.selectors import reports
from costs.selectors.budgets import budget_statuses
from costs.services.allocation import (
    allocation_rule_delete,
    allocation_rule_save,
    shared_pool_delete,
    shared_pool_save,
)
from costs.services.allocation_engine import preview_rule, request_allocation
from costs.services.budgets import budget_delete, budget_save
from costs.services.value import kpi_reading_delete, kpi_reading_record
from inventory.models import Kpi, Team, UseCase
from portal.api.serializers import JobRunSerializer
from portal.api.views import RestrictedModelViewSet, RestrictedReadOnlyViewSet, permission_action
from portal.choices import ChannelChoices
from portal.permissions import Action, restrict

# The summary answers the biggest groups: at §6 scale thousands of use cases have cost, and
# serialising every series took 0.23 s for a 650 KB answer (docs/benchmarks.md).
SUMMARY_LIMIT = 100
SUMMARY_LIMIT_MAX = 10_000


class AddPermissionFirstMixin:
    """Refuse people who may not add at all before validating what they sent (403, not 400)."""

    def create(self, request, *args, **kwargs):
        self.check_add_permission()
        return super().create(request, *args, **kwargs)


class RestrictedChoicesMixin:
    """Related fields offer only what the caller may see (an invisible use case "does not exist")."""

    restricted_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        user = getattr(request, "user", None)
        for name in self.restricted_fields:
            field = self.fields.get(name)
            target = getattr(field, "child_relation", field)
            if target is not None and getattr(target, "queryset", None) is not None:
                target.queryset = restrict(target.queryset, user, Action.VIEW)


def month_field(**kwargs):
    return serializers.RegexField(r"^\d{4}-(0[1-9]|1[0-2])$", help_text="A month as YYYY-MM.", **kwargs)


def _month(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(f"{value}-01")
    except ValueError:
        raise exceptions.ValidationError({name: [f"“{value}” is not a month; write YYYY-MM."]}) from None


#
# Rules and pools
#


class AllocationRuleSerializer(RestrictedChoicesMixin, serializers.ModelSerializer):
    restricted_fields = ("target_use_case", "target_team", "source")
    target_use_case = serializers.SlugRelatedField(
        slug_field="key", queryset=UseCase.objects.all(), required=False, allow_null=True
    )
    target_team = serializers.SlugRelatedField(
        slug_field="slug", queryset=Team.objects.all(), required=False, allow_null=True
    )
    target_pool = serializers.PrimaryKeyRelatedField(
        queryset=SharedPool.objects.all(), required=False, allow_null=True
    )
    source = serializers.PrimaryKeyRelatedField(
        queryset=CostSource.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = AllocationRule
        fields = ["id", *AllocationRule.EDITABLE_FIELDS, "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]


class RulePreviewSerializer(serializers.Serializer):
    period = serializers.DateField(allow_null=True, help_text="The month previewed (first day).")
    rows = serializers.IntegerField(help_text="Line items the rule matches in that month.")
    currencies = serializers.DictField(
        child=serializers.DecimalField(max_digits=24, decimal_places=2, rounding=ROUND_HALF_UP)
    )


class AllocationRuleViewSet(AddPermissionFirstMixin, RestrictedModelViewSet):
    """Ordered allocation rules (lowest ``position`` first; the first match wins). The CoE and
    admins maintain them; every change recomputes the allocation of every current period."""

    queryset = AllocationRule.objects.select_related(
        "target_use_case", "target_team", "target_pool", "source"
    )
    serializer_class = AllocationRuleSerializer
    filterset_fields = ["enabled", "kind", "target_kind", "source"]
    search_fields = ["name", "tag_key", "tag_value", "service_name"]
    ordering_fields = ["position", "name"]

    def perform_create(self, serializer):
        self.check_add_permission()
        serializer.instance = allocation_rule_save(actor=self.request.user, **serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = allocation_rule_save(
            rule=serializer.instance, actor=self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        allocation_rule_delete(rule=instance, actor=self.request.user)

    @extend_schema(
        parameters=[
            OpenApiParameter("period", OpenApiTypes.STR, description="Month YYYY-MM; default: last month.")
        ],
        responses=RulePreviewSerializer,
    )
    @action(detail=True, methods=["get"])
    def preview(self, request, pk=None):
        """How many line items this rule matches and their effective cost in one month (as if it
        ran first)."""
        rule = self.get_object()
        result = preview_rule(rule, period=_month(request.query_params.get("period"), "period"))
        return Response(RulePreviewSerializer(result).data)


class PoolMemberSerializer(serializers.Serializer):
    use_case = serializers.SlugRelatedField(slug_field="key", queryset=UseCase.objects.all(), required=False,
                                            allow_null=True)  # fmt: skip
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all(), required=False,
                                        allow_null=True)  # fmt: skip
    percentage = serializers.DecimalField(max_digits=7, decimal_places=4, required=False, allow_null=True)


class SharedPoolSerializer(serializers.ModelSerializer):
    members = PoolMemberSerializer(many=True)
    split_method = serializers.ChoiceField(choices=SplitMethodChoices.pairs())

    class Meta:
        model = SharedPool
        fields = ["id", "name", "description", "split_method", "members", "created_at"]
        read_only_fields = ["created_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["members"] = [
            {
                "use_case": member.use_case.key if member.use_case_id else None,
                "team": member.team.slug if member.team_id else None,
                "percentage": None if member.percentage is None else str(member.percentage),
            }
            for member in instance.members.all()
        ]
        return data


class SharedPoolViewSet(AddPermissionFirstMixin, RestrictedModelViewSet):
    """Shared pools and their members; split per period in proportion to direct cost, evenly,
    or by fixed percentages that add up to 100."""

    queryset = SharedPool.objects.prefetch_related("members__use_case", "members__team")
    serializer_class = SharedPoolSerializer
    filterset_fields = ["split_method"]
    search_fields = ["name"]
    ordering_fields = ["name"]

    def _save(self, serializer, pool=None):
        data = serializer.validated_data
        current = pool
        serializer.instance = shared_pool_save(
            pool=current,
            actor=self.request.user,
            name=data.get("name", pool.name if pool else ""),
            description=data.get("description", pool.description if pool else ""),
            split_method=data.get(
                "split_method", pool.split_method if pool else SplitMethodChoices.DIRECT_COST
            ),
            members=data["members"] if "members" in data else _members_of(pool),
        )

    def perform_create(self, serializer):
        self.check_add_permission()
        self._save(serializer)

    def perform_update(self, serializer):
        self._save(serializer, serializer.instance)

    def perform_destroy(self, instance):
        shared_pool_delete(pool=instance, actor=self.request.user)


def _members_of(pool) -> list[dict]:
    return [{"use_case": m.use_case, "team": m.team, "percentage": m.percentage} for m in pool.members.all()]


#
# Allocations and what is computed from them
#


class CostAllocationSerializer(serializers.ModelSerializer):
    use_case = serializers.SlugRelatedField(slug_field="key", read_only=True, allow_null=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = CostAllocation
        fields = [
            "id",
            "source",
            "period",
            "currency",
            "cost_import",
            "bucket",
            "use_case",
            "team",
            "pool",
            "rule",
            "rule_name",
            "cost_kind",
            "effective_cost",
            "billed_cost",
            "line_count",
            "data_through",
            "computed_at",
        ]


class SeriesSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="Use-case key, team or business-unit slug, or “unallocated”.")
    label = serializers.CharField()
    currency = serializers.CharField()
    months = serializers.ListField(child=serializers.CharField())
    amounts = serializers.ListField(
        child=serializers.DecimalField(max_digits=24, decimal_places=2, rounding=ROUND_HALF_UP)
    )
    total = serializers.DecimalField(max_digits=24, decimal_places=2, rounding=ROUND_HALF_UP)


class _KeywordNames:
    """Fields whose JSON names are Python keywords are declared with a trailing underscore."""

    def get_fields(self):
        return {name.removesuffix("_"): field for name, field in super().get_fields().items()}


class ReconciliationLineSerializer(_KeywordNames, serializers.Serializer):
    source = serializers.IntegerField()
    source_name = serializers.CharField()
    period = serializers.CharField()
    currency = serializers.CharField()
    import_ = serializers.IntegerField(
        allow_null=True, help_text="The current import (answered as “import”)."
    )
    billed_total = serializers.DecimalField(max_digits=24, decimal_places=2, rounding=ROUND_HALF_UP)
    effective_total = serializers.DecimalField(max_digits=24, decimal_places=2, rounding=ROUND_HALF_UP)
    direct = serializers.DecimalField(max_digits=24, decimal_places=2, rounding=ROUND_HALF_UP)
    shared = serializers.DecimalField(max_digits=24, decimal_places=2, rounding=ROUND_HALF_UP)
    unallocated = serializers.DecimalField(max_digits=24, decimal_places=2, rounding=ROUND_HALF_UP)
    allocated = serializers.DecimalField(max_digits=24, decimal_places=2, rounding=ROUND_HALF_UP)
    difference = serializers.DecimalField(max_digits=24, decimal_places=2, rounding=ROUND_HALF_UP)
    effective_difference = serializers.DecimalField(max_digits=24, decimal_places=2, rounding=ROUND_HALF_UP)
    stale = serializers.BooleanField(
        help_text="The allocation does not follow the current import, rules or pools."
    )
    stale_reasons = serializers.ListField(child=serializers.CharField())
    failure = serializers.CharField(allow_null=True, help_text="Why the period's last allocation run failed.")
    status = serializers.ChoiceField(choices=["ok", "failed", "stale", "no_import", "mismatch"])
    ok = serializers.BooleanField()


class RoiSerializer(serializers.Serializer):
    currency = serializers.CharField()
    cost = serializers.DecimalField(max_digits=24, decimal_places=2, rounding=ROUND_HALF_UP)
    value = serializers.DecimalField(
        max_digits=24, decimal_places=2, rounding=ROUND_HALF_UP, allow_null=True,
        help_text="Null when no KPI reading of the months has a money value.",
    )  # fmt: skip
    net = serializers.DecimalField(max_digits=24, decimal_places=2, rounding=ROUND_HALF_UP, allow_null=True)
    roi = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
    roi_percent = serializers.DecimalField(max_digits=12, decimal_places=1, allow_null=True)
    roi_reason = serializers.ChoiceField(
        choices=["no_value", "zero_cost"], allow_null=True,
        help_text="Why roi is null: no value recorded, or a cost of zero (ROI not defined).",
    )  # fmt: skip
    formula = serializers.CharField()


class RoiReportSerializer(_KeywordNames, serializers.Serializer):
    from_ = serializers.CharField(help_text="First month (answered as “from”).")
    to = serializers.CharField()
    portfolio = RoiSerializer
    use_cases = serializers.DictField(child=RoiSerializer(), help_text="By use-case key.")


RANGE_PARAMETERS = [
    OpenApiParameter(
        "from",
        OpenApiTypes.STR,
        description="First month, YYYY-MM (default: five months before the last, or the first month "
        "with billing data if later).",
    ),
    OpenApiParameter(
        "to",
        OpenApiTypes.STR,
        description="Last month, YYYY-MM (default: the latest month with billing data).",
    ),
]


def _range(request) -> tuple[date, date]:
    return reports.month_range(
        _month(request.query_params.get("from"), "from"), _month(request.query_params.get("to"), "to")
    )


class CostAllocationViewSet(RestrictedReadOnlyViewSet):
    """Allocated cost per source, month, currency and target (use case, team or unallocated;
    direct or a shared pool's part). A team sees its own cost; executives, the CoE and auditors
    see everything. Amounts are effective cost (amortised) and billed cost, decimal strings."""

    queryset = CostAllocation.objects.select_related("use_case", "team")
    serializer_class = CostAllocationSerializer
    filterset_fields = {
        "source": ["exact"],
        "period": ["exact", "gte", "lt"],
        "currency": ["exact"],
        "bucket": ["exact"],
        "cost_kind": ["exact"],
        "use_case__key": ["exact"],
        "team__slug": ["exact"],
        "pool": ["exact"],
    }
    ordering_fields = ["period", "effective_cost"]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "by",
                OpenApiTypes.STR,
                enum=["use_case", "team", "business_unit"],
                description="Group by (default use_case).",
            ),
            OpenApiParameter(
                "limit",
                OpenApiTypes.INT,
                description=(
                    f"The biggest groups only, biggest first (default {SUMMARY_LIMIT}, at most "
                    f"{SUMMARY_LIMIT_MAX}); a series is one group in one currency."
                ),
            ),
            *RANGE_PARAMETERS,
        ],
        responses=SeriesSerializer(many=True),
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def summary(self, request):
        """Monthly effective cost per use case, team or business unit, over a range of months:
        the biggest groups first."""
        by = request.query_params.get("by", "use_case")
        if by not in reports.GROUPINGS:
            raise exceptions.ValidationError({"by": [f"Group by one of {', '.join(reports.GROUPINGS)}."]})
        limit = request.query_params.get("limit", str(SUMMARY_LIMIT))
        if not limit.isdigit() or not 1 <= int(limit) <= SUMMARY_LIMIT_MAX:
            raise exceptions.ValidationError(
                {"limit": [f"A whole number from 1 to {SUMMARY_LIMIT_MAX}, not “{limit}”."]}
            )
        start, end = _range(request)
        series = reports.monthly_series(self.get_queryset(), by=by, start=start, end=end, limit=int(limit))
        return Response(SeriesSerializer(series, many=True).data)

    @extend_schema(parameters=RANGE_PARAMETERS, responses=ReconciliationLineSerializer(many=True))
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def reconciliation(self, request):
        """Per source, month and currency: the import's billed total against direct + shared +
        unallocated, to the cent (``ok``). For executives, the CoE, auditors and admins."""
        if not may_view_billing(request.user):
            raise exceptions.PermissionDenied("Reconciliation reads the whole bill.")
        start, end = _range(request)
        lines = reports.reconciliation_for(request.user, start=start, end=end)
        return Response([line.as_dict() for line in lines])

    @extend_schema(parameters=RANGE_PARAMETERS, responses=RoiReportSerializer)
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def roi(self, request):
        """ROI = (value - cost) ÷ cost per visible use case and for the portfolio, with the
        numbers and the formula; ``roi`` is null, with ``roi_reason``, when no value is recorded
        (``no_value``: never -100 %) or cost is zero (``zero_cost``: not defined)."""
        start, end = _range(request)
        report = reports.roi_report(request.user, start=start, end=end)
        return Response(
            {
                "from": f"{start:%Y-%m}",
                "to": f"{reports.last_month(end):%Y-%m}",
                "portfolio": report["portfolio"].as_dict(),
                "use_cases": {row["use_case"].key: row["roi"].as_dict() for row in report["rows"]},
            }
        )

    @extend_schema(request=None, responses={202: JobRunSerializer})
    @action(detail=False, methods=["post"], filter_backends=[], pagination_class=None)
    @permission_action("custom:recompute")
    def recompute(self, request):
        """Recompute the allocation of every current period now (the CoE and admins)."""
        if not may_curate_costs(request.user):
            raise exceptions.PermissionDenied("The CoE and admins recompute allocation.")
        run = request_allocation(actor=request.user, channel=ChannelChoices.API)
        return Response(
            JobRunSerializer(run, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
        )


#
# Budgets
#


class BudgetSerializer(RestrictedChoicesMixin, serializers.ModelSerializer):
    restricted_fields = ("use_case", "team")
    use_case = serializers.SlugRelatedField(slug_field="key", queryset=UseCase.objects.all(), required=False,
                                            allow_null=True)  # fmt: skip
    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all(), required=False,
                                        allow_null=True)  # fmt: skip
    thresholds = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=1000), required=False
    )

    class Meta:
        model = Budget
        fields = ["id", "use_case", "team", "amount", "currency", "thresholds", "notes", "created_at"]
        read_only_fields = ["created_at"]
        validators = []  # the service validates the budget as a whole (one target, one per currency)


class BudgetStatusSerializer(serializers.Serializer):
    budget = serializers.IntegerField()
    target = serializers.CharField()
    period = serializers.CharField()
    amount = serializers.DecimalField(max_digits=18, decimal_places=2)
    currency = serializers.CharField()
    actual = serializers.DecimalField(max_digits=24, decimal_places=2, rounding=ROUND_HALF_UP)
    percent = serializers.DecimalField(max_digits=12, decimal_places=1)
    forecast = serializers.DecimalField(
        max_digits=24, decimal_places=2, rounding=ROUND_HALF_UP, allow_null=True
    )
    forecast_percent = serializers.DecimalField(max_digits=12, decimal_places=1, allow_null=True)
    thresholds_reached = serializers.ListField(child=serializers.IntegerField())
    state = serializers.CharField()


class BudgetViewSet(AddPermissionFirstMixin, RestrictedModelViewSet):
    """Monthly budgets of use cases and teams with alert thresholds (percent). The CoE and
    admins set them; a team sees its own; an alert goes out once per budget, month and
    threshold."""

    queryset = Budget.objects.select_related("use_case", "team")
    serializer_class = BudgetSerializer
    filterset_fields = {"use_case__key": ["exact"], "team__slug": ["exact"], "currency": ["exact"]}
    ordering_fields = ["amount", "created_at"]

    def perform_create(self, serializer):
        self.check_add_permission()
        serializer.instance = budget_save(**serializer.validated_data)

    def perform_update(self, serializer):
        serializer.instance = budget_save(budget=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        budget_delete(budget=instance)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "period",
                OpenApiTypes.STR,
                description="Month YYYY-MM (default: the latest month with billing data).",
            )
        ],
        responses=BudgetStatusSerializer(many=True),
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None, url_path="status")
    def status_report(self, request):
        """Spend against each visible budget in a month, with the forecast to month end."""
        period = _month(request.query_params.get("period"), "period") or reports.budget_period()
        statuses = budget_statuses(self.get_queryset(), period=period)
        return Response([reports.budget_status_dict(status) for status in statuses])


class BudgetAlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = BudgetAlert
        fields = ["id", "budget", "period", "threshold", "spent", "created_at"]


class BudgetAlertViewSet(RestrictedReadOnlyViewSet):
    """Alerts sent (one per budget, month and threshold), visible with their budget."""

    queryset = BudgetAlert.objects.all()
    serializer_class = BudgetAlertSerializer
    filterset_fields = ["budget", "period", "threshold"]
    ordering_fields = ["period", "created_at"]


#
# KPI readings
#


class KpiReadingSerializer(RestrictedChoicesMixin, serializers.ModelSerializer):
    restricted_fields = ("kpi",)
    kpi = serializers.PrimaryKeyRelatedField(queryset=Kpi.objects.all())
    period = month_field()
    money = serializers.DecimalField(max_digits=24, decimal_places=2, rounding=ROUND_HALF_UP, read_only=True, allow_null=True,
                                     help_text="monetized_value, else value * the KPI's value per unit.")  # fmt: skip
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = KpiReading
        fields = [
            "id",
            "kpi",
            "period",
            "value",
            "monetized_value",
            "money",
            "note",
            "recorded_by",
            "recorded_at",
        ]
        read_only_fields = ["recorded_at"]
        validators = []  # one reading per KPI and month: recording again corrects it (the service)

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["period"] = f"{instance.period:%Y-%m}"
        return data


class KpiReadingViewSet(AddPermissionFirstMixin, RestrictedModelViewSet):
    """What a KPI measured per month (one reading per KPI and month; posting again corrects
    it) and its money value. The owning team and the CoE record them."""

    queryset = KpiReading.objects.select_related("kpi__use_case", "recorded_by")
    serializer_class = KpiReadingSerializer
    filterset_fields = {"kpi": ["exact"], "kpi__use_case__key": ["exact"], "period": ["exact", "gte", "lt"]}
    ordering_fields = ["period"]

    def _record(self, serializer, kpi):

        if not may_record_kpi_reading(self.request.user, kpi):
            raise exceptions.PermissionDenied("You may not record readings of this KPI.")
        data = serializer.validated_data
        serializer.instance = kpi_reading_record(
            kpi=kpi,
            period=_month(data["period"], "period") if "period" in data else serializer.instance.period,
            value=data.get("value", getattr(serializer.instance, "value", None)),
            monetized_value=data.get(
                "monetized_value", getattr(serializer.instance, "monetized_value", None)
            ),
            note=data.get("note", getattr(serializer.instance, "note", "")),
            actor=self.request.user,
        )

    def perform_create(self, serializer):
        self.check_add_permission()
        self._record(serializer, serializer.validated_data["kpi"])

    def perform_update(self, serializer):
        if "kpi" in serializer.validated_data and serializer.validated_data["kpi"] != serializer.instance.kpi:
            raise exceptions.ValidationError(
                {"kpi": ["A reading stays with its KPI; record a new one instead."]}
            )
        period = serializer.validated_data.get("period")
        if period and _month(period, "period") != serializer.instance.period:
            raise exceptions.ValidationError(
                {"period": ["A reading stays with its month; record a new one instead."]}
            )
        self._record(serializer, serializer.instance.kpi)

    def perform_destroy(self, instance):
        kpi_reading_delete(reading=instance)
