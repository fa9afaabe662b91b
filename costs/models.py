"""Where cost data comes from and what it says: sources, imports and normalised line items.

Allocation rules, shared pools, budgets and ROI build on these. The invariant they rely on
(DESIGN.md §4.4): for every source and billing period exactly one import is current, its line
items are the whole period, and its stored totals are the sum of those line items to the cent.
"""

import re
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from costs.choices import (
    AllocationBucketChoices,
    AllocationRuleKindChoices,
    AllocationStateChoices,
    AllocationTargetKindChoices,
    ChargeCategoryChoices,
    CostImportStatusChoices,
    CostKindChoices,
    CostSourceKindChoices,
    ImportFormatChoices,
    LoadFileStatusChoices,
    ResourcePatternKindChoices,
    RollupBucketChoices,
    SplitMethodChoices,
)
from costs.ingest.errors import CostImportError
from costs.ingest.normalize import CURRENCY_PATTERN, normalize_tag_key
from costs.ingest.readers import confined
from portal.querysets import AuditedQuerySet

# Money: CUR carries ten decimal places; ten integer digits hold any single line item.
MONEY = {"max_digits": 20, "decimal_places": 10}
QUANTITY = {"max_digits": 28, "decimal_places": 10}
DEFAULT_USE_CASE_TAG_KEY = "use-case"


def cost_import_root() -> Path:
    """The folder below which local billing files may be read (PROPYLON_COST_IMPORT_ROOT, by
    default DATA_DIR/cost-imports; docs/deployment.md)."""
    configured = str(settings.PROPYLON_COST_IMPORT_ROOT or "").strip()
    return Path(configured).expanduser() if configured else Path(settings.DATA_DIR) / "cost-imports"


# Regular-expression features that PostgreSQL (ARE) and Python's re (SQLite) read differently.
NON_PORTABLE_REGEX = re.compile(r"\(\?P|\(\?<[=!]?|\(\?[=!]|\\[AZz]")


def resource_pattern_error(pattern: str, kind: str) -> str:
    """Why a resource pattern cannot be used, or an empty string."""
    if len(pattern) > 500:
        return "A resource pattern is at most 500 characters."
    if kind == ResourcePatternKindChoices.GLOB:
        return ""
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"Not a valid regular expression: {exc.msg} at position {exc.pos}."
    if NON_PORTABLE_REGEX.search(pattern):
        return (
            "Use plain regular expressions: named groups, look-arounds and \\A \\Z \\z are read "
            "differently by the databases Propylon runs on. Anchor with ^ and $."
        )
    if connection.vendor == "postgresql":
        # The database runs the pattern: ask it, not only Python, whether it can.
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT '' ~ %s", [pattern])
        except DatabaseError as exc:
            return f"PostgreSQL cannot use this regular expression ({str(exc).splitlines()[0]})."
    return ""


class CostSource(models.Model):
    """A billing feed an admin configured: a FOCUS export, an AWS CUR or Cost Explorer.

    AWS settings are optional: without keys or a role, boto3's standard credential chain
    (environment, shared config, instance or task role) is used. The secret key is write-only:
    forms, API answers and the audit trail never show it.
    """

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=CostSourceKindChoices.max_length(), choices=CostSourceKindChoices)
    location = models.CharField(
        max_length=500,
        blank=True,
        help_text="Folder path or s3://bucket/prefix of the export; empty for uploads and Cost Explorer.",
    )
    enabled = models.BooleanField(default=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    aws_region = models.CharField(
        "AWS region", max_length=50, blank=True, help_text="For example us-east-1 (Cost Explorer's region)."
    )
    endpoint_url = models.URLField(
        "endpoint URL",
        max_length=300,
        blank=True,
        help_text="Only for S3-compatible storage or a private endpoint; empty means AWS's own.",
    )
    role_arn = models.CharField(
        "role ARN", max_length=300, blank=True, help_text="A role to assume for reading the export."
    )
    external_id = models.CharField("external ID", max_length=200, blank=True)
    access_key_id = models.CharField(
        "access key ID", max_length=128, blank=True, help_text="Empty: the standard AWS credential chain."
    )
    secret_access_key = models.CharField("secret access key", max_length=256, blank=True)
    use_case_tag_key = models.CharField(
        "use-case tag key",
        max_length=128,
        default=DEFAULT_USE_CASE_TAG_KEY,
        help_text="The cost-allocation tag that names the use case (Cost Explorer groups by it).",
    )

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("costs:source-detail", args=[self.pk])

    def clean(self) -> None:
        location = self.location.strip()
        if self.kind == CostSourceKindChoices.AWS_COST_EXPLORER and location:
            raise ValidationError({"location": "Cost Explorer is an API: leave the location empty."})
        if self.kind in (CostSourceKindChoices.AWS_CUR, CostSourceKindChoices.AWS_CUR2) and not location:
            raise ValidationError(
                {"location": "A CUR is read through its manifest: give s3://bucket/prefix/report-name."}
            )
        if location and not (location.startswith(("s3://", "/", "~"))):
            raise ValidationError(
                {"location": "Give an absolute folder path or an s3://bucket/prefix address."}
            )
        if location and not location.startswith("s3://"):
            try:
                confined(Path(location), [cost_import_root()], location)
            except CostImportError as exc:
                raise ValidationError({"location": str(exc)}) from None
        if bool(self.access_key_id) != bool(self.secret_access_key):
            raise ValidationError(
                {"access_key_id": "Give both the access key ID and the secret access key, or neither."}
            )

    @property
    def import_format(self) -> str:
        return ImportFormatChoices.FOR_SOURCE_KIND[self.kind]

    @property
    def kind_colour(self) -> str:
        return CostSourceKindChoices.colour(self.kind)

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_access_key)


