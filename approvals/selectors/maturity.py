"""Maturity reads: the automatic verifiers, scoring, and what an assessment says.

The rubric is data (:mod:`approvals.catalogs.maturity`). Here:

* **verifiers** read facts Propylon holds and say whether a check is ``verified``, ``unmet`` or
  ``pending_data`` (the facts it needs arrive with a later feature — deployments, monitoring,
  costs — and the verifier starts counting by itself once a model holding them exists);
* **scoring** (:func:`compute`, which writes nothing): a verified check earns 1.0; otherwise
  active evidence earns 0.5; otherwise 0. A dimension's score is the sum of its checks,
  readiness the minimum over dimensions;
* **reads**: :func:`latest_assessment`, :func:`maturity_gaps`, and the tab's
  :func:`maturity_overview` (through ``restrict()``).

Saving an assessment, evidence and the recompute triggers are services
(:mod:`approvals.services.maturity`).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.apps import apps
from django.db import connection
from django.db.models import F, Q

from approvals.catalogs import maturity as catalog
from approvals.catalogs.maturity import Level, level_for
from approvals.choices import CheckStatusChoices
from approvals.models import (
    MaturityAssessment,
    MaturityEvidence,
)
from approvals.policies import may_maintain_maturity
from inventory.choices import DataSensitivityChoices, HumanOversightChoices, RiskTierChoices
from inventory.models import UseCase
from portal.permissions import restrict

#
# Verifiers
#


@dataclass(frozen=True)
class Verdict:
    status: str  # verified, unmet or pending_data
    detail: str


def verified(detail: str) -> Verdict:
    return Verdict(CheckStatusChoices.VERIFIED, detail)


def unmet(detail: str) -> Verdict:
    return Verdict(CheckStatusChoices.UNMET, detail)


def pending(detail: str) -> Verdict:
    return Verdict(CheckStatusChoices.PENDING_DATA, detail)


VERIFIERS: dict[str, Callable[[object], Verdict]] = {}


def verifier(name: str):
    """Register ``fn(use_case) -> Verdict`` as the automatic verifier ``name``."""

    def register(function):
        VERIFIERS[name] = function
        return function

    return register


def _person(user) -> str:
    return user.get_username() if user is not None else ""


def _named_and_active(use_case, field: str, role: str) -> Verdict:
    person = getattr(use_case, field)
    if person is None:
        return unmet(f"No {role} is named.")
    if not person.is_active:
        return unmet(f"The {role}, {_person(person)}, is no longer active.")
    return verified(f"{_person(person)} is the {role} and is active.")


def _latest_release(use_case):
    return use_case.releases.order_by("-created_at", "-pk").first()


def _pinned_dataset_versions(release) -> list:
    return list(
        release.dataset_versions.select_related("dataset")
        .prefetch_related("derived_from", "dataset__sources")
        .order_by("dataset__name", "version")
    )


@verifier("ownership.accountable_owner_active")
def _accountable_owner_active(use_case) -> Verdict:

    owner = use_case.accountable_owner
    if owner is None:
        return unmet("No accountable owner is named.")
    if not owner.is_active:
        return unmet(f"The accountable owner, {_person(owner)}, is no longer active.")
    # Inventory's ownership health is the one definition of an orphaned use case.
    orphaned = (
        UseCase.objects.with_ownership_health()
        .filter(pk=use_case.pk)
        .values_list("is_orphaned", flat=True)[0]
    )
    if orphaned:
        return unmet(f"The accountable owner, {_person(owner)}, is not a member of {use_case.owning_team}.")
    return verified(f"{_person(owner)} is active and a member of {use_case.owning_team}.")


@verifier("ownership.technical_owner")
def _technical_owner(use_case) -> Verdict:
    return _named_and_active(use_case, "technical_owner", "technical owner")


@verifier("ownership.business_sponsor")
def _business_sponsor(use_case) -> Verdict:
    return _named_and_active(use_case, "business_sponsor", "business sponsor")


@verifier("data_lineage.data_steward")
def _data_steward(use_case) -> Verdict:
    return _named_and_active(use_case, "data_steward", "data steward")


@verifier("human_oversight.escalation_contact")
def _escalation_contact(use_case) -> Verdict:
    return _named_and_active(use_case, "escalation_contact", "escalation contact")


@verifier("data_lineage.datasets_recorded")
def _datasets_recorded(use_case) -> Verdict:
    release = _latest_release(use_case)
    if release is None:
        return unmet("No release is recorded, so no dataset version is pinned.")
    count = release.dataset_versions.count()
    if not count:
        return unmet(f"The latest release, {release.version}, pins no dataset version.")
    return verified(f"The latest release, {release.version}, pins {count} dataset version(s).")


@verifier("data_lineage.datasets_have_lineage")
def _datasets_have_lineage(use_case) -> Verdict:
    release = _latest_release(use_case)
    if release is None:
        return unmet("No release is recorded, so there is no dataset to trace.")
    pinned = _pinned_dataset_versions(release)
    if not pinned:
        return unmet(f"The latest release, {release.version}, pins no dataset version to trace.")
    # DatasetVersion.has_lineage, on the prefetched relation (one query for all of them).
    missing = [str(item) for item in pinned if not item.lineage.strip() and not item.derived_from.all()]
    if missing:
        return unmet(f"No lineage for {', '.join(missing)}.")
    return verified(f"All {len(pinned)} dataset version(s) of release {release.version} have lineage.")


@verifier("data_lineage.sources_recorded")
def _sources_recorded(use_case) -> Verdict:
    release = _latest_release(use_case)
    if release is None:
        return unmet("No release is recorded, so there is no dataset to trace to its sources.")
    pinned = _pinned_dataset_versions(release)
    if not pinned:
        return unmet(f"The latest release, {release.version}, pins no dataset version.")
    missing = sorted({item.dataset.name for item in pinned if not item.dataset.sources.all()})
    if missing:
        return unmet(f"No data source is recorded for {', '.join(missing)}.")
    return verified(f"Every dataset of release {release.version} names its data sources.")


@verifier("testing_validation.success_criteria")
def _success_criteria(use_case) -> Verdict:
    count = use_case.kpis.count()
    if not count:
        return unmet("No KPI with a target is recorded.")
    return verified(f"{count} KPI(s) with targets are recorded.")


@verifier("release_rollback.release_recorded")
def _release_recorded(use_case) -> Verdict:
    release = _latest_release(use_case)
    if release is None:
        return unmet("No release is recorded.")
    return verified(f"The latest release, {release.version}, is pinned to {release.code_ref}.")


def _undigested_pins(release) -> list[str]:
    """Versions the release pins without a digest (prompts always carry theirs, but an imported
    row could lack it)."""
    return [
        *(str(item) for item in release.model_versions.select_related("model").filter(sha256="")),
        *(str(item) for item in release.prompt_versions.select_related("template").filter(content_sha256="")),
        *(str(item) for item in release.dataset_versions.select_related("dataset").filter(sha256="")),
    ]


def _pin_count(release) -> int:
    return release.model_versions.count() + release.prompt_versions.count() + release.dataset_versions.count()


@verifier("release_rollback.pins_digests")
def _pins_digests(use_case) -> Verdict:
    release = _latest_release(use_case)
    if release is None:
        return unmet("No release is recorded.")
    if not _pin_count(release):
        return unmet(f"The latest release, {release.version}, pins no model, prompt or dataset version.")
    missing = _undigested_pins(release)
    if missing:
        return unmet(f"Release {release.version} pins without a digest: {', '.join(missing)}.")
    return verified(f"Every version release {release.version} pins carries its SHA-256 digest.")


@verifier("release_rollback.rollback_target")
def _rollback_target(use_case) -> Verdict:
    # What Propylon knows today is the releases themselves: an earlier release that pins what it
    # ran by digest can be redeployed exactly. Whether it was ever deployed arrives with
    # deployments; until then "exists and is pinned" is the honest claim.
    releases = list(use_case.releases.order_by("-created_at", "-pk")[:20])
    if len(releases) < 2:
        return unmet("There is no earlier release to roll back to.")
    for release in releases[1:]:
        if _pin_count(release) and not _undigested_pins(release):
            return verified(f"Release {release.version} is an earlier release pinned by digest.")
    return unmet("No earlier release pins all its versions by digest.")


@verifier("monitoring_drift.dashboard_linked")
def _dashboard_linked(use_case) -> Verdict:
    if not use_case.dashboard_url:
        return unmet("No dashboard link is recorded.")
    return verified(f"The dashboard is at {use_case.dashboard_url}.")


@verifier("documentation.repository_linked")
def _repository_linked(use_case) -> Verdict:
    if not use_case.repository_url:
        return unmet("No repository link is recorded.")
    return verified(f"The code lives at {use_case.repository_url}.")


@verifier("documentation.runbook_linked")
def _runbook_linked(use_case) -> Verdict:
    if not use_case.runbook_url:
        return unmet("No runbook link is recorded.")
    return verified(f"The runbook is at {use_case.runbook_url}.")


@verifier("documentation.risk_classified")
def _risk_classified(use_case) -> Verdict:

    latest = use_case.risk_assessments.order_by("-version").first()
    if latest is None or use_case.risk_tier == RiskTierChoices.UNASSESSED:
        return unmet("The risk questionnaire has not been answered.")
    return verified(
        f"Classified {RiskTierChoices.label(use_case.risk_tier).lower()} (version {latest.version})."
    )


@verifier("human_oversight.oversight_fits_risk")
def _oversight_fits_risk(use_case) -> Verdict:

    tier, mode = use_case.risk_tier, use_case.human_oversight
    mode_label = HumanOversightChoices.label(mode).split(" (")[0].lower()
    if tier == RiskTierChoices.UNASSESSED:
        return unmet("The risk is not classified, so whether the oversight fits cannot be judged.")
    if tier == RiskTierChoices.PROHIBITED:
        return unmet("The use case is classified as a prohibited practice: no oversight makes it acceptable.")
    # Art 14 AI Act: high-risk systems are overseen by people who can intervene; customers facing
    # a fully automated system get the same expectation here.
    close_supervision = (HumanOversightChoices.IN_THE_LOOP, HumanOversightChoices.ON_THE_LOOP)
    if (tier == RiskTierChoices.HIGH or use_case.customer_facing) and mode not in close_supervision:
        reason = "high-risk" if tier == RiskTierChoices.HIGH else "customer-facing"
        return unmet(
            f"It is {reason} but its oversight is {mode_label}; a human in or on the loop is expected."
        )
    return verified(f"{mode_label.capitalize()} fits a {RiskTierChoices.label(tier).lower()} tier.")


@verifier("security_access.sensitivity_covers_data")
def _sensitivity_covers_data(use_case) -> Verdict:

    order = DataSensitivityChoices.values()  # least to most sensitive
    release = _latest_release(use_case)
    if release is None:
        return unmet("No release is recorded, so the data it uses is not known.")
    pinned = _pinned_dataset_versions(release)
    if not pinned:
        return unmet(
            f"The latest release, {release.version}, pins no dataset, so the data it uses is not known."
        )
    declared = order.index(use_case.data_sensitivity)
    above = sorted(
        {
            f"{name} ({DataSensitivityChoices.label(level)})"
            for item in pinned
            for name, level in [
                (item.dataset.name, item.dataset.sensitivity),
                *((source.name, source.sensitivity) for source in item.dataset.sources.all()),
            ]
            if order.index(level) > declared
        }
    )
    if above:
        return unmet(
            f"Declared {DataSensitivityChoices.label(use_case.data_sensitivity)}, but it uses {', '.join(above)}."
        )
    return verified(
        f"Declared {DataSensitivityChoices.label(use_case.data_sensitivity)} covers every pinned dataset and source."
    )


@verifier("cost_visibility.value_measured")
def _value_measured(use_case) -> Verdict:
    count = use_case.kpis.filter(value_per_unit__isnull=False).count()
    if not count:
        return unmet("No KPI has a value per unit.")
    return verified(f"{count} KPI(s) say what a unit of outcome is worth.")


#
# Verifiers whose facts arrive with later features. They look for the models holding those
# facts by name and by a foreign key to the use case (or to one of its releases), so they start
# counting as soon as such a model is installed — no change here needed.
#


def _use_case_path(model) -> str | None:
    """The lookup from ``model`` to its use case, through a foreign key to it or to a release."""
    use_case_model = apps.get_model("inventory", "UseCase")
    release_model = apps.get_model("inventory", "Release")
    foreign_keys = [field for field in model._meta.get_fields() if field.many_to_one and field.concrete]
    for field in foreign_keys:
        if field.related_model is use_case_model:
            return field.name
    for field in foreign_keys:
        if field.related_model is release_model:
            return f"{field.name}__use_case"
    return None


def fact_models(*, name_endings: Iterable[str], name_excludes: Iterable[str] = (), app_labels=()) -> list:
    """Installed models whose name ends with one of ``name_endings`` (and contains none of
    ``name_excludes``) and that point at a use case: ``[(model, lookup to the use case)]``.
    Matching the end of the name keeps e.g. an allocation *rule* from passing for allocated
    costs."""
    found = []
    for model in apps.get_models():
        name = model._meta.model_name
        if app_labels and model._meta.app_label not in app_labels:
            continue
        if model._meta.app_label == "approvals" and name.startswith("maturity"):
            continue
        if not name.endswith(tuple(name_endings)) or any(word in name for word in name_excludes):
            continue
        path = _use_case_path(model)
        if path:
            found.append((model, path))
    return found


def _migrated(models: list) -> list:
    """Of the fact models, those whose table exists: a model whose migration has not been
    applied yet holds no facts (and querying it would fail the whole assessment)."""
    if not models:
        return models
    tables = set(connection.introspection.table_names())
    return [(model, path) for model, path in models if model._meta.db_table in tables]


def _facts_verdict(use_case, models: list, *, what: str, extra: Q | None = None) -> Verdict:
    models = _migrated(models)
    if not models:
        return pending(f"Counts once {what} are recorded in Propylon; nothing records them yet.")
    for model, path in models:
        rows = model._default_manager.filter(**{path: use_case.pk})
        if extra is not None:
            rows = rows.filter(extra)
        count = rows.count()
        if count:
            return verified(f"{count} {model._meta.verbose_name_plural} recorded for this use case.")
    return unmet(f"No {what} are recorded for this use case.")


@verifier("security_access.deployments_via_target")
def _deployments_via_target(use_case) -> Verdict:
    models = fact_models(name_endings=("deployment",), name_excludes=("target",))
    for model, path in models:
        if any(field.name == "target" for field in model._meta.get_fields()):
            return _facts_verdict(
                use_case, [(model, path)], what="deployments", extra=Q(target__isnull=False)
            )
    return _facts_verdict(use_case, models, what="deployments")


@verifier("monitoring_drift.signals_arrive")
def _signals_arrive(use_case) -> Verdict:
    return _facts_verdict(
        use_case,
        fact_models(name_endings=("signal", "metricreading", "observation", "monitoringevent")),
        what="monitoring signals",
    )


@verifier("cost_visibility.costs_attributed")
def _costs_attributed(use_case) -> Verdict:
    return _facts_verdict(
        use_case, fact_models(name_endings=("allocation",), app_labels=("costs",)), what="cost allocations"
    )


@verifier("cost_visibility.budget_set")
def _budget_set(use_case) -> Verdict:
    return _facts_verdict(
        use_case, fact_models(name_endings=("budget",), app_labels=("costs",)), what="budgets"
    )


#
# Scoring
#


def _points(value: Decimal) -> str:
    return "0" if value == 0 else str(value.quantize(Decimal("0.1")))


def _score(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.1")))


@dataclass
class Computation:
    results: dict
    scores: dict
    readiness: Decimal
    evidence_ids: list

    @property
    def level(self) -> Level:
        return level_for(self.readiness)

    def fingerprint(self) -> tuple:
        return (catalog.RUBRIC_VERSION, self.scores, self.results, self.evidence_ids)


def active_evidence(use_case) -> list:
    return list(
        MaturityEvidence.objects.filter(use_case=use_case, withdrawn_at__isnull=True).order_by(
            "added_at", "pk"
        )
    )


def compute(use_case) -> Computation:
    """Score the use case against the rubric now (reads facts; writes nothing)."""
    evidence_by_check: dict[str, list[int]] = {}
    for item in active_evidence(use_case):
        evidence_by_check.setdefault(item.check_key, []).append(item.pk)
    results, scores, used = {}, {}, []
    for dimension in catalog.DIMENSIONS:
        total = catalog.NO_POINTS
        for item in dimension.checks:
            verdict = VERIFIERS[item.verifier](use_case) if item.verifier else None
            evidence = evidence_by_check.get(item.key, [])
            if verdict is not None and verdict.status == CheckStatusChoices.VERIFIED:
                status, points, detail = verdict.status, catalog.VERIFIED_POINTS, verdict.detail
            elif evidence:
                status, points = CheckStatusChoices.EVIDENCED, catalog.MANUAL_POINTS
                detail = f"Evidenced by hand ({len(evidence)} item{'s' if len(evidence) > 1 else ''})."
                if verdict is not None:
                    detail += f" Not verified automatically: {verdict.detail}"
                used.extend(evidence)
            elif verdict is not None:
                status, points, detail = verdict.status, catalog.NO_POINTS, verdict.detail
            else:
                status, points, detail = CheckStatusChoices.UNMET, catalog.NO_POINTS, "No evidence yet."
            results[item.key] = {
                "status": status,
                "points": _points(points),
                "detail": detail,
                "evidence": evidence if status == CheckStatusChoices.EVIDENCED else [],
            }
            total += points
        scores[dimension.key] = _score(total)
    readiness = min(Decimal(value) for value in scores.values())
    return Computation(results=results, scores=scores, readiness=readiness, evidence_ids=sorted(used))


def latest_assessment(use_case) -> MaturityAssessment | None:
    return MaturityAssessment.objects.filter(use_case=use_case).order_by("-version").first()


#
# Reading an assessment
#


def assessment_level(assessment: MaturityAssessment) -> Level:
    return catalog.LEVELS[assessment.level]


def maturity_gaps(assessment: MaturityAssessment) -> list[dict]:
    """What to do to reach the next level: for every dimension below the next level's
    threshold (the weakest first), the checks that could still earn points (the most points
    first). Empty at the top level."""
    target = catalog.next_level(assessment_level(assessment))
    if target is None:
        return []
    gaps = []
    dimensions = sorted(
        catalog.DIMENSIONS,
        key=lambda dimension: (
            Decimal(assessment.scores.get(dimension.key, "0")),
            catalog.DIMENSION_KEYS.index(dimension.key),
        ),
    )
    for dimension in dimensions:
        score = Decimal(assessment.scores.get(dimension.key, "0"))
        if score >= target.threshold:
            continue
        options = []
        for position, item in enumerate(dimension.checks):
            result = assessment.results.get(item.key, {})
            status = result.get("status", CheckStatusChoices.UNMET)
            points = Decimal(result.get("points", "0"))
            if status == CheckStatusChoices.VERIFIED:
                continue
            # Automatic verification earns a full point, unless its facts are not recorded yet
            # (then evidence is the only way now); evidence earns half.
            can_verify = item.is_automatic and status != CheckStatusChoices.PENDING_DATA
            gain = (catalog.VERIFIED_POINTS if can_verify else catalog.MANUAL_POINTS) - points
            if gain <= 0:
                continue
            if status == CheckStatusChoices.PENDING_DATA:
                action = f"{item.guidance} Attach evidence now; it is verified automatically once the data is recorded."
            elif status == CheckStatusChoices.EVIDENCED and can_verify:
                action = f"{item.guidance} (evidence holds it by hand; the facts in Propylon would earn a full point)"
            elif item.is_automatic:
                action = item.guidance
            else:
                action = f"{item.guidance.rstrip('.')} (0.5 point with evidence)."
            options.append((-gain, position, item, status, points, gain, action))
        for _, _, item, status, points, gain, action in sorted(options, key=lambda option: option[:2]):
            gaps.append(
                {
                    "dimension": dimension.key,
                    "dimension_title": dimension.title,
                    "dimension_score": _score(score),
                    "needed": _score(target.threshold - score),
                    "check": item.key,
                    "title": item.title,
                    "status": status,
                    "points": _points(points),
                    "gain": _points(gain),
                    "action": action,
                    "target_level": target.number,
                    "target_level_name": target.name,
                }
            )
    return gaps


#
# Reads that reach a person (always through portal.permissions)
#


def maturity_assessments_for(*, user, use_case):
    """The use case's assessments the person may see, newest version first."""

    return (
        restrict(MaturityAssessment.objects.all(), user)
        .filter(use_case=use_case)
        .select_related("assessed_by")
        .order_by("-version")
    )


