"""The production-readiness maturity rubric, declared once as data.

Nine dimensions, each with five checks. A check is met by hand with evidence (a link, a file or
a note: 0.5 point) or verified automatically from facts Propylon holds (1.0 point) — the
ML Test Score arithmetic (Breck et al., 2017; shared reference "frameworks-and-rubrics" §3).
A dimension's score is the sum of its checks; readiness is the minimum over the dimensions, so
a use case is only as ready as its weakest area. The scoring itself lives in
:mod:`approvals.services.maturity`; ``verifier`` names the function registered there.

Every dimension has exactly five checks, so the levels below mean the same thing in every
dimension. A check held only by hand tops out at 0.5, so the upper levels need the facts that
make automatic verification possible (that is the point of the rubric: automation counts double).

The rubric carries a version that every assessment records; change it whenever a check is
added, removed or reworded in meaning.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError

RUBRIC_VERSION = "2026-12"

MANUAL_POINTS = Decimal("0.5")
VERIFIED_POINTS = Decimal("1.0")
NO_POINTS = Decimal("0")


@dataclass(frozen=True)
class Check:
    key: str
    title: str
    guidance: str  # What to do to meet it: the gap list's words.
    verifier: str = ""  # The automatic verifier's name in approvals.services.maturity; empty = by hand only.

    @property
    def dimension(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def is_automatic(self) -> bool:
        return bool(self.verifier)

    @property
    def max_points(self) -> Decimal:
        return VERIFIED_POINTS if self.verifier else MANUAL_POINTS


@dataclass(frozen=True)
class Dimension:
    key: str
    title: str
    description: str
    checks: tuple[Check, ...]

    @property
    def max_points(self) -> Decimal:
        return sum((check.max_points for check in self.checks), NO_POINTS)


@dataclass(frozen=True)
class Level:
    number: int
    name: str
    threshold: Decimal  # The lowest readiness that reaches the level.
    meaning: str


# Readiness bands after the ML Test Score's interpretation (0 / up to 1 / up to 2 / up to 3 /
# above 3), as named levels so that "the gap to the next level" is concrete. Gate policies ask
# for a minimum readiness (e.g. 3 for high-risk use cases), which is a level here.
LEVELS = (
    Level(
        0, "Ad hoc", Decimal("0"), "At least one dimension is practically unaddressed: a research project."
    ),
    Level(
        1,
        "Initial",
        Decimal("1"),
        "Every dimension has a first check met, but serious reliability holes are likely.",
    ),
    Level(
        2,
        "Managed",
        Decimal("2"),
        "A first pass at basic productionisation in every dimension; mostly held by hand.",
    ),
    Level(
        3,
        "Defined",
        Decimal("3"),
        "Reasonably ready everywhere, with the key facts verified automatically: fit for high-risk gates.",
    ),
    Level(
        4,
        "Optimised",
        Decimal("4"),
        "Strong, automatically verified readiness in every dimension: fit for mission-critical use.",
    ),
)


def _dimension(key: str, title: str, description: str, *checks: tuple) -> Dimension:
    return Dimension(
        key=key,
        title=title,
        description=description,
        checks=tuple(
            Check(key=f"{key}.{name}", title=check_title, guidance=guidance, verifier=verifier)
            for name, check_title, guidance, verifier in checks
        ),
    )


DIMENSIONS = (
    _dimension(
        "ownership",
        "Ownership",
        "Someone answers for the use case, and the people who run it are named and reachable.",
        (
            "accountable_owner_active",
            "The accountable owner is active and in the owning team",
            "Reassign the accountable owner to an active member of the owning team (Ownership tab).",
            "ownership.accountable_owner_active",
        ),
        (
            "technical_owner",
            "A technical owner is named and active",
            "Name an active technical owner on the use case.",
            "ownership.technical_owner",
        ),
        (
            "business_sponsor",
            "A business sponsor is named and active",
            "Name an active business sponsor on the use case.",
            "ownership.business_sponsor",
        ),
        (
            "responsibilities_agreed",
            "Responsibilities are agreed in writing (RACI)",
            "Write down who is responsible, accountable, consulted and informed, and attach it as evidence.",
            "",
        ),
        (
            "handover_plan",
            "A handover plan exists for when owners leave",
            "Describe who takes over and how knowledge is kept when an owner leaves; attach it as evidence.",
            "",
        ),
    ),
    _dimension(
        "data_lineage",
        "Data & lineage",
        "The data it is built on is known, traceable to its sources, and looked after.",
        (
            "datasets_recorded",
            "The latest release pins the dataset versions it uses",
            "Record the dataset versions the use case is trained or grounded on and pin them in a release.",
            "data_lineage.datasets_recorded",
        ),
        (
            "datasets_have_lineage",
            "Every pinned dataset version has lineage",
            "Describe how each pinned dataset version was produced, or link it to the versions it derives from.",
            "data_lineage.datasets_have_lineage",
        ),
        (
            "sources_recorded",
            "Every pinned dataset names its data sources",
            "Link each pinned dataset to the data sources (systems of record) it comes from.",
            "data_lineage.sources_recorded",
        ),
        (
            "data_steward",
            "A data steward is named and active",
            "Name an active data steward on the use case.",
            "data_lineage.data_steward",
        ),
        (
            "privacy_review",
            "A data-protection review (DPIA or equivalent) is done",
            "Run the data-protection review for the data it reads and produces; attach the outcome.",
            "",
        ),
    ),
    _dimension(
        "testing_validation",
        "Testing & validation",
        "It is known to work well enough, for everyone it affects, before it is relied on.",
        (
            "success_criteria",
            "Success criteria are set as KPIs with targets",
            "Add at least one KPI with a target to the use case.",
            "testing_validation.success_criteria",
        ),
        (
            "evaluation_report",
            "An evaluation report shows quality on held-out data",
            "Evaluate the release on data it was not built on and attach the report.",
            "",
        ),
        (
            "slices_and_fairness",
            "Quality is checked on important slices and for fairness",
            "Measure quality per relevant group or slice, look for unfair differences, attach the results.",
            "",
        ),
        (
            "baseline_compared",
            "A simpler baseline was compared",
            "Compare against a simpler approach (rules, a smaller model, the current process); attach it.",
            "",
        ),
        (
            "robustness_tested",
            "Robustness and misuse were tested (red teaming for generative AI)",
            "Test unusual, adversarial and misuse inputs (prompt injection, jailbreaks for LLMs); attach it.",
            "",
        ),
    ),
    _dimension(
        "release_rollback",
        "Release & rollback",
        "What runs is pinned exactly, and going back to the previous version is possible.",
        (
            "release_recorded",
            "Releases are recorded with a code reference",
            "Record a release with its git commit, tag or image digest.",
            "release_rollback.release_recorded",
        ),
        (
            "pins_digests",
            "The latest release pins every model, prompt and dataset version by digest",
            "Give every model and dataset version the latest release pins its SHA-256 digest.",
            "release_rollback.pins_digests",
        ),
        (
            "rollback_target",
            "A previous release pinned by digest exists to roll back to",
            "Keep an earlier release whose versions are all pinned by digest, so there is a known-good target.",
            "release_rollback.rollback_target",
        ),
        (
            "rollback_rehearsed",
            "Rolling back has been rehearsed",
            "Roll back to the previous release in a test environment and attach the record.",
            "",
        ),
        (
            "change_review",
            "Changes are reviewed before release",
            "Show that each release's changes are reviewed (code review, change board); attach the policy.",
            "",
        ),
    ),
    _dimension(
        "monitoring_drift",
        "Monitoring & drift",
        "Its health and quality in production are watched, and someone hears when they slip.",
        (
            "dashboard_linked",
            "A monitoring dashboard is linked",
            "Link the dashboard where its health is watched on the use case.",
            "monitoring_drift.dashboard_linked",
        ),
        (
            "signals_arrive",
            "Monitoring signals arrive in Propylon",
            "Send monitoring signals (quality, drift, latency) to Propylon; until then attach evidence of them.",
            "monitoring_drift.signals_arrive",
        ),
        (
            "drift_thresholds",
            "Drift and quality thresholds are defined",
            "Define when input drift or quality loss counts as a problem; attach the thresholds.",
            "",
        ),
        (
            "alerts_routed",
            "Alerts reach someone on call",
            "Route alerts to an on-call rota or named person; attach the routing.",
            "",
        ),
        (
            "incident_process",
            "An incident process covers it",
            "Cover the use case in an incident process (who is called, how incidents are recorded); attach it.",
            "",
        ),
    ),
    _dimension(
        "security_access",
        "Security & access",
        "Only the right people and systems reach it, and its particular threats are handled.",
        (
            "deployments_via_target",
            "Deployments go through a registered deployment target",
            "Deploy releases through a deployment target Propylon knows; until then attach evidence.",
            "security_access.deployments_via_target",
        ),
        (
            "sensitivity_covers_data",
            "The declared data sensitivity covers the data it uses",
            "Pin the datasets it uses in a release, and raise the use case's declared data sensitivity to "
            "the most sensitive of them (access controls are chosen from the declared level).",
            "security_access.sensitivity_covers_data",
        ),
        (
            "threat_model",
            "A threat model exists",
            "Model the threats (for generative AI include prompt injection and data leakage); attach it.",
            "",
        ),
        (
            "access_reviewed",
            "Access is reviewed periodically",
            "Review who can reach the system and its data, and attach the latest review.",
            "",
        ),
        (
            "secrets_managed",
            "Secrets and keys are managed in a vault",
            "Keep credentials in a secrets manager with rotation; attach evidence.",
            "",
        ),
    ),
    _dimension(
        "cost_visibility",
        "Cost visibility",
        "What it costs is known, attributed to it, and weighed against what it is worth.",
        (
            "costs_attributed",
            "Cloud and GPU costs are attributed to it",
            "Attribute its cloud and GPU costs (tags, allocation rules); until then attach a cost report.",
            "cost_visibility.costs_attributed",
        ),
        (
            "budget_set",
            "A budget is set",
            "Set a budget for the use case; until budgets are recorded in Propylon attach it as evidence.",
            "cost_visibility.budget_set",
        ),
        (
            "value_measured",
            "A KPI says what a unit of outcome is worth",
            "Give a KPI a value per unit so the value can be weighed against the cost.",
            "cost_visibility.value_measured",
        ),
        (
            "cost_reviewed",
            "Costs are reviewed with the owner regularly",
            "Review costs against value with the accountable owner; attach the latest review.",
            "",
        ),
        (
            "unit_cost_known",
            "The cost per request or prediction is known",
            "Estimate the cost of one request or prediction; attach the calculation.",
            "",
        ),
    ),
    _dimension(
        "human_oversight",
        "Human oversight",
        "People supervise it in a way that fits its risk, and can step in.",
        (
            "oversight_fits_risk",
            "The oversight mode fits the risk tier",
            "Classify the risk, and keep a human in or on the loop when it is high-risk or customer-facing.",
            "human_oversight.oversight_fits_risk",
        ),
        (
            "escalation_contact",
            "An escalation contact is named and active",
            "Name an active escalation contact on the use case.",
            "human_oversight.escalation_contact",
        ),
        (
            "override_procedure",
            "People can override or stop it, and know how",
            "Document how an operator overrides an output or switches it off; attach it.",
            "",
        ),
        (
            "operators_trained",
            "Operators are trained on its limits",
            "Train the people who supervise it on what it gets wrong; attach the material or record.",
            "",
        ),
        (
            "affected_people_informed",
            "People affected are told they deal with AI",
            "Tell users and affected people that AI is involved and how to reach a human; attach the notice.",
            "",
        ),
    ),
    _dimension(
        "documentation",
        "Documentation",
        "What it is, how it is run and how it was judged are written down where people find them.",
        (
            "risk_classified",
            "The risk is classified",
            "Answer the risk questionnaire (Risk tab).",
            "documentation.risk_classified",
        ),
        (
            "repository_linked",
            "The code repository is linked",
            "Link the repository where its code lives on the use case.",
            "documentation.repository_linked",
        ),
        (
            "runbook_linked",
            "A runbook is linked",
            "Link the runbook (how to operate and recover it) on the use case.",
            "documentation.runbook_linked",
        ),
        (
            "model_card",
            "A model or system card exists",
            "Write a model card or system card (intended use, limits, evaluation); attach it.",
            "",
        ),
        (
            "user_guidance",
            "Instructions for users exist",
            "Write instructions for the people who use its outputs; attach them.",
            "",
        ),
    ),
)

DIMENSION_KEYS = tuple(dimension.key for dimension in DIMENSIONS)
CHECKS = {check.key: check for dimension in DIMENSIONS for check in dimension.checks}
DIMENSIONS_BY_KEY = {dimension.key: dimension for dimension in DIMENSIONS}


def check(key: str) -> Check | None:
    return CHECKS.get(key)


def level_for(readiness: Decimal) -> Level:
    """The highest level whose threshold the readiness reaches."""
    return [level for level in LEVELS if readiness >= level.threshold][-1]


def next_level(level: Level) -> Level | None:
    return LEVELS[level.number + 1] if level.number + 1 < len(LEVELS) else None


def rubric_as_data() -> dict:
    """The rubric as plain data (for the API and the page)."""
    return {
        "version": RUBRIC_VERSION,
        "levels": [
            {
                "number": level.number,
                "name": level.name,
                "threshold": str(level.threshold),
                "meaning": level.meaning,
            }
            for level in LEVELS
        ],
        "dimensions": [
            {
                "key": dimension.key,
                "title": dimension.title,
                "description": dimension.description,
                "checks": [
                    {
                        "key": item.key,
                        "title": item.title,
                        "guidance": item.guidance,
                        "automatic": item.is_automatic,
                        "max_points": str(item.max_points),
                    }
                    for item in dimension.checks
                ],
            }
            for dimension in DIMENSIONS
        ],
    }


def rubric_check_keys() -> frozenset[str]:
    return frozenset(CHECKS)


def validate_check_keys(keys, *, field: str) -> list[str]:
    """A list of rubric check keys, unique and sorted; unknown keys are refused by name."""
    if keys in (None, ""):
        return []
    if isinstance(keys, str) or not isinstance(keys, list | tuple):
        raise ValidationError(
            {field: "Give a list of maturity check keys, e.g. documentation.runbook_linked."}
        )
    cleaned = []
    for key in keys:
        if not isinstance(key, str) or not key.strip():
            raise ValidationError({field: "Every check key is a non-empty text."})
        cleaned.append(key.strip())
    unknown = sorted(set(cleaned) - rubric_check_keys())
    if unknown:
        raise ValidationError(
            {field: f"Not a check of the maturity rubric: {', '.join(unknown)}. See /api/maturity-rubric/."}
        )
    return sorted(set(cleaned))