class CostLoad(models.Model):
    """One delivery being loaded: the files of one manifest, folder or upload (or one Cost
    Explorer answer), and the imports (one per billing period) they become.

    Each file is loaded by a job of its own (:class:`CostLoadFile`), on as many workers as are
    running; when the last one has loaded, one final step checks what spans files and makes the
    delivery's periods current in one transaction (costs.ingest.writer.finish_load). One file
    that fails fails the delivery and leaves every period's current import as it was.
    """

    source = models.ForeignKey(CostSource, on_delete=models.CASCADE, related_name="loads")
    format = models.CharField(max_length=ImportFormatChoices.max_length(), choices=ImportFormatChoices)
    location = models.CharField(max_length=1000, blank=True)
    identifier = models.CharField(max_length=200, blank=True)
    period_start = models.DateField(null=True, blank=True, help_text="Known up front for manifests.")
    period_end = models.DateField(null=True, blank=True)
    is_estimated = models.BooleanField(default=False)
    status = models.CharField(
        max_length=CostImportStatusChoices.max_length(),
        choices=CostImportStatusChoices,
        default=CostImportStatusChoices.RUNNING,
    )
    error_message = models.TextField(blank=True)
    finishing_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Set by the file job that loaded last and makes the delivery current.",
    )
    job_run = models.ForeignKey(
        "portal.JobRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="cost_loads"
    )
    started_by = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.source} delivery {self.identifier[:12] or self.location} #{self.pk}"


class CostLoadFile(models.Model):
    """One file of a delivery and what its job found: rows, totals per period and currency,
    the first currency of each billing account, colliding tag keys, or the error."""

    load = models.ForeignKey(CostLoad, on_delete=models.CASCADE, related_name="files")
    position = models.PositiveIntegerField(help_text="The file's place in the delivery, from 0.")
    name = models.CharField(max_length=1000)
    address = models.JSONField(default=dict, help_text="How a worker opens it: a local path or an S3 object.")
    status = models.CharField(
        max_length=LoadFileStatusChoices.max_length(),
        choices=LoadFileStatusChoices,
        default=LoadFileStatusChoices.PENDING,
    )
    job_run = models.ForeignKey(
        "portal.JobRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="cost_load_files"
    )
    rows = models.BigIntegerField(default=0)
    progress = models.FloatField(default=0, help_text="0..1 of the file read.")
    record = models.JSONField(default=dict, blank=True, help_text="{name, sha256, bytes, rows} once read.")
    totals = models.JSONField(default=dict, blank=True, help_text="{period: {currency: {billed, …, rows}}}.")
    account_currencies = models.JSONField(
        default=dict,
        blank=True,
        help_text="{'period|account': [currency, row]}: each account's first currency.",
    )
    tag_collisions = models.JSONField(
        default=list,
        blank=True,
        help_text="[[period, normalised key, kept key, dropped key, rows, first row]].",
    )
    error_message = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["load", "position"]
        constraints = [models.UniqueConstraint(fields=["load", "position"], name="costs_load_file_once")]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display()})"

    @property
    def status_colour(self) -> str:
        return LoadFileStatusChoices.colour(self.status)


