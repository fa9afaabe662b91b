"""The maturity rubric as data (approvals.catalogs.maturity): shape, keys, verifiers, levels."""

from decimal import Decimal

from approvals.catalogs import maturity as maturity_catalog
from approvals.catalogs.maturity import CHECKS, DIMENSIONS, LEVELS, level_for, next_level
from approvals.selectors import maturity as maturity_selectors

EXPECTED_DIMENSIONS = [
    "ownership",
    "data_lineage",
    "testing_validation",
    "release_rollback",
    "monitoring_drift",
    "security_access",
    "cost_visibility",
    "human_oversight",
    "documentation",
]


def test_dimensions_are_the_nine_in_the_issues_order():
    assert [dimension.key for dimension in DIMENSIONS] == EXPECTED_DIMENSIONS
    assert all(dimension.title and dimension.description for dimension in DIMENSIONS)


def test_every_dimension_has_three_to_five_checks_keyed_by_dimension():
    for dimension in DIMENSIONS:
        assert 3 <= len(dimension.checks) <= 5
        for check in dimension.checks:
            assert check.key.startswith(f"{dimension.key}.") and check.dimension == dimension.key
            assert check.title and check.guidance.endswith((".", ")"))
    assert len(CHECKS) == sum(len(dimension.checks) for dimension in DIMENSIONS)  # keys are unique


def test_every_named_verifier_is_registered_and_every_registered_one_is_used():
    named = {check.verifier for check in CHECKS.values() if check.verifier}
    assert named == set(maturity_selectors.VERIFIERS)
    # A verifier verifies the check it is named after: no cross-wiring.
    assert all(check.verifier == check.key for check in CHECKS.values() if check.verifier)


def test_the_issues_automatic_facts_all_have_a_verifier():
    for key in (
        "ownership.accountable_owner_active",
        "release_rollback.pins_digests",
        "data_lineage.datasets_have_lineage",
        "release_rollback.rollback_target",
        "security_access.deployments_via_target",
        "monitoring_drift.signals_arrive",
        "cost_visibility.costs_attributed",
    ):
        assert CHECKS[key].is_automatic, key


def test_levels_are_ordered_and_reachable_from_zero():
    assert [level.number for level in LEVELS] == list(range(len(LEVELS)))
    assert [level.threshold for level in LEVELS] == sorted(level.threshold for level in LEVELS)
    assert LEVELS[0].threshold == 0
    assert level_for(Decimal("0")).number == 0
    assert level_for(Decimal("0.5")).number == 0
    assert level_for(Decimal("1.0")).number == 1
    assert level_for(Decimal("2.5")).number == 2
    assert level_for(Decimal("3")).number == 3
    assert level_for(Decimal("9")).number == 4
    assert next_level(LEVELS[-1]) is None and next_level(LEVELS[0]) == LEVELS[1]


def test_max_points_follow_the_ml_test_score_arithmetic():
    ownership = maturity_catalog.DIMENSIONS_BY_KEY["ownership"]
    automatic = sum(1 for check in ownership.checks if check.verifier)
    manual = len(ownership.checks) - automatic
    assert ownership.max_points == Decimal(automatic) + Decimal("0.5") * manual
    # Held by evidence alone, a dimension can never reach the high-risk gate's level 3.
    assert all(Decimal("0.5") * len(dimension.checks) < 3 for dimension in DIMENSIONS)


def test_rubric_as_data_round_trips_every_check():
    data = maturity_catalog.rubric_as_data()
    assert data["version"] == maturity_catalog.RUBRIC_VERSION
    keys = [check["key"] for dimension in data["dimensions"] for check in dimension["checks"]]
    assert keys == list(CHECKS)
    assert [level["name"] for level in data["levels"]] == [level.name for level in LEVELS]
