"""Line items become narrow rows with dimension ids (issue 13).

The wide ``costs_costlineitem`` table is renamed, the narrow one is created (on PostgreSQL
partitioned by import, on SQLite a plain table), every current import's rows are converted
through the new dimension tables, and the wide table is dropped. Rows of imports that are not
current (a load that was abandoned) are not carried over: readers never saw them.

The DDL and the conversion are frozen here on purpose; costs.ingest.store holds the live DDL.
"""

import hashlib
import json

import django.db.models.deletion
from django.db import migrations, models

ROW_ID_SHIFT = 39  # line item id = import id << 39 | file index << 26 | row in file

COLUMNS_PG = """
    id bigint NOT NULL,
    cost_import_id bigint NOT NULL,
    source_id bigint NOT NULL,
    billing_period_start date NOT NULL,
    charge_period_start timestamp with time zone NOT NULL,
    charge_period_end timestamp with time zone NOT NULL,
    charge_date date NOT NULL,
    profile_id integer NOT NULL,
    region_id integer NOT NULL,
    sku_id integer NOT NULL,
    charge_id integer NOT NULL,
    usage_quantity numeric(28, 10),
    billed_cost numeric(20, 10) NOT NULL,
    effective_cost numeric(20, 10) NOT NULL,
    list_cost numeric(20, 10),
    billing_currency varchar(3) NOT NULL
"""
COLUMNS_SQLITE = """
    id integer NOT NULL PRIMARY KEY,
    cost_import_id bigint NOT NULL,
    source_id bigint NOT NULL,
    billing_period_start date NOT NULL,
    charge_period_start datetime NOT NULL,
    charge_period_end datetime NOT NULL,
    charge_date date NOT NULL,
    profile_id integer NOT NULL,
    region_id integer NOT NULL,
    sku_id integer NOT NULL,
    charge_id integer NOT NULL,
    usage_quantity decimal NULL,
    billed_cost decimal NOT NULL,
    effective_cost decimal NOT NULL,
    list_cost decimal NULL,
    billing_currency varchar(3) NOT NULL
"""
NARROW = (
    "id", "cost_import_id", "source_id", "billing_period_start", "charge_period_start", "charge_period_end",
    "charge_date", "profile_id", "region_id", "sku_id", "charge_id", "usage_quantity", "billed_cost",
    "effective_cost", "list_cost", "billing_currency",
)  # fmt: skip


def _digest(text):
    return hashlib.sha256(text.encode()).hexdigest()


def create_narrow_table(schema_editor):
    with schema_editor.connection.cursor() as cursor:
        if schema_editor.connection.vendor == "postgresql":
            cursor.execute(
                f"CREATE TABLE costs_costlineitem ({COLUMNS_PG}) PARTITION BY LIST (cost_import_id)"
            )
            cursor.execute(
                "CREATE INDEX costs_lineitem_charge_brin ON costs_costlineitem USING brin (charge_period_start)"
            )
        else:
            cursor.execute(f"CREATE TABLE costs_costlineitem ({COLUMNS_SQLITE})")
            cursor.execute("CREATE INDEX costs_lineitem_import ON costs_costlineitem (cost_import_id)")