class CostImport(models.Model):
    """One import of one billing period of one source.

    Identified by the manifest (assemblyId / executionId), the files' SHA-256 or, for Cost
    Explorer, the answer's digest: importing the same identifier again changes nothing. The
    current import of a (source, period) is swapped in one transaction; the one it replaced
    stays as history (superseded) without its line items.
    """

    source = models.ForeignKey(CostSource, on_delete=models.CASCADE, related_name="imports")
    format = models.CharField(max_length=ImportFormatChoices.max_length(), choices=ImportFormatChoices)
    # Empty only for an import that failed before it could tell which period it was reading.
    billing_period_start = models.DateField(null=True, blank=True)
    billing_period_end = models.DateField(null=True, blank=True, help_text="Exclusive, as in FOCUS.")
    identifier = models.CharField(
        max_length=200, blank=True, help_text="Manifest assembly/execution id, or SHA-256 of the input."
    )
    location = models.CharField(max_length=1000, blank=True)
    files = models.JSONField(default=list, blank=True, help_text="[{name, sha256, bytes, rows}]")
    status = models.CharField(
        max_length=CostImportStatusChoices.max_length(),
        choices=CostImportStatusChoices,
        default=CostImportStatusChoices.RUNNING,
    )
    is_current = models.BooleanField(default=False)
    is_estimated = models.BooleanField(
        default=False, help_text="Cost Explorer said some days are estimates; the next run pulls again."
    )
    row_count = models.BigIntegerField(default=0)
    totals = models.JSONField(
        default=dict, blank=True, help_text="Per currency: billed, effective, list (decimal strings), rows."
    )
    error_message = models.TextField(blank=True)
    warnings = models.JSONField(
        default=list, blank=True, help_text="What the import noticed but did not refuse, one sentence each."
    )
    job_run = models.ForeignKey(
        "portal.JobRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="cost_imports"
    )
    # A running import proves it is alive: the process that writes it (host and pid) and when it
    # last wrote. A crash that skipped the cleanup (kill -9) leaves a stale beat; the next import
    # or the nightly run fails it and deletes its rows (costs.services.imports.cost_imports_reap_abandoned).
    worker = models.CharField(max_length=300, blank=True, help_text="host:pid of the writing process.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    started_by = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    replaced = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaced_by"
    )
    load = models.ForeignKey(
        CostLoad, null=True, blank=True, on_delete=models.SET_NULL, related_name="imports",
        help_text="The delivery whose files wrote this import's line items.",
    )  # fmt: skip

    class Meta:
        ordering = ["-started_at", "-pk"]
        constraints = [
            # DESIGN.md §4.4: one current import per source and period, or totals double up.
            models.UniqueConstraint(
                fields=["source", "billing_period_start"],
                condition=Q(is_current=True),
                name="costs_one_current_import_per_period",
            )
        ]
        indexes = [models.Index(fields=["source", "billing_period_start", "status"])]

    def __str__(self) -> str:
        period = f"{self.billing_period_start:%Y-%m}" if self.billing_period_start else "unknown period"
        return f"{self.source} {period} #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("costs:import-detail", args=[self.pk])

    @property
    def status_colour(self) -> str:
        return CostImportStatusChoices.colour(self.status)

    @property
    def duration(self):
        return (self.finished_at - self.started_at) if self.finished_at else None


#
# Billing dimensions: what repeats across line items, stored once and referenced by integer id
# (issue 13). Shared by every source and period, only ever added to; an empty value is a row of
# its own (a line item without a resource points at the resource ""), so no line item holds a
# NULL reference. Long or free-form keys are unique through their SHA-256 ``digest``.
#


class BillingAccount(models.Model):
    id = models.AutoField(primary_key=True)  # int4: line items carry these ids in every row
    billing_account_id = models.CharField(max_length=200, blank=True)
    sub_account_id = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["billing_account_id", "sub_account_id"], name="costs_account_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.billing_account_id or '—'} / {self.sub_account_id or '—'}"


class BillingService(models.Model):
    id = models.AutoField(primary_key=True)  # int4: line items carry these ids in every row
    provider = models.CharField(max_length=100, blank=True)
    service_name = models.CharField(max_length=200, blank=True)
    service_category = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "service_name", "service_category"], name="costs_service_once"
            )
        ]

    def __str__(self) -> str:
        return self.service_name or "—"


class BillingResource(models.Model):
    id = models.AutoField(primary_key=True)  # int4: line items carry these ids in every row
    resource_id = models.CharField(max_length=1024, blank=True)
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of resource_id.")

    def __str__(self) -> str:
        return self.resource_id or "—"


class BillingRegion(models.Model):
    id = models.AutoField(primary_key=True)  # int4: line items carry these ids in every row
    region = models.CharField(max_length=100, blank=True, unique=True)

    def __str__(self) -> str:
        return self.region or "—"


class BillingSku(models.Model):
    id = models.AutoField(primary_key=True)  # int4: line items carry these ids in every row
    sku_id = models.CharField(max_length=200, blank=True, unique=True)

    def __str__(self) -> str:
        return self.sku_id or "—"


