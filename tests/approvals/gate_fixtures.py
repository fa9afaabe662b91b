"""Building blocks for the gate tests: a use case ready for its pilot or production gate, and
reviewers in every approver role. Imported by tests/approvals/test_gates_*.py."""

from decimal import Decimal

import pytest

from approvals.catalogs import maturity as maturity_catalog
from approvals.choices import AssessmentTriggerChoices, CheckStatusChoices
from approvals.models import LifecycleStage, MaturityAssessment
from approvals.services import maturity
from approvals.services import risk as services
from inventory.models import Model, ModelVersion
from inventory.services import catalog as catalog_services
from portal.roles import Role

TIER_ANSWERS = {
    "minimal": {"role": "deployer"},
    "limited": {"role": "deployer", "interacts_with_people": True},
    "high": {"role": "deployer", "annex_iii_areas": ["employment"]},
}

# The checks the default policies want evidence for (approvals/0006): attached when a test asks
# for a fully ready use case.
EVIDENCED_CHECKS = (
    "data_lineage.privacy_review",
    "documentation.model_card",
    "human_oversight.override_procedure",
    "testing_validation.robustness_tested",
    "human_oversight.affected_people_informed",
)


def record_maturity(use_case, readiness, *, met=()) -> MaturityAssessment:
    """A maturity assessment with this readiness; the checks in ``met`` are evidenced, every
    other check unmet. Gate tests control the scores; approvals/services/maturity.py computes real ones."""
    latest = MaturityAssessment.objects.filter(use_case=use_case).order_by("-version").first()
    results = {
        key: {
            "status": CheckStatusChoices.EVIDENCED if key in met else CheckStatusChoices.UNMET,
            "points": "0.5" if key in met else "0",
            "detail": "",
        }
        for key in maturity_catalog.CHECKS
    }
    return MaturityAssessment.objects.create(
        use_case=use_case,
        version=(latest.version + 1) if latest else 1,
        rubric_version=maturity_catalog.RUBRIC_VERSION,
        readiness=Decimal(str(readiness)),
        level=0,
        scores=dict.fromkeys(maturity_catalog.DIMENSION_KEYS, str(readiness)),
        results=results,
        trigger=AssessmentTriggerChoices.MANUAL,
    )


def pinned_release(use_case, version="1.0", *, model_version="1", digest="a" * 64, code_ref="git:abc"):
    model, _ = Model.objects.get_or_create(
        slug=f"model-{use_case.pk}",
        defaults={
            "name": f"Model of {use_case.key}",
            "owning_team": use_case.owning_team,
            "provider": "in_house",
        },
    )
    pinned, _ = ModelVersion.objects.get_or_create(
        model=model, version=model_version, defaults={"sha256": digest}
    )
    return catalog_services.release_create(
        use_case=use_case, actor=use_case.accountable_owner, version=version, code_ref=code_ref,
        model_versions=[pinned],
    )  # fmt: skip


def move_to(use_case, key: str):
    """Put a use case at a stage for a test's starting point (the demo and tests only)."""
    from approvals.services.lifecycle import apply_stage

    return apply_stage(use_case=use_case, stage=LifecycleStage.objects.get(key=key))


@pytest.fixture
def reviewers(make_user):
    return {
        "ravi": make_user("ravi", Role.COE_REVIEWER),
        "rita": make_user("rita", Role.COE_REVIEWER),
        "carl": make_user("carl", Role.COE_LEAD),
        "sam": make_user("sam", Role.SECURITY_REVIEWER),
        "lea": make_user("lea", Role.LEGAL_REVIEWER),
    }


@pytest.fixture
def ready_use_case(support_team, file_use_case):
    """A filed use case of the given tier, at ``stage``, with a pinned release and enough
    maturity for its default policy: returns (use_case, release)."""

    def make(tier="minimal", *, stage="proposed", readiness="3.5", met=None, name="Support chatbot"):
        use_case = file_use_case(support_team, submit=True, name=name)
        if stage != "proposed":
            move_to(use_case, stage)
        services.risk_assessment_record(
            use_case=use_case, answers=TIER_ANSWERS[tier], actor=support_team.lead
        )
        release = pinned_release(use_case)
        if met is None:
            for key in EVIDENCED_CHECKS:
                maturity.evidence_add(
                    use_case=use_case, check_key=key, actor=support_team.lead, note=f"{key} done."
                )
        record_maturity(use_case, readiness, met=maturity_catalog.CHECKS if met is None else met)
        use_case.refresh_from_db()
        return use_case, release

    return make