def convert(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE costs_costlineitem RENAME TO costs_costlineitem_wide")
    create_narrow_table(schema_editor)
    CostImport = apps.get_model("costs", "CostImport")
    dimensions = {
        name: apps.get_model("costs", name)
        for name in ("BillingAccount", "BillingService", "BillingResource", "BillingRegion", "BillingSku",
                     "BillingCharge", "BillingTagSet", "BillingProfile")
    }  # fmt: skip
    cache = {}

    def dimension(name, lookup, defaults=None):
        key = (name, tuple(sorted(lookup.items())))
        if key not in cache:
            cache[key] = dimensions[name].objects.get_or_create(**lookup, defaults=defaults or {})[0].pk
        return cache[key]

    wide = (
        "charge_period_start", "charge_period_end", "provider", "billing_account_id", "sub_account_id",
        "service_name", "service_category", "resource_id", "region", "sku_id", "charge_category",
        "charge_class", "provider_charge_type", "usage_quantity", "usage_unit", "billed_cost",
        "effective_cost", "list_cost", "billing_currency", "tags", "tags_normalized",
    )  # fmt: skip
    for cost_import in CostImport.objects.filter(is_current=True).order_by("pk"):
        table = "costs_costlineitem"
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                table = f"costs_costlineitem_p{cost_import.pk}"
                cursor.execute(f"CREATE TABLE {table} (LIKE costs_costlineitem INCLUDING DEFAULTS)")
            cursor.execute(
                f"SELECT {', '.join(wide)} FROM costs_costlineitem_wide WHERE cost_import_id = %s ORDER BY id",  # noqa: S608 (names are constants)
                [cost_import.pk],
            )
            rows = cursor.fetchall()
        narrow = []
        for number, values in enumerate(rows):
            row = dict(zip(wide, values, strict=True))
            for name in ("tags", "tags_normalized"):
                if isinstance(row[name], str):
                    row[name] = json.loads(row[name])
            pairs = json.dumps([[k, v] for k, v in (row["tags"] or {}).items()], ensure_ascii=False,
                               separators=(",", ":"))  # fmt: skip
            tag_set = dimension(
                "BillingTagSet", {"digest": _digest(pairs)},
                {"tags": row["tags"] or {}, "tags_normalized": row["tags_normalized"] or {}},
            )  # fmt: skip
            profile = dimension(
                "BillingProfile",
                {
                    "account_id": dimension("BillingAccount", {"billing_account_id": row["billing_account_id"],
                                                               "sub_account_id": row["sub_account_id"]}),
                    "service_id": dimension("BillingService", {"provider": row["provider"],
                                                               "service_name": row["service_name"],
                                                               "service_category": row["service_category"]}),
                    "resource_id": dimension("BillingResource", {"digest": _digest(row["resource_id"])},
                                             {"resource_id": row["resource_id"]}),
                    "tag_set_id": tag_set,
                },
            )  # fmt: skip
            start = row["charge_period_start"]
            if isinstance(start, str):
                from django.utils.dateparse import parse_datetime

                start = parse_datetime(start)
            narrow.append((
                (cost_import.pk << ROW_ID_SHIFT) + number, cost_import.pk, cost_import.source_id,
                cost_import.billing_period_start, row["charge_period_start"], row["charge_period_end"],
                start.date(), profile, dimension("BillingRegion", {"region": row["region"]}),
                dimension("BillingSku", {"sku_id": row["sku_id"]}),
                dimension("BillingCharge", {"charge_category": row["charge_category"],
                                            "charge_class": row["charge_class"],
                                            "provider_charge_type": row["provider_charge_type"],
                                            "usage_unit": row["usage_unit"]}),
                row["usage_quantity"], row["billed_cost"], row["effective_cost"], row["list_cost"],
                row["billing_currency"],
            ))  # fmt: skip
        with connection.cursor() as cursor:
            if narrow:
                marks = ", ".join(["%s"] * len(NARROW))
                cursor.executemany(f"INSERT INTO {table} ({', '.join(NARROW)}) VALUES ({marks})", narrow)  # noqa: S608
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"ALTER TABLE {table} ADD CONSTRAINT {table}_import CHECK (cost_import_id = {cost_import.pk})"
                )
                cursor.execute(
                    f"ALTER TABLE costs_costlineitem ATTACH PARTITION {table} FOR VALUES IN ({cost_import.pk})"
                )
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE costs_costlineitem_wide")