class BillingCharge(models.Model):
    """How a line item charges: FOCUS category and class, the provider's own type, the unit."""

    id = models.AutoField(primary_key=True)  # int4: line items carry these ids in every row

    charge_category = models.CharField(max_length=20, choices=ChargeCategoryChoices, blank=True)
    charge_class = models.CharField(
        max_length=20, blank=True, help_text="FOCUS ChargeClass: Correction or empty."
    )
    provider_charge_type = models.CharField(
        max_length=50, blank=True, help_text="CUR line item type (Usage, RIFee, SavingsPlanNegation…)."
    )
    usage_unit = models.CharField(max_length=100, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["charge_category", "charge_class", "provider_charge_type", "usage_unit"],
                name="costs_charge_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.charge_category or '—'} {self.provider_charge_type}".strip()


class BillingTagSet(models.Model):
    """One distinct set of tags as a source wrote them (``pairs``: [key, value] in order, a key
    written twice included), with the dict allocation reads and the normalised copy rules match
    on (keys through normalize_tag_key, values lower case; the first of colliding keys kept)."""

    id = models.AutoField(primary_key=True)  # int4: line items carry these ids in every row

    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the pairs' JSON.")
    tags = models.JSONField(default=dict, blank=True, help_text="Keys and values as the source wrote them.")
    tags_normalized = models.JSONField(
        default=dict,
        blank=True,
        help_text="Keys through costs.ingest.normalize.normalize_tag_key, for matching.",
    )

    def __str__(self) -> str:
        return ", ".join(f"{key}={value}" for key, value in self.tags.items()) or "(no tags)"


class BillingProfile(models.Model):
    """What allocation rules look at, as one id: the account, the service (with its provider),
    the resource and the tag set of a line item. Rules are evaluated once per profile, not once
    per line item (costs.services.allocation_engine)."""

    id = models.AutoField(primary_key=True)  # int4: line items carry these ids in every row

    account = models.ForeignKey(BillingAccount, on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey(BillingService, on_delete=models.PROTECT, related_name="+")
    resource = models.ForeignKey(BillingResource, on_delete=models.PROTECT, related_name="+")
    tag_set = models.ForeignKey(BillingTagSet, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "service", "resource", "tag_set"], name="costs_profile_once"
            )
        ]

    def __str__(self) -> str:
        return f"profile {self.pk}"