def maturity_evidence_for(*, user, use_case):
    """The use case's evidence the person may see, active first, newest first."""

    return (
        restrict(MaturityEvidence.objects.all(), user)
        .filter(use_case=use_case)
        .select_related("added_by", "withdrawn_by")
        # Active evidence first (withdrawn_at is empty), then the most recently withdrawn.
        .order_by(F("withdrawn_at").desc(nulls_first=True), "-added_at", "-pk")
    )


def _check_rows(assessment, evidence_by_check: dict) -> list[dict]:
    rows = []
    for dimension in catalog.DIMENSIONS:
        checks = []
        for item in dimension.checks:
            result = assessment.results.get(item.key, {}) if assessment else {}
            status = result.get("status", "")
            checks.append(
                {
                    "key": item.key,
                    "title": item.title,
                    "guidance": item.guidance,
                    "automatic": item.is_automatic,
                    "status": status,
                    "status_label": CheckStatusChoices.label(status) if status else "Not assessed",
                    "colour": CheckStatusChoices.colour(status),
                    "points": result.get("points", "0"),
                    "max_points": _points(item.max_points),
                    "detail": result.get("detail", ""),
                    "evidence": evidence_by_check.get(item.key, []),
                }
            )
        rows.append(
            {
                "key": dimension.key,
                "title": dimension.title,
                "description": dimension.description,
                "score": assessment.scores.get(dimension.key, "0.0") if assessment else "",
                "max_points": _score(dimension.max_points),
                "checks": checks,
            }
        )
    return rows