class Migration(migrations.Migration):
    dependencies = [
        ("costs", "0006_import_warnings_and_heartbeat"),
        ("inventory", "0006_digest_message_says_what_is_accepted"),
    ]

    operations = [
        migrations.CreateModel(
            name="BillingRegion",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("region", models.CharField(blank=True, max_length=100, unique=True)),
            ],
        ),
        migrations.CreateModel(
            name="BillingResource",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("resource_id", models.CharField(blank=True, max_length=1024)),
                ("digest", models.CharField(help_text="SHA-256 of resource_id.", max_length=64, unique=True)),
            ],
        ),
        migrations.CreateModel(
            name="BillingSku",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("sku_id", models.CharField(blank=True, max_length=200, unique=True)),
            ],
        ),
        migrations.CreateModel(
            name="BillingTagSet",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                (
                    "digest",
                    models.CharField(help_text="SHA-256 of the pairs' JSON.", max_length=64, unique=True),
                ),
                (
                    "tags",
                    models.JSONField(
                        blank=True, default=dict, help_text="Keys and values as the source wrote them."
                    ),
                ),
                (
                    "tags_normalized",
                    models.JSONField(
                        blank=True,
                        default=dict,
                        help_text="Keys through costs.ingest.normalize.normalize_tag_key, for matching.",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="BillingAccount",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("billing_account_id", models.CharField(blank=True, max_length=200)),
                ("sub_account_id", models.CharField(blank=True, max_length=200)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("billing_account_id", "sub_account_id"), name="costs_account_once"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="BillingCharge",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                (
                    "charge_category",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("Usage", "Usage"),
                            ("Purchase", "Purchase"),
                            ("Tax", "Tax"),
                            ("Credit", "Credit"),
                            ("Adjustment", "Adjustment"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "charge_class",
                    models.CharField(
                        blank=True, help_text="FOCUS ChargeClass: Correction or empty.", max_length=20
                    ),
                ),
                (
                    "provider_charge_type",
                    models.CharField(
                        blank=True,
                        help_text="CUR line item type (Usage, RIFee, SavingsPlanNegation…).",
                        max_length=50,
                    ),
                ),
                ("usage_unit", models.CharField(blank=True, max_length=100)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("charge_category", "charge_class", "provider_charge_type", "usage_unit"),
                        name="costs_charge_once",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="BillingService",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                ("provider", models.CharField(blank=True, max_length=100)),
                ("service_name", models.CharField(blank=True, max_length=200)),
                ("service_category", models.CharField(blank=True, max_length=100)),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("provider", "service_name", "service_category"), name="costs_service_once"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="BillingProfile",
            fields=[
                ("id", models.AutoField(primary_key=True, serialize=False)),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="costs.billingaccount",
                    ),
                ),
                (
                    "resource",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="costs.billingresource",
                    ),
                ),
                (
                    "service",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="costs.billingservice",
                    ),
                ),
                (
                    "tag_set",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="costs.billingtagset",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("account", "service", "resource", "tag_set"), name="costs_profile_once"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="CostRollup",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("period", models.DateField(help_text="First day of the billing month.")),
                ("day", models.DateField(help_text="The UTC day the charges started.")),
                ("currency", models.CharField(max_length=3)),
                (
                    "bucket",
                    models.CharField(
                        choices=[
                            ("use_case", "Use case"),
                            ("team", "Team"),
                            ("pool", "Shared pool"),
                            ("unallocated", "Unallocated"),
                        ],
                        max_length=11,
                    ),
                ),
                ("effective_cost", models.DecimalField(decimal_places=10, max_digits=24)),
                ("billed_cost", models.DecimalField(decimal_places=10, max_digits=24)),
                ("line_count", models.BigIntegerField(default=0)),
                (
                    "cost_import",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="rollups",
                        to="costs.costimport",
                    ),
                ),
                (
                    "pool",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="rollups",
                        to="costs.sharedpool",
                    ),
                ),
                (
                    "rule",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="rollups",
                        to="costs.allocationrule",
                    ),
                ),
                (
                    "service",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="costs.billingservice",
                    ),
                ),
                (
                    "source",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="rollups",
                        to="costs.costsource",
                    ),
                ),
                (
                    "team",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="cost_rollups",
                        to="inventory.team",
                    ),
                ),
                (
                    "use_case",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="cost_rollups",
                        to="inventory.usecase",
                    ),
                ),
            ],
            options={
                "ordering": ["-period", "source", "day", "pk"],
                "indexes": [
                    models.Index(fields=["source", "period"], name="costs_rollup_source_period"),
                    models.Index(fields=["period", "use_case"], name="costs_rollup_period_uc"),
                    models.Index(fields=["period", "team"], name="costs_rollup_period_team"),
                ],
            },
        ),
        migrations.CreateModel(
            name="CostProfileTotal",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("period", models.DateField()),
                ("currency", models.CharField(max_length=3)),
                ("effective_cost", models.DecimalField(decimal_places=10, max_digits=24)),
                ("billed_cost", models.DecimalField(decimal_places=10, max_digits=24)),
                ("line_count", models.BigIntegerField(default=0)),
                (
                    "profile",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="costs.billingprofile",
                    ),
                ),
                (
                    "source",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="profile_totals",
                        to="costs.costsource",
                    ),
                ),
            ],
            options={
                "ordering": ["-period", "source", "profile"],
                "indexes": [models.Index(fields=["period", "source"], name="costs_profile_total_period")],
            },
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="CostLineItem"),
                migrations.CreateModel(
                    name="CostLineItem",
                    fields=[
                        ("id", models.BigIntegerField(primary_key=True, serialize=False)),
                        ("billing_period_start", models.DateField()),
                        ("charge_period_start", models.DateTimeField()),
                        ("charge_period_end", models.DateTimeField()),
                        ("charge_date", models.DateField()),
                        (
                            "usage_quantity",
                            models.DecimalField(blank=True, decimal_places=10, max_digits=28, null=True),
                        ),
                        ("billed_cost", models.DecimalField(decimal_places=10, max_digits=20)),
                        ("effective_cost", models.DecimalField(decimal_places=10, max_digits=20)),
                        (
                            "list_cost",
                            models.DecimalField(blank=True, decimal_places=10, max_digits=20, null=True),
                        ),
                        ("billing_currency", models.CharField(max_length=3)),
                        (
                            "cost_import",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="line_items",
                                to="costs.costimport",
                            ),
                        ),
                        (
                            "source",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="line_items",
                                to="costs.costsource",
                            ),
                        ),
                        (
                            "profile",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="costs.billingprofile",
                            ),
                        ),
                        (
                            "region",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="costs.billingregion",
                            ),
                        ),
                        (
                            "sku",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="costs.billingsku",
                            ),
                        ),
                        (
                            "charge",
                            models.ForeignKey(
                                db_constraint=False,
                                on_delete=django.db.models.deletion.DO_NOTHING,
                                related_name="+",
                                to="costs.billingcharge",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "costs_costlineitem",
                        "ordering": ["charge_period_start", "id"],
                        "managed": False,
                    },
                ),
            ],
            database_operations=[migrations.RunPython(convert, migrations.RunPython.noop, elidable=False)],
        ),
    ]