class CostLineItem(models.Model):
    """One normalised billing row, narrow: times, money, quantities and dimension ids.

    Line items are data, not governed records: an import writes them in bulk (binary COPY on
    PostgreSQL) and the audit trail records the import (files, counts, totals), not each row.
    The table is not managed by Django's migrations: on PostgreSQL it is partitioned by import
    (one partition per current import, that is per source and billing period, swapped in
    atomically; costs.ingest.store), on SQLite it is a plain table with the same columns. Only
    current imports have line items to read; read them through :mod:`costs.selectors.imports`.

    ``id`` is assigned by the loader (import, file and row: costs.ingest.store.line_item_ids),
    not by a sequence.
    """

    id = models.BigIntegerField(primary_key=True)
    cost_import = models.ForeignKey(
        CostImport, on_delete=models.DO_NOTHING, db_constraint=False, related_name="line_items"
    )
    source = models.ForeignKey(
        CostSource, on_delete=models.DO_NOTHING, db_constraint=False, related_name="line_items"
    )
    billing_period_start = models.DateField()
    charge_period_start = models.DateTimeField()
    charge_period_end = models.DateTimeField()
    charge_date = models.DateField(help_text="The UTC day charge_period_start falls on; rollups are daily.")
    profile = models.ForeignKey(
        BillingProfile, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    region = models.ForeignKey(
        BillingRegion, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    sku = models.ForeignKey(BillingSku, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    charge = models.ForeignKey(
        BillingCharge, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    usage_quantity = models.DecimalField(**QUANTITY, null=True, blank=True)
    billed_cost = models.DecimalField(**MONEY)
    effective_cost = models.DecimalField(**MONEY)
    list_cost = models.DecimalField(**MONEY, null=True, blank=True)
    billing_currency = models.CharField(max_length=3)

    class Meta:
        managed = False
        db_table = "costs_costlineitem"
        ordering = ["charge_period_start", "id"]

    def __str__(self) -> str:
        return f"{self.billed_cost} {self.billing_currency} ({self.charge_period_start:%Y-%m-%d})"


#
# Allocation, budgets and value
#
# The engine is costs/services/allocation_engine.py: ordered rules send each current line item to a use case, a
# team or a shared pool (first match wins); pools are split per period; what no rule matches is
# kept as unallocated. CostAllocation rows are its output, replaced per (source, period).
#

# Normalised tag keys that name a use case (costs.ingest.normalize.normalize_tag_key of
# "use-case", "usecase", "use_case", "project").
DEFAULT_USE_CASE_TAG_KEYS = "use-case, usecase, use_case, project"
BUDGET_MONEY = {"max_digits": 18, "decimal_places": 2}
# Sums of many line items: fourteen integer digits, the line items' ten decimal places.
ALLOCATION_MONEY = {"max_digits": 24, "decimal_places": 10}


def _is_month_start(value) -> bool:
    return value is not None and value.day == 1


class SharedPool(models.Model):
    """Cost that belongs to several use cases or teams (a platform account, networking,
    support), split among its members every period by ``split_method``."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    split_method = models.CharField(
        max_length=20, choices=SplitMethodChoices, default=SplitMethodChoices.DIRECT_COST
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("costs:pool-edit", args=[self.pk])


class SharedPoolMember(models.Model):
    """One use case or one team sharing a pool; ``percentage`` only for fixed splits."""

    pool = models.ForeignKey(SharedPool, on_delete=models.CASCADE, related_name="members")
    use_case = models.ForeignKey(
        "inventory.UseCase", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(
        "inventory.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    percentage = models.DecimalField(max_digits=7, decimal_places=4, null=True, blank=True)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["pool", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(use_case__isnull=False, team__isnull=True)
                | Q(use_case__isnull=True, team__isnull=False),
                name="costs_pool_member_one_target",
            ),
            models.UniqueConstraint(fields=["pool", "use_case"], name="costs_pool_member_use_case_once"),
            models.UniqueConstraint(fields=["pool", "team"], name="costs_pool_member_team_once"),
        ]

    def __str__(self) -> str:
        return f"{self.pool}: {self.use_case or self.team}"


class AllocationRule(models.Model):
    """One rule of the ordered list; the first enabled rule that matches a line item wins.

    A ``match`` rule holds one or more criteria, all of which must hold (tag, billing or
    sub-account, resource id pattern, service, provider). A ``use_case_key_tag`` rule sends a
    line item to the use case whose key is the value of one of its tag keys.
    """

    # What a person sets on a rule, declared once: the service writes these, the form and the
    # API serializer show them.
    EDITABLE_FIELDS = (
        "name",
        "position",
        "enabled",
        "kind",
        "source",
        "tag_key",
        "tag_value",
        "billing_account_id",
        "sub_account_id",
        "resource_pattern",
        "resource_pattern_kind",
        "service_name",
        "provider",
        "target_kind",
        "target_use_case",
        "target_team",
        "target_pool",
        "description",
    )

    name = models.CharField(max_length=120)
    position = models.PositiveIntegerField(default=100, help_text="Lower runs first.")
    enabled = models.BooleanField(default=True)
    kind = models.CharField(
        max_length=20, choices=AllocationRuleKindChoices, default=AllocationRuleKindChoices.MATCH
    )
    source = models.ForeignKey(
        CostSource,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="allocation_rules",
        help_text="Only this source's line items; empty: every source.",
    )
    tag_key = models.CharField(
        max_length=300,
        blank=True,
        help_text="Tag key, with aliases separated by commas (e.g. use-case, usecase, use_case). "
        "Matched case-insensitively.",
    )
    tag_value = models.CharField(
        max_length=200, blank=True, help_text="Case-insensitive; empty: any value of the tag."
    )
    billing_account_id = models.CharField("billing account", max_length=200, blank=True)
    sub_account_id = models.CharField("sub-account", max_length=200, blank=True)
    resource_pattern = models.CharField(
        max_length=500, blank=True, help_text="Matched against the resource id."
    )
    resource_pattern_kind = models.CharField(
        max_length=10, choices=ResourcePatternKindChoices, default=ResourcePatternKindChoices.GLOB
    )
    service_name = models.CharField("service", max_length=200, blank=True, help_text="Case-insensitive.")
    provider = models.CharField(max_length=100, blank=True, help_text="Case-insensitive.")
    target_kind = models.CharField(
        max_length=20, choices=AllocationTargetKindChoices, default=AllocationTargetKindChoices.USE_CASE
    )
    target_use_case = models.ForeignKey(
        "inventory.UseCase", null=True, blank=True, on_delete=models.PROTECT, related_name="allocation_rules"
    )
    target_team = models.ForeignKey(
        "inventory.Team", null=True, blank=True, on_delete=models.PROTECT, related_name="allocation_rules"
    )
    target_pool = models.ForeignKey(
        SharedPool, null=True, blank=True, on_delete=models.PROTECT, related_name="rules"
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("costs:rule-edit", args=[self.pk])

    @property
    def tag_keys(self) -> list[str]:
        """Normalised keys, in the order given (the first present one names the use case)."""

        keys = []
        for raw in self.tag_key.split(","):
            key = normalize_tag_key(raw)
            if key and key not in keys:
                keys.append(key)
        return keys

    @property
    def target(self):
        if self.kind == AllocationRuleKindChoices.USE_CASE_KEY_TAG:
            return None
        return {
            AllocationTargetKindChoices.USE_CASE: self.target_use_case,
            AllocationTargetKindChoices.TEAM: self.target_team,
            AllocationTargetKindChoices.POOL: self.target_pool,
        }.get(self.target_kind)

    def clean(self) -> None:

        errors: dict[str, str] = {}
        if self.tag_key.strip() and not self.tag_keys:
            errors["tag_key"] = "A tag key needs at least one letter or digit."
        if self.tag_value.strip() and not self.tag_key.strip():
            errors["tag_value"] = "A tag value needs a tag key to look in."
        if self.resource_pattern:
            problem = resource_pattern_error(self.resource_pattern, self.resource_pattern_kind)
            if problem:
                errors["resource_pattern"] = problem
        targets = {
            AllocationTargetKindChoices.USE_CASE: ("target_use_case", self.target_use_case_id),
            AllocationTargetKindChoices.TEAM: ("target_team", self.target_team_id),
            AllocationTargetKindChoices.POOL: ("target_pool", self.target_pool_id),
        }
        if self.kind == AllocationRuleKindChoices.USE_CASE_KEY_TAG:
            if not self.tag_key.strip():
                self.tag_key = DEFAULT_USE_CASE_TAG_KEYS
            if self.tag_value.strip():
                errors["tag_value"] = "The tag's value is the use-case key: leave the value empty."
            for field_name, value in targets.values():
                if value:
                    errors[field_name] = "The target is the use case the tag names: leave it empty."
        else:
            criteria = (
                self.tag_key,
                self.billing_account_id,
                self.sub_account_id,
                self.resource_pattern,
                self.service_name,
                self.provider,
            )
            if not any(value.strip() for value in criteria):
                errors["tag_key"] = (
                    "Give at least one criterion: tag, billing account, sub-account, resource pattern, "
                    "service or provider."
                )
            field_name, value = targets.get(self.target_kind, ("target_kind", None))
            if not value:
                errors[field_name] = "Choose what matching cost goes to."
            for kind, (other_field, other_value) in targets.items():
                if kind != self.target_kind and other_value:
                    errors[other_field] = (
                        f"The target is a {AllocationTargetKindChoices.label(self.target_kind).lower()}: leave this empty."
                    )
        if errors:
            raise ValidationError(errors)


class CostAllocation(models.Model):
    """Where the current line items of one (source, billing period, currency) went.

    Written only by :func:`costs.services.allocation_engine.allocate_period`, which replaces every row of a
    (source, period) in one transaction. Direct rows carry the summed line items a rule (or no
    rule: unallocated) took; shared rows are one member's part of a pool split. For each source,
    period and currency the rows add up to the import's totals (DESIGN.md §4.4).
    """

    source = models.ForeignKey(CostSource, on_delete=models.CASCADE, related_name="allocations")
    period = models.DateField(help_text="First day of the billing month.")
    currency = models.CharField(max_length=3)
    cost_import = models.ForeignKey(
        CostImport, null=True, blank=True, on_delete=models.SET_NULL, related_name="allocations"
    )
    bucket = models.CharField(max_length=20, choices=AllocationBucketChoices)
    # SET_NULL: deleting a (draft) use case or a team must not make a month stop reconciling;
    # the next recomputation sends that cost where the rules say.
    use_case = models.ForeignKey(
        "inventory.UseCase", null=True, blank=True, on_delete=models.SET_NULL, related_name="cost_allocations"
    )
    team = models.ForeignKey(
        "inventory.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="cost_allocations"
    )
    pool = models.ForeignKey(
        SharedPool, null=True, blank=True, on_delete=models.SET_NULL, related_name="allocations"
    )
    rule = models.ForeignKey(
        AllocationRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="allocations"
    )
    rule_name = models.CharField(
        max_length=120, blank=True, help_text="The rule's name when this was computed."
    )
    cost_kind = models.CharField(max_length=10, choices=CostKindChoices, default=CostKindChoices.DIRECT)
    effective_cost = models.DecimalField(**ALLOCATION_MONEY)
    billed_cost = models.DecimalField(**ALLOCATION_MONEY)
    line_count = models.BigIntegerField(
        default=0, help_text="Line items behind the row (for a shared row: those of the pool it split)."
    )
    # For the month-end forecast (costs/selectors/budgets.py): effective cost of the last complete days
    # before ``data_through`` and of the partial day at or after it.
    recent_effective_cost = models.DecimalField(**ALLOCATION_MONEY, default=0)
    partial_effective_cost = models.DecimalField(**ALLOCATION_MONEY, default=0)
    recent_days = models.PositiveSmallIntegerField(default=0)
    data_through = models.DateField(
        null=True, blank=True, help_text="Charges are complete up to (not including) this day."
    )
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-period", "source", "currency", "bucket", "pk"]
        indexes = [
            models.Index(fields=["source", "period"], name="costs_alloc_source_period"),
            models.Index(fields=["period", "use_case"], name="costs_alloc_period_uc"),
            models.Index(fields=["period", "team"], name="costs_alloc_period_team"),
        ]

    def __str__(self) -> str:
        target = self.use_case or self.team or "unallocated"
        return f"{self.period:%Y-%m} {target} {self.effective_cost} {self.currency}"


class CostRollup(models.Model):
    """Daily direct totals of one (source, billing period): where each day's line items went,
    per target, service and currency, before shared pools are split.

    Written by :func:`costs.services.allocation_engine.allocate_period` with one grouped
    ``INSERT … SELECT`` over the period's line items and replaced with the (source, period)'s
    CostAllocation rows, in the same transaction. Per (source, period, currency) the rollups add
    up to the current import's totals to the cent (reconciliation checks it); pages and the API
    read rollups and allocations, never line items.
    """

    # Derived rows, rewritten wholesale by every allocation: no foreign-key constraint checks
    # each of the hundreds of thousands inserted (Django's on_delete still applies).
    source = models.ForeignKey(
        CostSource, on_delete=models.CASCADE, db_constraint=False, related_name="rollups"
    )
    period = models.DateField(help_text="First day of the billing month.")
    day = models.DateField(help_text="The UTC day the charges started.")
    currency = models.CharField(max_length=3)
    cost_import = models.ForeignKey(
        CostImport,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="rollups",
    )
    bucket = models.CharField(max_length=RollupBucketChoices.max_length(), choices=RollupBucketChoices)
    use_case = models.ForeignKey(
        "inventory.UseCase",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="cost_rollups",
    )
    team = models.ForeignKey(
        "inventory.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="cost_rollups",
    )
    pool = models.ForeignKey(
        SharedPool,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="rollups",
    )
    rule = models.ForeignKey(
        AllocationRule,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="rollups",
    )
    service = models.ForeignKey(
        BillingService, on_delete=models.PROTECT, db_constraint=False, related_name="+"
    )
    effective_cost = models.DecimalField(**ALLOCATION_MONEY)
    billed_cost = models.DecimalField(**ALLOCATION_MONEY)
    line_count = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-period", "source", "day", "pk"]
        indexes = [
            models.Index(fields=["source", "period"], name="costs_rollup_source_period"),
            models.Index(fields=["period", "use_case"], name="costs_rollup_period_uc"),
            models.Index(fields=["period", "team"], name="costs_rollup_period_team"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.bucket} {self.effective_cost} {self.currency}"


class CostProfileTotal(models.Model):
    """A month's totals of one billing profile (account, service, resource, tag set) in one
    (source, billing period, currency): what rule previews and the top resources behind a use
    case read, so that no page scans line items. Written by the allocation engine with the
    period's rollups."""

    source = models.ForeignKey(
        CostSource, on_delete=models.CASCADE, db_constraint=False, related_name="profile_totals"
    )
    period = models.DateField()
    currency = models.CharField(max_length=3)
    profile = models.ForeignKey(
        BillingProfile, on_delete=models.PROTECT, db_constraint=False, related_name="+"
    )
    effective_cost = models.DecimalField(**ALLOCATION_MONEY)
    billed_cost = models.DecimalField(**ALLOCATION_MONEY)
    line_count = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-period", "source", "profile"]
        indexes = [models.Index(fields=["period", "source"], name="costs_profile_total_period")]

    def __str__(self) -> str:
        return f"{self.period:%Y-%m} profile {self.profile_id}: {self.effective_cost} {self.currency}"


class AllocationState(models.Model):
    """The last allocation run of one (source, billing period), kept so that reconciliation can
    tell a failed run (its error, while the rows of the last good run stay) and an allocation
    gone stale: computed from another import than the current one, or under other rules and
    pools (``rules_fingerprint``, see :func:`costs.services.allocation_engine.rules_fingerprint`)."""

    source = models.ForeignKey(CostSource, on_delete=models.CASCADE, related_name="allocation_states")
    period = models.DateField(help_text="First day of the billing month.")
    status = models.CharField(max_length=AllocationStateChoices.max_length(), choices=AllocationStateChoices)
    error = models.TextField(blank=True, help_text="Why the last run failed (empty when it worked).")
    # What the last successful run used; the rows it wrote stay until the next one works.
    cost_import = models.ForeignKey(
        CostImport, null=True, blank=True, on_delete=models.SET_NULL, related_name="allocation_states"
    )
    rules_fingerprint = models.CharField(max_length=64, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    attempted_at = models.DateTimeField(default=timezone.now)
    job_run = models.ForeignKey(
        "portal.JobRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="allocation_states"
    )

    class Meta:
        ordering = ["-period", "source"]
        constraints = [
            models.UniqueConstraint(fields=["source", "period"], name="costs_allocation_state_once")
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.period:%Y-%m}: {self.status}"

    @property
    def failed(self) -> bool:
        return self.status == AllocationStateChoices.FAILED


class CostDriver(models.Model):
    """What drives a use case's direct cost in one (source, month, currency): its top services
    and resources, kept by the allocation engine so the use case's page never scans line items."""

    KIND_CHOICES = [("service", "Service"), ("resource", "Resource")]

    source = models.ForeignKey(CostSource, on_delete=models.CASCADE, related_name="cost_drivers")
    period = models.DateField()
    currency = models.CharField(max_length=3)
    use_case = models.ForeignKey("inventory.UseCase", on_delete=models.CASCADE, related_name="cost_drivers")
    kind = models.CharField(max_length=10, choices=KIND_CHOICES)
    name = models.CharField(max_length=1024, blank=True)
    effective_cost = models.DecimalField(**ALLOCATION_MONEY)
    line_count = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-period", "use_case", "kind", "-effective_cost"]
        indexes = [models.Index(fields=["use_case", "period"], name="costs_driver_uc_period")]

    def __str__(self) -> str:
        return f"{self.use_case_id} {self.period:%Y-%m} {self.kind} {self.name}: {self.effective_cost}"


class Budget(models.Model):
    """A monthly budget of one use case or one team, in one currency, with alert thresholds
    (percent of the budget; an alert goes out once per budget, month and threshold)."""

    use_case = models.ForeignKey(
        "inventory.UseCase", null=True, blank=True, on_delete=models.CASCADE, related_name="budgets"
    )
    team = models.ForeignKey(
        "inventory.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="budgets"
    )
    amount = models.DecimalField(**BUDGET_MONEY, help_text="Per calendar month.")
    currency = models.CharField(max_length=3, default="USD")
    thresholds = models.JSONField(default=list, blank=True, help_text="Percentages, e.g. [50, 80, 100].")
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(use_case__isnull=False, team__isnull=True)
                | Q(use_case__isnull=True, team__isnull=False),
                name="costs_budget_one_target",
            ),
            models.UniqueConstraint(
                fields=["use_case", "currency"],
                condition=Q(use_case__isnull=False),
                name="costs_budget_uc_once",
            ),
            models.UniqueConstraint(
                fields=["team", "currency"], condition=Q(team__isnull=False), name="costs_budget_team_once"
            ),
        ]

    def __str__(self) -> str:
        return f"Budget of {self.use_case or self.team}: {self.amount} {self.currency}/month"

    def get_absolute_url(self) -> str:
        return reverse("costs:budget-edit", args=[self.pk])

    @property
    def target(self):
        return self.use_case or self.team

    def clean(self) -> None:

        errors = {}
        if bool(self.use_case_id) == bool(self.team_id):
            errors["use_case"] = "A budget belongs to one use case or one team: choose exactly one."
        if self.amount is not None and self.amount <= 0:
            errors["amount"] = "A budget is a positive amount per month."
        self.currency = (self.currency or "").strip().upper()
        if not CURRENCY_PATTERN.match(self.currency):
            errors["currency"] = f"“{self.currency}” is not an ISO 4217 currency code (e.g. USD, EUR)."
        thresholds = self.thresholds
        if not isinstance(thresholds, list) or not all(
            isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 1000
            for value in thresholds
        ):
            errors["thresholds"] = "Thresholds are whole percentages between 1 and 1000, e.g. 50, 80, 100."
        else:
            self.thresholds = sorted(set(thresholds))
        if errors:
            raise ValidationError(errors)


class BudgetAlert(models.Model):
    """An alert that went out: one per budget, month and threshold (the idempotency key)."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="alerts")
    period = models.DateField()
    threshold = models.PositiveSmallIntegerField()
    spent = models.DecimalField(**ALLOCATION_MONEY)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-period", "budget", "threshold"]
        constraints = [
            models.UniqueConstraint(fields=["budget", "period", "threshold"], name="costs_budget_alert_once")
        ]

    def __str__(self) -> str:
        return f"{self.budget} reached {self.threshold}% in {self.period:%Y-%m}"


class KpiReading(models.Model):
    """What a KPI measured in one month, and what that was worth: ``monetized_value`` when
    given, else ``value`` * the KPI's value per unit."""

    kpi = models.ForeignKey("inventory.Kpi", on_delete=models.CASCADE, related_name="readings")
    period = models.DateField(help_text="First day of the month measured.")
    value = models.DecimalField(max_digits=18, decimal_places=4)
    monetized_value = models.DecimalField(
        **BUDGET_MONEY,
        null=True,
        blank=True,
        help_text="Explicit money value; overrides value * value per unit.",
    )
    note = models.CharField(max_length=300, blank=True)
    recorded_by = models.ForeignKey(
        "portal.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    objects = AuditedQuerySet.as_manager()

    class Meta:
        ordering = ["-period", "kpi"]
        constraints = [models.UniqueConstraint(fields=["kpi", "period"], name="costs_kpi_reading_once")]

    def __str__(self) -> str:
        return f"{self.kpi} {self.period:%Y-%m}: {self.value}"

    @property
    def money(self):
        """The reading's monetary value, or None when neither an amount nor a unit value is known."""
        if self.monetized_value is not None:
            return self.monetized_value
        if self.kpi.value_per_unit is not None:
            return (self.value * self.kpi.value_per_unit).quantize(Decimal("0.01"))
        return None

    def clean(self) -> None:
        if self.period is not None and not _is_month_start(self.period):
            raise ValidationError(
                {"period": "A reading is for a month: give its first day (e.g. 2026-11-01)."}
            )