def _chart_data(assessment, history: list) -> dict:
    trend = sorted(history, key=lambda item: item.version)
    return {
        "dimensions": [dimension.title for dimension in catalog.DIMENSIONS],
        "scores": [float(assessment.scores.get(key, "0")) for key in catalog.DIMENSION_KEYS]
        if assessment
        else [],
        "max": [float(dimension.max_points) for dimension in catalog.DIMENSIONS],
        "readiness": float(assessment.readiness) if assessment else None,
        "levels": [{"name": level.name, "threshold": float(level.threshold)} for level in catalog.LEVELS],
        "trend": {
            "labels": [f"v{item.version} {item.assessed_at:%Y-%m-%d}" for item in trend],
            "readiness": [float(item.readiness) for item in trend],
            "series": [
                {
                    "name": dimension.title,
                    "values": [float(item.scores.get(dimension.key, "0")) for item in trend],
                }
                for dimension in catalog.DIMENSIONS
            ],
        },
    }


def maturity_overview(*, user, use_case, version: str | None = None) -> dict:
    """The use case's "Maturity" tab: the assessment shown (the latest, or ``version``) with its
    vector, checks, gaps and trend, the evidence, and whether the person may add to them."""

    history = list(maturity_assessments_for(user=user, use_case=use_case))
    shown = history[0] if history else None
    if version and version.isdigit():
        shown = next((item for item in history if item.version == int(version)), shown)
    evidence = list(maturity_evidence_for(user=user, use_case=use_case))
    evidence_by_check: dict[str, list] = {}
    for item in evidence:
        evidence_by_check.setdefault(item.check_key, []).append(item)
    level = assessment_level(shown) if shown else None
    return {
        "maturity_assessment": shown,
        "maturity_history": history,
        "maturity_level": level,
        "maturity_next_level": catalog.next_level(level) if level else catalog.LEVELS[1],
        "maturity_levels": catalog.LEVELS,
        "maturity_gaps": maturity_gaps(shown) if shown else [],
        "maturity_dimensions": _check_rows(shown, evidence_by_check),
        "maturity_evidence": evidence,
        "maturity_chart": _chart_data(shown, history),
        "maturity_rubric_version": catalog.RUBRIC_VERSION,
        "maturity_check_choices": [
            (dimension.title, [(item.key, item.title) for item in dimension.checks])
            for dimension in catalog.DIMENSIONS
        ],
        "may_maintain_maturity": may_maintain_maturity(user, use_case),
    }
