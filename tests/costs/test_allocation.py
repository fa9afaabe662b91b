"""The allocation engine: ordered rules (first match wins), use-case key tags, shared pools split
to the cent, unallocated kept visible, recomputation pure and idempotent, set-based queries."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from costs.models import AllocationRule, CostAllocation, CostSource, SharedPool
from costs.services.allocation import allocation_rule_delete, allocation_rule_save, shared_pool_save
from costs.services.allocation_engine import (
    allocate_period,
    glob_to_regex,
    preview_rule,
    split_largest_remainder,
)
from costs.services.budgets import budget_save
from costs.testing import assert_reconciles
from portal.models import JobRun
from tests.costs.cost_data import D, import_lines, line, make_source, make_team, make_use_case

pytestmark = pytest.mark.django_db

NOV = date(2026, 11, 1)


@pytest.fixture
def portfolio():
    support = make_team("Support")
    legal = make_team("Legal")
    chatbot = make_use_case(support, "Support chatbot")
    summarizer = make_use_case(legal, "Legal summarizer")
    search = make_use_case(support, "Docs search")
    return {
        "support": support,
        "legal": legal,
        "chatbot": chatbot,
        "summarizer": summarizer,
        "search": search,
    }


def rule(**fields):
    fields.setdefault("name", f"Rule {AllocationRule.objects.count() + 1}")
    return allocation_rule_save(**fields)


def rows(**filters):
    return CostAllocation.objects.filter(**filters)


def amount(**filters) -> Decimal:
    return sum((row.effective_cost for row in rows(**filters)), Decimal(0))


def test_first_matching_rule_wins_and_the_rest_stays_unallocated(tmp_path, portfolio):
    source = make_source()
    chatbot, summarizer = portfolio["chatbot"], portfolio["summarizer"]
    rule(name="Bedrock to summarizer", position=20, service_name="amazon bedrock", target_use_case=summarizer)
    rule(name="Tag to chatbot", position=10, tag_key="App", tag_value="CHATBOT", target_use_case=chatbot)
    import_lines(source, tmp_path, [
        line(NOV, "10.00", tags={"app": "chatbot"}),          # both match: position 10 wins
        line(NOV, "5.25"),                                     # Bedrock, untagged: summarizer
        line(NOV, "2.50", service="Amazon EC2"),               # nothing matches
        line(NOV, "0.0000000001", service="Amazon S3"),        # sub-cent stays exact
    ])  # fmt: skip
    assert_reconciles(source, NOV)
    assert amount(use_case=chatbot) == D("10.00")
    assert amount(use_case=summarizer) == D("5.25")
    assert amount(bucket="unallocated") == D("2.5000000001")
    assert rows(use_case=chatbot).get().rule_name == "Tag to chatbot"


def test_tag_aliases_and_case_insensitive_values(tmp_path, portfolio):
    source = make_source()
    chatbot = portfolio["chatbot"]
    rule(tag_key="use-case, usecase, project", tag_value="Chat", target_use_case=chatbot)
    import_lines(source, tmp_path, [
        line(NOV, "1.00", tags={"Use-Case": "chat"}),
        line(NOV, "2.00", tags={"user:usecase": "CHAT"}),
        line(NOV, "4.00", tags={"Project": "chat"}),
        line(NOV, "8.00", tags={"project": "other"}),
    ])  # fmt: skip
    assert_reconciles(source, NOV)
    assert amount(use_case=chatbot) == D("7.00")
    assert amount(bucket="unallocated") == D("8.00")


def test_tag_value_that_is_a_use_case_key(tmp_path, portfolio):
    source = make_source()
    chatbot, summarizer = portfolio["chatbot"], portfolio["summarizer"]
    rule(kind="use_case_key_tag")  # default keys: use-case, usecase, use_case, project
    import_lines(source, tmp_path, [
        line(NOV, "3.00", tags={"use-case": chatbot.key.lower()}),
        line(NOV, "4.00", tags={"project": summarizer.key}),
        line(NOV, "5.00", tags={"use-case": "UC-9999"}),  # names no use case: unallocated
    ])  # fmt: skip
    assert_reconciles(source, NOV)
    assert amount(use_case=chatbot) == D("3.00")
    assert amount(use_case=summarizer) == D("4.00")
    assert amount(bucket="unallocated") == D("5.00")


def test_accounts_resource_patterns_and_provider(tmp_path, portfolio):
    source = make_source()
    support, legal, search = portfolio["support"], portfolio["legal"], portfolio["search"]
    rule(position=1, resource_pattern="arn:aws:sagemaker:*:endpoint/search-*", target_use_case=search)
    rule(position=2, resource_pattern=r"^i-[0-9a-f]{4}$", resource_pattern_kind="regex", target_team=legal)
    rule(position=3, sub_account_id="999", provider="aws", target_team=support)
    import_lines(source, tmp_path, [
        line(NOV, "1.00", resource="arn:aws:sagemaker:eu-west-1:4444:endpoint/search-prod"),
        line(NOV, "2.00", resource="i-ab12"),
        line(NOV, "4.00", resource="i-ab12345"),          # regex anchored: no
        line(NOV, "8.00", sub_account="999"),
        line(NOV, "16.00", sub_account="999", provider="Azure"),
    ])  # fmt: skip
    assert_reconciles(source, NOV)
    assert amount(use_case=search) == D("1.00")
    assert amount(team=legal) == D("2.00")
    assert amount(team=support) == D("8.00")
    assert amount(bucket="unallocated") == D("20.00")


def test_shared_pool_split_by_direct_cost_adds_up_to_the_cent(tmp_path, portfolio):
    source = make_source()
    chatbot, summarizer, search = portfolio["chatbot"], portfolio["summarizer"], portfolio["search"]
    pool = shared_pool_save(
        name="Platform", split_method="direct_cost",
        members=[{"use_case": chatbot}, {"use_case": summarizer}, {"use_case": search}],
    )  # fmt: skip
    rule(position=1, billing_account_id="PLATFORM", target_pool=pool)
    rule(position=2, kind="use_case_key_tag")
    import_lines(source, tmp_path, [
        line(NOV, "1.00", tags={"use-case": chatbot.key}),
        line(NOV, "1.00", tags={"use-case": summarizer.key}),
        line(NOV, "1.00", tags={"use-case": search.key}),
        line(NOV, "10.00", account="PLATFORM"),  # 10 / 3: 3.34 + 3.33 + 3.33
    ])  # fmt: skip
    assert_reconciles(source, NOV)
    shares = sorted(rows(cost_kind="shared").values_list("effective_cost", flat=True))
    assert shares == [D("3.33"), D("3.33"), D("3.34")]
    assert sum(shares) == D("10.00")
    assert all(row.pool == pool for row in rows(cost_kind="shared"))


def test_pool_split_evenly_fixed_and_with_sub_cent_residue(tmp_path, portfolio):
    source = make_source()
    support, legal = portfolio["support"], portfolio["legal"]
    fixed = shared_pool_save(
        name="Networking", split_method="fixed",
        members=[{"team": support, "percentage": D("70")}, {"team": legal, "percentage": D("30")}],
    )  # fmt: skip
    even = shared_pool_save(name="Support plan", split_method="even",
                                     members=[{"team": support}, {"team": legal}])  # fmt: skip
    rule(position=1, service_name="AWS Support", target_pool=even)
    rule(position=2, service_name="Amazon VPC", target_pool=fixed)
    import_lines(source, tmp_path, [
        line(NOV, "0.0500000001", service="AWS Support"),
        line(NOV, "100.00", service="Amazon VPC"),
    ])  # fmt: skip
    assert_reconciles(source, NOV)
    assert amount(team=support, pool=fixed) == D("70.00") and amount(team=legal, pool=fixed) == D("30.00")
    even_parts = sorted(rows(pool=even).values_list("effective_cost", flat=True))
    assert sum(even_parts) == D("0.0500000001")  # exact, the residue rides on the largest part
    assert [part.quantize(D("0.01")) for part in even_parts] == [D("0.02"), D("0.03")]


def test_largest_remainder_rounding():
    assert split_largest_remainder(D("100"), [D(1)] * 3, "USD") == [D("33.34"), D("33.33"), D("33.33")]
    assert split_largest_remainder(D("-0.05"), [D(1), D(1)], "USD") == [D("-0.03"), D("-0.02")]
    assert split_largest_remainder(D("1000"), [D(1)] * 3, "JPY") == [D("334"), D("333"), D("333")]
    parts = split_largest_remainder(D("7.123456789"), [D(2), D(1), D(1)], "USD")
    assert sum(parts) == D("7.123456789")


def test_fixed_percentages_must_sum_to_100(portfolio):
    with pytest.raises(ValidationError) as error:
        shared_pool_save(
            name="Bad", split_method="fixed",
            members=[{"team": portfolio["support"], "percentage": D("60")},
                     {"team": portfolio["legal"], "percentage": D("30")}],
        )  # fmt: skip
    assert "add up to 100; they add up to 90" in str(error.value.message_dict["members"])
    assert not SharedPool.objects.exists()


def test_rule_validation_names_the_field(portfolio):
    cases = [
        ({"resource_pattern": "([a-", "resource_pattern_kind": "regex", "target_use_case": portfolio["chatbot"]},
         "resource_pattern"),
        ({"resource_pattern": "(?P<x>a)", "resource_pattern_kind": "regex",
          "target_use_case": portfolio["chatbot"]}, "resource_pattern"),
        ({"target_use_case": portfolio["chatbot"]}, "tag_key"),
        ({"service_name": "x", "target_kind": "team"}, "target_team"),
        ({"kind": "use_case_key_tag", "target_use_case": portfolio["chatbot"]}, "target_use_case"),
        ({"tag_value": "x", "target_use_case": portfolio["chatbot"]}, "tag_value"),
    ]  # fmt: skip
    for fields, field_name in cases:
        with pytest.raises(ValidationError) as error:
            rule(**fields)
        assert field_name in error.value.message_dict, fields
    assert not AllocationRule.objects.exists()


def test_recomputation_is_idempotent_and_follows_rule_changes(
    tmp_path, portfolio, django_capture_on_commit_callbacks
):
    source = make_source()
    chatbot = portfolio["chatbot"]
    import_lines(source, tmp_path, [line(NOV, "6.00", tags={"app": "chat"}), line(NOV, "1.00")])
    allocate_period(source=source, period=NOV)
    first = list(rows().values_list("bucket", "effective_cost", "billed_cost", "line_count"))
    allocate_period(source=source, period=NOV)
    assert list(rows().values_list("bucket", "effective_cost", "billed_cost", "line_count")) == first
    assert amount(bucket="unallocated") == D("7.00")

    with django_capture_on_commit_callbacks(execute=True):
        rule(tag_key="app", tag_value="chat", target_use_case=chatbot)
    # The rule change queued a recomputation that ran after commit.
    assert JobRun.objects.filter(task_name="costs.allocate_costs", status="succeeded").exists()
    assert amount(use_case=chatbot) == D("6.00")
    assert_reconciles(source, NOV, allocate=False)


def test_a_new_current_import_queues_allocation(tmp_path, portfolio, django_capture_on_commit_callbacks):
    source = make_source()
    rule(kind="use_case_key_tag")
    with django_capture_on_commit_callbacks(execute=True):
        import_lines(source, tmp_path, [line(NOV, "2.00", tags={"use-case": portfolio["chatbot"].key})])
    assert_reconciles(source, NOV, allocate=False)
    # A restatement replaces the period: the allocation follows the new import.
    with django_capture_on_commit_callbacks(execute=True):
        import_lines(source, tmp_path, [line(NOV, "3.00", tags={"use-case": portfolio["chatbot"].key})])
    assert_reconciles(source, NOV, allocate=False)
    assert amount(use_case=portfolio["chatbot"]) == D("3.00")


def test_several_currencies_are_never_added(tmp_path, portfolio):
    source = make_source()
    rule(kind="use_case_key_tag")
    key = portfolio["chatbot"].key
    import_lines(source, tmp_path, [
        line(NOV, "1.00", tags={"use-case": key}),
        line(NOV, "2.00", tags={"use-case": key}, currency="EUR", account="EU-PAYER"),
    ])  # fmt: skip
    assert_reconciles(source, NOV)
    assert {(r.currency, r.effective_cost) for r in rows()} == {("USD", D("1.00")), ("EUR", D("2.00"))}


def test_allocation_query_count_does_not_grow_with_line_items(
    tmp_path, portfolio, django_assert_max_num_queries
):
    source = make_source()
    pool = shared_pool_save(
        name="P",
        split_method="direct_cost",
        members=[{"use_case": portfolio["chatbot"]}, {"team": portfolio["legal"]}],
    )
    rule(position=1, billing_account_id="PLATFORM", target_pool=pool)
    rule(position=2, kind="use_case_key_tag")
    keys = [portfolio[name].key for name in ("chatbot", "summarizer", "search")]
    many = [line(NOV, "1.10", day=1 + i % 28, tags={"use-case": keys[i % 3]}) for i in range(300)]
    import_lines(source, tmp_path, [*many, line(NOV, "9.00", account="PLATFORM")])
    # The staged SQL (four temporary tables made, analysed and dropped before and after, the
    # rollups and profile totals inserted, two driver rankings) plus the AllocationState, pool
    # members and the rows: a fixed number, whatever the number of line items.
    with django_assert_max_num_queries(39):
        allocate_period(source=source, period=NOV)
    assert_reconciles(source, NOV, allocate=False)


def test_preview_counts_rows_and_cost(tmp_path, portfolio):
    source = make_source()
    import_lines(source, tmp_path, [line(NOV, "1.25", service="Amazon EC2"), line(NOV, "2.00", service="amazon ec2"),
                                    line(NOV, "4.00")])  # fmt: skip
    allocate_period(source=source, period=NOV)  # previews read the per-profile totals it keeps
    unsaved = AllocationRule(name="EC2", service_name="Amazon EC2", target_team=portfolio["support"],
                             target_kind="team")  # fmt: skip
    preview = preview_rule(unsaved, period=NOV)
    assert preview["rows"] == 2 and preview["currencies"] == {"USD": D("3.25")}
    assert unsaved.pk is None


def test_glob_translation_is_literal_except_wildcards():
    assert glob_to_regex("arn:aws:s3:::bucket-*.log?") == r"^arn:aws:s3:::bucket\-.*\.log.$"


def test_rule_pool_and_budget_changes_are_in_the_audit_trail(portfolio):
    from portal import audit
    from portal.choices import ChannelChoices
    from portal.models import AuditEntry

    actor = portfolio["support"].lead
    with audit.audit_context(channel=ChannelChoices.UI, user=actor, label=actor.username):
        rule_ = rule(name="Audited", service_name="Amazon EC2", target_use_case=portfolio["chatbot"])
        allocation_rule_save(rule=rule_, position=3)
        pool = shared_pool_save(name="Audited pool", split_method="even",
                                         members=[{"team": portfolio["support"]}])  # fmt: skip
        budget = budget_save(use_case=portfolio["chatbot"], amount=D("10"), currency="USD")
    changes = AuditEntry.objects.filter(
        content_type__model__in=["allocationrule", "sharedpool", "sharedpoolmember", "budget"]
    )
    assert {(entry.content_type.model, entry.action) for entry in changes} >= {
        ("allocationrule", "create"), ("allocationrule", "update"), ("sharedpool", "create"),
        ("sharedpoolmember", "create"), ("budget", "create"),
    }  # fmt: skip
    update = changes.get(content_type__model="allocationrule", action="update")
    assert str(rule_.pk) == update.object_id and "position" in str(update.changes)
    assert pool.pk and budget.pk


def test_top_services_and_resources_are_kept_per_use_case(tmp_path, portfolio):
    from costs.models import CostDriver
    from costs.selectors.reports import cost_drivers

    source = make_source()
    chatbot = portfolio["chatbot"]
    rule(position=1, service_name="Amazon EC2", target_use_case=chatbot)
    rule(position=2, kind="use_case_key_tag")
    import_lines(source, tmp_path, [
        line(NOV, "5.00", service="Amazon EC2", resource="i-1"),
        line(NOV, "7.00", tags={"use-case": chatbot.key}, service="Amazon Bedrock", resource="model-a"),
        line(NOV, "1.00", tags={"use-case": chatbot.key}, service="Amazon Bedrock", resource="model-b"),
        line(NOV, "9.00", tags={"use-case": portfolio["summarizer"].key}, service="Amazon SageMaker"),
    ])  # fmt: skip
    allocate_period(source=source, period=NOV)
    drivers = cost_drivers(chatbot, period=NOV)
    assert [(d["name"], d["amount"]) for d in drivers["services"]] == [("Amazon Bedrock", D("8.00")),
                                                                       ("Amazon EC2", D("5.00"))]  # fmt: skip
    assert [d["name"] for d in drivers["resources"]] == ["model-a", "i-1", "model-b"]
    allocate_period(source=source, period=NOV)  # replaced, not doubled
    assert CostDriver.objects.filter(use_case=chatbot, kind="service").count() == 2


def test_maturity_learns_when_a_use_case_gains_or_loses_its_cost(
    tmp_path, portfolio, django_capture_on_commit_callbacks
):
    from approvals.choices import AssessmentTriggerChoices
    from approvals.selectors.maturity import latest_assessment
    from approvals.services.maturity import maturity_assess

    # Made inside a captured "commit": a recompute still pending from the use case's creation
    # would stand for every later one of this (never committed) test transaction.
    with django_capture_on_commit_callbacks(execute=True):
        scoring = make_use_case(portfolio["support"], "Churn scoring")
        maturity_assess(use_case=scoring, trigger=AssessmentTriggerChoices.MANUAL)

    def costs_attributed():
        return latest_assessment(scoring).results["cost_visibility.costs_attributed"]["status"]

    assert costs_attributed() == "unmet"
    source = make_source()
    # The import queues allocation; allocation rows are written in bulk, so allocate() itself
    # asks maturity to reassess the use cases that gained or lost all their cost.
    with django_capture_on_commit_callbacks(execute=True):
        tag_rule = rule(
            name="Tag to scoring", position=10, tag_key="app", tag_value="churn", target_use_case=scoring
        )
        import_lines(source, tmp_path, [line(NOV, "10.00", tags={"app": "churn"})])
    assert costs_attributed() == "verified"

    with django_capture_on_commit_callbacks(execute=True):
        allocation_rule_delete(rule=tag_rule)
    assert costs_attributed() == "unmet"


def test_rollups_and_line_items_are_checked_against_the_import(tmp_path, portfolio):
    """Below the allocation's sums: the daily rollups and the partition's sums, to the cent."""
    from costs.models import CostRollup
    from costs.selectors.reconciliation import reconcile

    source = make_source()
    import_lines(source, tmp_path, [line(NOV, "10.00"), line(NOV, "5.25", day=2)])
    allocate_period(source=source, period=NOV)
    (ok,) = reconcile(sources=CostSource.objects.filter(pk=source.pk))
    assert ok.ok and ok.line_items == ok.rollups == D("15.25") and ok.as_dict()["rollup_difference"] == "0.00"
    CostRollup.objects.filter(source=source, day=date(2026, 11, 2)).update(billed_cost=D("5.24"))
    (broken,) = reconcile(sources=CostSource.objects.filter(pk=source.pk))
    assert not broken.ok and broken.status == "mismatch" and broken.rollup_difference == D("-0.01")
    allocate_period(source=source, period=NOV)  # recomputing repairs it (the autouse check runs after)
