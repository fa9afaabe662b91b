"""Allocation rules, shared pools and their split, allocation results and cost drivers, budgets
with alerts, and KPI readings for value and ROI (costs/allocation.py, costs/budgets.py,
costs/value.py)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("costs", "0003_daily_cost_import_schedule"),
        ("inventory", "0003_use_cases_assets_and_releases"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="SharedPool",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=120, unique=True)),
                ("description", models.TextField(blank=True)),
                (
                    "split_method",
                    models.CharField(
                        choices=[
                            ("direct_cost", "In proportion to direct cost"),
                            ("even", "Evenly"),
                            ("fixed", "Fixed percentages"),
                        ],
                        default="direct_cost",
                        max_length=20,
                    ),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "ordering": ["name"],
            },
        ),
        migrations.CreateModel(
            name="AllocationRule",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=120)),
                ("position", models.PositiveIntegerField(default=100, help_text="Lower runs first.")),
                ("enabled", models.BooleanField(default=True)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("match", "Match on tags, accounts, resources, service or provider"),
                            ("use_case_key_tag", "Tag value is a use-case key (e.g. use-case: UC-0042)"),
                        ],
                        default="match",
                        max_length=20,
                    ),
                ),
                (
                    "tag_key",
                    models.CharField(
                        blank=True,
                        help_text="Tag key, with aliases separated by commas (e.g. use-case, usecase, use_case). Matched case-insensitively.",
                        max_length=300,
                    ),
                ),
                (
                    "tag_value",
                    models.CharField(
                        blank=True, help_text="Case-insensitive; empty: any value of the tag.", max_length=200
                    ),
                ),
                (
                    "billing_account_id",
                    models.CharField(blank=True, max_length=200, verbose_name="billing account"),
                ),
                ("sub_account_id", models.CharField(blank=True, max_length=200, verbose_name="sub-account")),
                (
                    "resource_pattern",
                    models.CharField(
                        blank=True, help_text="Matched against the resource id.", max_length=500
                    ),
                ),
                (
                    "resource_pattern_kind",
                    models.CharField(
                        choices=[("glob", "Glob (* and ?)"), ("regex", "Regular expression")],
                        default="glob",
                        max_length=10,
                    ),
                ),
                (
                    "service_name",
                    models.CharField(
                        blank=True, help_text="Case-insensitive.", max_length=200, verbose_name="service"
                    ),
                ),
                ("provider", models.CharField(blank=True, help_text="Case-insensitive.", max_length=100)),
                (
                    "target_kind",
                    models.CharField(
                        choices=[("use_case", "A use case"), ("team", "A team"), ("pool", "A shared pool")],
                        default="use_case",
                        max_length=20,
                    ),
                ),
                ("description", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "source",
                    models.ForeignKey(
                        blank=True,
                        help_text="Only this source's line items; empty: every source.",
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="allocation_rules",
                        to="costs.costsource",
                    ),
                ),
                (
                    "target_team",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="allocation_rules",
                        to="inventory.team",
                    ),
                ),
                (
                    "target_use_case",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="allocation_rules",
                        to="inventory.usecase",
                    ),
                ),
                (
                    "target_pool",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="rules",
                        to="costs.sharedpool",
                    ),
                ),
            ],
            options={
                "ordering": ["position", "pk"],
            },
        ),
        migrations.CreateModel(
            name="Budget",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "amount",
                    models.DecimalField(decimal_places=2, help_text="Per calendar month.", max_digits=18),
                ),
                ("currency", models.CharField(default="USD", max_length=3)),
                (
                    "thresholds",
                    models.JSONField(blank=True, default=list, help_text="Percentages, e.g. [50, 80, 100]."),
                ),
                ("notes", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "team",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="budgets",
                        to="inventory.team",
                    ),
                ),
                (
                    "use_case",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="budgets",
                        to="inventory.usecase",
                    ),
                ),
            ],
            options={
                "ordering": ["pk"],
            },
        ),
        migrations.CreateModel(
            name="BudgetAlert",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("period", models.DateField()),
                ("threshold", models.PositiveSmallIntegerField()),
                ("spent", models.DecimalField(decimal_places=10, max_digits=24)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "budget",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="alerts", to="costs.budget"
                    ),
                ),
            ],
            options={
                "ordering": ["-period", "budget", "threshold"],
            },
        ),
        migrations.CreateModel(
            name="CostDriver",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("period", models.DateField()),
                ("currency", models.CharField(max_length=3)),
                (
                    "kind",
                    models.CharField(
                        choices=[("service", "Service"), ("resource", "Resource")], max_length=10
                    ),
                ),
                ("name", models.CharField(blank=True, max_length=1024)),
                ("effective_cost", models.DecimalField(decimal_places=10, max_digits=24)),
                ("line_count", models.BigIntegerField(default=0)),
                (
                    "source",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="cost_drivers",
                        to="costs.costsource",
                    ),
                ),
                (
                    "use_case",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="cost_drivers",
                        to="inventory.usecase",
                    ),
                ),
            ],
            options={
                "ordering": ["-period", "use_case", "kind", "-effective_cost"],
            },
        ),
        migrations.CreateModel(
            name="KpiReading",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("period", models.DateField(help_text="First day of the month measured.")),
                ("value", models.DecimalField(decimal_places=4, max_digits=18)),
                (
                    "monetized_value",
                    models.DecimalField(
                        blank=True,
                        decimal_places=2,
                        help_text="Explicit money value; overrides value * value per unit.",
                        max_digits=18,
                        null=True,
                    ),
                ),
                ("note", models.CharField(blank=True, max_length=300)),
                ("recorded_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "kpi",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="readings",
                        to="inventory.kpi",
                    ),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-period", "kpi"],
            },
        ),
        migrations.CreateModel(
            name="CostAllocation",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("period", models.DateField(help_text="First day of the billing month.")),
                ("currency", models.CharField(max_length=3)),
                (
                    "bucket",
                    models.CharField(
                        choices=[("use_case", "Use case"), ("team", "Team"), ("unallocated", "Unallocated")],
                        max_length=20,
                    ),
                ),
                (
                    "rule_name",
                    models.CharField(
                        blank=True, help_text="The rule's name when this was computed.", max_length=120
                    ),
                ),
                (
                    "cost_kind",
                    models.CharField(
                        choices=[("direct", "Direct"), ("shared", "Shared (pool split)")],
                        default="direct",
                        max_length=10,
                    ),
                ),
                ("effective_cost", models.DecimalField(decimal_places=10, max_digits=24)),
                ("billed_cost", models.DecimalField(decimal_places=10, max_digits=24)),
                (
                    "line_count",
                    models.BigIntegerField(
                        default=0,
                        help_text="Line items behind the row (for a shared row: those of the pool it split).",
                    ),
                ),
                ("recent_effective_cost", models.DecimalField(decimal_places=10, default=0, max_digits=24)),
                ("partial_effective_cost", models.DecimalField(decimal_places=10, default=0, max_digits=24)),
                ("recent_days", models.PositiveSmallIntegerField(default=0)),
                (
                    "data_through",
                    models.DateField(
                        blank=True,
                        help_text="Charges are complete up to (not including) this day.",
                        null=True,
                    ),
                ),
                ("computed_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "cost_import",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="allocations",
                        to="costs.costimport",
                    ),
                ),
                (
                    "rule",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="allocations",
                        to="costs.allocationrule",
                    ),
                ),
                (
                    "source",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="allocations",
                        to="costs.costsource",
                    ),
                ),
                (
                    "team",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="cost_allocations",
                        to="inventory.team",
                    ),
                ),
                (
                    "use_case",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="cost_allocations",
                        to="inventory.usecase",
                    ),
                ),
                (
                    "pool",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="allocations",
                        to="costs.sharedpool",
                    ),
                ),
            ],
            options={
                "ordering": ["-period", "source", "currency", "bucket", "pk"],
            },
        ),
        migrations.CreateModel(
            name="SharedPoolMember",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("percentage", models.DecimalField(blank=True, decimal_places=4, max_digits=7, null=True)),
                (
                    "pool",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="members",
                        to="costs.sharedpool",
                    ),
                ),
                (
                    "team",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="inventory.team",
                    ),
                ),
                (
                    "use_case",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="inventory.usecase",
                    ),
                ),
            ],
            options={
                "ordering": ["pool", "pk"],
            },
        ),
        migrations.AddConstraint(
            model_name="budget",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("team__isnull", True), ("use_case__isnull", False)),
                    models.Q(("team__isnull", False), ("use_case__isnull", True)),
                    _connector="OR",
                ),
                name="costs_budget_one_target",
            ),
        ),
        migrations.AddConstraint(
            model_name="budget",
            constraint=models.UniqueConstraint(
                condition=models.Q(("use_case__isnull", False)),
                fields=("use_case", "currency"),
                name="costs_budget_uc_once",
            ),
        ),
        migrations.AddConstraint(
            model_name="budget",
            constraint=models.UniqueConstraint(
                condition=models.Q(("team__isnull", False)),
                fields=("team", "currency"),
                name="costs_budget_team_once",
            ),
        ),
        migrations.AddConstraint(
            model_name="budgetalert",
            constraint=models.UniqueConstraint(
                fields=("budget", "period", "threshold"), name="costs_budget_alert_once"
            ),
        ),
        migrations.AddIndex(
            model_name="costdriver",
            index=models.Index(fields=["use_case", "period"], name="costs_driver_uc_period"),
        ),
        migrations.AddConstraint(
            model_name="kpireading",
            constraint=models.UniqueConstraint(fields=("kpi", "period"), name="costs_kpi_reading_once"),
        ),
        migrations.AddIndex(
            model_name="costallocation",
            index=models.Index(fields=["source", "period"], name="costs_alloc_source_period"),
        ),
        migrations.AddIndex(
            model_name="costallocation",
            index=models.Index(fields=["period", "use_case"], name="costs_alloc_period_uc"),
        ),
        migrations.AddIndex(
            model_name="costallocation",
            index=models.Index(fields=["period", "team"], name="costs_alloc_period_team"),
        ),
        migrations.AddConstraint(
            model_name="sharedpoolmember",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("team__isnull", True), ("use_case__isnull", False)),
                    models.Q(("team__isnull", False), ("use_case__isnull", True)),
                    _connector="OR",
                ),
                name="costs_pool_member_one_target",
            ),
        ),
        migrations.AddConstraint(
            model_name="sharedpoolmember",
            constraint=models.UniqueConstraint(
                fields=("pool", "use_case"), name="costs_pool_member_use_case_once"
            ),
        ),
        migrations.AddConstraint(
            model_name="sharedpoolmember",
            constraint=models.UniqueConstraint(fields=("pool", "team"), name="costs_pool_member_team_once"),
        ),
    ]
