"""Choices of the cost side."""

from portal.choices import ChoiceSet


class CostSourceKindChoices(ChoiceSet):
    FOCUS = "focus"
    AWS_CUR = "aws_cur"
    AWS_CUR2 = "aws_cur2"
    AWS_COST_EXPLORER = "aws_cost_explorer"

    CHOICES = [
        (FOCUS, "FOCUS 1.x export (any cloud)", "blue"),
        (AWS_CUR, "AWS Cost and Usage Report (legacy)", "amber"),
        (AWS_CUR2, "AWS CUR 2.0 (Data Exports)", "amber"),
        (AWS_COST_EXPLORER, "AWS Cost Explorer", "amber"),
    ]


class ImportFormatChoices(ChoiceSet):
    """How the files (or the API answer) of an import are read; each source kind has one."""

    FOCUS = "focus"
    CUR = "cur"
    CUR2 = "cur2"
    COST_EXPLORER = "cost_explorer"

    CHOICES = [
        (FOCUS, "FOCUS 1.x (CSV, CSV.gz, Parquet)", "blue"),
        (CUR, "AWS CUR legacy (manifest)", "amber"),
        (CUR2, "AWS CUR 2.0 (manifest)", "amber"),
        (COST_EXPLORER, "AWS Cost Explorer GetCostAndUsage", "amber"),
    ]

    FOR_SOURCE_KIND = {
        CostSourceKindChoices.FOCUS: FOCUS,
        CostSourceKindChoices.AWS_CUR: CUR,
        CostSourceKindChoices.AWS_CUR2: CUR2,
        CostSourceKindChoices.AWS_COST_EXPLORER: COST_EXPLORER,
    }


class CostImportStatusChoices(ChoiceSet):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    SUPERSEDED = "superseded"
    FAILED = "failed"
    # The input was read whole but held no line item (a header-only file): nothing to replace.
    EMPTY = "empty"

    CHOICES = [
        (RUNNING, "Running", "blue"),
        (SUCCEEDED, "Current", "green"),
        (SUPERSEDED, "Replaced by a later import", "grey"),
        (FAILED, "Failed", "red"),
        (EMPTY, "No line items", "amber"),
    ]


class LoadFileStatusChoices(ChoiceSet):
    """One file of a delivery, loaded by a job of its own."""

    PENDING = "pending"
    RUNNING = "running"
    LOADED = "loaded"
    FAILED = "failed"
    STOPPED = "stopped"  # another file of the delivery failed first

    CHOICES = [
        (PENDING, "Waiting for a worker", "grey"),
        (RUNNING, "Loading", "blue"),
        (LOADED, "Loaded", "green"),
        (FAILED, "Failed", "red"),
        (STOPPED, "Stopped", "amber"),
    ]


class ChargeCategoryChoices(ChoiceSet):
    """FOCUS ChargeCategory (FOCUS 1.x, columns/chargecategory.md)."""

    USAGE = "Usage"
    PURCHASE = "Purchase"
    TAX = "Tax"
    CREDIT = "Credit"
    ADJUSTMENT = "Adjustment"

    CHOICES = [
        (USAGE, "Usage", "blue"),
        (PURCHASE, "Purchase", "violet"),
        (TAX, "Tax", "grey"),
        (CREDIT, "Credit", "green"),
        (ADJUSTMENT, "Adjustment", "amber"),
    ]


#
# Allocation, budgets and value (costs/services/allocation_engine.py, costs/selectors/budgets.py, costs/selectors/value.py)
#


class AllocationRuleKindChoices(ChoiceSet):
    MATCH = "match"
    USE_CASE_KEY_TAG = "use_case_key_tag"

    CHOICES = [
        (MATCH, "Match on tags, accounts, resources, service or provider", "blue"),
        (USE_CASE_KEY_TAG, "Tag value is a use-case key (e.g. use-case: UC-0042)", "violet"),
    ]


class ResourcePatternKindChoices(ChoiceSet):
    GLOB = "glob"
    REGEX = "regex"

    CHOICES = [
        (GLOB, "Glob (* and ?)", "grey"),
        (REGEX, "Regular expression", "grey"),
    ]


class AllocationTargetKindChoices(ChoiceSet):
    """What a rule sends matching cost to."""

    USE_CASE = "use_case"
    TEAM = "team"
    POOL = "pool"

    CHOICES = [
        (USE_CASE, "A use case", "blue"),
        (TEAM, "A team", "teal"),
        (POOL, "A shared pool", "violet"),
    ]


class AllocationBucketChoices(ChoiceSet):
    """Where an allocation row's money ended up; pools never hold money after the split."""

    USE_CASE = "use_case"
    TEAM = "team"
    UNALLOCATED = "unallocated"

    CHOICES = [
        (USE_CASE, "Use case", "blue"),
        (TEAM, "Team", "teal"),
        (UNALLOCATED, "Unallocated", "amber"),
    ]


class RollupBucketChoices(ChoiceSet):
    """Where a daily rollup's direct money went before pools are split: a pool is a bucket here
    (its monthly split is written to CostAllocation)."""

    USE_CASE = "use_case"
    TEAM = "team"
    POOL = "pool"
    UNALLOCATED = "unallocated"

    CHOICES = [
        (USE_CASE, "Use case", "blue"),
        (TEAM, "Team", "teal"),
        (POOL, "Shared pool", "violet"),
        (UNALLOCATED, "Unallocated", "amber"),
    ]


class CostKindChoices(ChoiceSet):
    DIRECT = "direct"
    SHARED = "shared"

    CHOICES = [
        (DIRECT, "Direct", "blue"),
        (SHARED, "Shared (pool split)", "violet"),
    ]


class AllocationStateChoices(ChoiceSet):
    """How the last allocation run of one (source, billing period) ended."""

    OK = "ok"
    FAILED = "failed"

    CHOICES = [
        (OK, "Allocated", "green"),
        (FAILED, "Allocation failed", "red"),
    ]


class SplitMethodChoices(ChoiceSet):
    """How a shared pool is split among its members each period (Kubecost's shareSplit)."""

    DIRECT_COST = "direct_cost"
    EVEN = "even"
    FIXED = "fixed"

    CHOICES = [
        (DIRECT_COST, "In proportion to direct cost", "blue"),
        (EVEN, "Evenly", "teal"),
        (FIXED, "Fixed percentages", "violet"),
    ]


DEFAULT_BUDGET_THRESHOLDS = [50, 80, 100]
