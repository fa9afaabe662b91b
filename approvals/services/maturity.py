"""Maturity assessment: automatic verifiers, scoring, evidence and the recompute triggers.

The rubric is data (:mod:`approvals.catalogs.maturity`). Here:

* **verifiers** read facts Propylon holds and say whether a check is ``verified``, ``unmet`` or
  ``pending_data`` (the facts it needs arrive with a later feature — deployments, monitoring,
  costs — and the verifier starts counting by itself once a model holding them exists);
* **scoring**: a verified check earns 1.0; otherwise active evidence earns 0.5; otherwise 0.
  A dimension's score is the sum of its checks, readiness the minimum over dimensions;
* **services** (keyword-only, callers check permissions): :func:`maturity_assess`,
  :func:`evidence_add`, :func:`evidence_withdraw`; reads: :func:`latest_assessment`,
  :func:`maturity_gaps`;
* **triggers**: saving a use case, a release (or its pins), a dataset version, a KPI, a risk
  assessment or evidence asks for a recompute after the transaction commits, once per use case
  and transaction (:func:`request_recompute`).
"""

import hashlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Max, Q
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

from approvals.catalogs import maturity as catalog
from approvals.catalogs.maturity import LEVELS, Level, level_for  # noqa: F401  (public interface)
from approvals.choices import AssessmentTriggerChoices, CheckStatusChoices, EvidenceKindChoices
from approvals.models import (
    EVIDENCE_FILE_EXTENSIONS,
    EVIDENCE_FILE_MAX_BYTES,
    MaturityAssessment,
    MaturityEvidence,
)

NOTE_MAX_LENGTH = 5000


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
    from inventory.models import UseCase

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
    from inventory.choices import RiskTierChoices

    latest = use_case.risk_assessments.order_by("-version").first()
    if latest is None or use_case.risk_tier == RiskTierChoices.UNASSESSED:
        return unmet("The risk questionnaire has not been answered.")
    return verified(
        f"Classified {RiskTierChoices.label(use_case.risk_tier).lower()} (version {latest.version})."
    )


@verifier("human_oversight.oversight_fits_risk")
def _oversight_fits_risk(use_case) -> Verdict:
    from inventory.choices import HumanOversightChoices, RiskTierChoices

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
    from inventory.choices import DataSensitivityChoices

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


@transaction.atomic
def maturity_assess(*, use_case, actor=None, trigger: str) -> MaturityAssessment:
    """Score the use case and save the result as its next version — unless nothing changed since
    the latest version and no person asked (then the latest is returned: recomputing is
    idempotent)."""
    from inventory.models import UseCase

    if trigger not in AssessmentTriggerChoices.values():
        raise ValidationError(
            {
                "trigger": f"Unknown trigger {trigger!r}; use one of {', '.join(AssessmentTriggerChoices.values())}."
            }
        )
    # Two recomputes at once would both read the same latest version: the row lock on the use
    # case serialises them (the unique constraint would otherwise refuse the second). Only the
    # use case's row: the owner and team joined in for reading stay unlocked.
    locked = (
        UseCase.objects.select_for_update(of=("self",))
        .select_related("accountable_owner", "owning_team")
        .get(pk=use_case.pk)
    )
    computation = compute(locked)
    latest = latest_assessment(locked)
    unchanged = latest is not None and computation.fingerprint() == (
        latest.rubric_version,
        latest.scores,
        latest.results,
        latest.evidence_ids,
    )
    if unchanged and trigger != AssessmentTriggerChoices.MANUAL:
        return latest
    assessment = MaturityAssessment(
        use_case=locked,
        version=(MaturityAssessment.objects.filter(use_case=locked).aggregate(v=Max("version"))["v"] or 0)
        + 1,
        rubric_version=catalog.RUBRIC_VERSION,
        readiness=computation.readiness,
        level=computation.level.number,
        scores=computation.scores,
        results=computation.results,
        evidence_ids=computation.evidence_ids,
        trigger=trigger,
        assessed_by=actor if getattr(actor, "is_authenticated", False) else None,
        assessed_at=timezone.now(),
    )
    assessment.full_clean()
    assessment.save()
    return assessment


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
# Evidence
#


def _canonical_text(text: str) -> str:
    return "\n".join(
        line.rstrip() for line in text.replace("\r\n", "\n").replace("\r", "\n").strip().split("\n")
    )


def _file_digest(upload) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


# What the first bytes of binary formats must be: a renamed executable or HTML page is refused
# even with an accepted extension. Text formats (txt, md, csv, json) have no signature.
FILE_SIGNATURES = {
    "pdf": (b"%PDF",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "docx": (b"PK\x03\x04",),
    "xlsx": (b"PK\x03\x04",),
    "pptx": (b"PK\x03\x04",),
}


def _check_file(upload) -> None:
    name = getattr(upload, "name", "") or ""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in EVIDENCE_FILE_EXTENSIONS:
        raise ValidationError(
            {
                "file": f"“{name}” is not an accepted type; attach one of: {', '.join(EVIDENCE_FILE_EXTENSIONS)}."
            }
        )
    size = getattr(upload, "size", None) or 0
    if size == 0:
        raise ValidationError({"file": f"“{name}” is empty."})
    if size > EVIDENCE_FILE_MAX_BYTES:
        raise ValidationError(
            {
                "file": f"“{name}” is {size / 1024 / 1024:.1f} MB; the limit is {EVIDENCE_FILE_MAX_BYTES // 1024 // 1024} MB."
            }
        )
    signatures = FILE_SIGNATURES.get(extension)
    if signatures:
        head = upload.read(16)
        upload.seek(0)
        if not head.startswith(signatures):
            raise ValidationError(
                {"file": f"“{name}” is not a real .{extension} file (its content does not match)."}
            )


@transaction.atomic
def evidence_add(
    *, use_case, check_key: str, actor, url: str | None = None, file=None, note: str | None = None
) -> MaturityEvidence:
    """Attach one piece of evidence — a link, a file or a note — to a check of the rubric. Bad
    input raises a ValidationError naming the field and writes nothing."""
    if catalog.check(check_key) is None:
        raise ValidationError(
            {"check_key": f"“{check_key}” is not a check of maturity rubric {catalog.RUBRIC_VERSION}."}
        )
    url, note = (url or "").strip(), note or ""
    given = [name for name, value in (("url", url), ("file", file), ("note", note.strip())) if value]
    if len(given) != 1:
        raise ValidationError(
            {"url" if not given else given[1]: "Give exactly one of a link (url), a file or a note."}
        )
    evidence = MaturityEvidence(
        use_case=use_case,
        check_key=check_key,
        added_by=actor if getattr(actor, "is_authenticated", False) else None,
        added_at=timezone.now(),
    )
    if url:
        evidence.kind, evidence.url = EvidenceKindChoices.LINK, url
        evidence.sha256 = hashlib.sha256(url.encode()).hexdigest()
    elif file is not None:
        _check_file(file)
        evidence.kind, evidence.file = EvidenceKindChoices.FILE, file
        evidence.sha256 = _file_digest(file)
    else:
        if len(note) > NOTE_MAX_LENGTH:
            raise ValidationError(
                {"note": f"A note is at most {NOTE_MAX_LENGTH} characters (this one has {len(note)})."}
            )
        text = _canonical_text(note)
        evidence.kind, evidence.note = EvidenceKindChoices.NOTE, text
        evidence.sha256 = hashlib.sha256(text.encode()).hexdigest()
    evidence.full_clean()
    evidence.save()
    return evidence


@transaction.atomic
def evidence_withdraw(*, evidence: MaturityEvidence, actor) -> MaturityEvidence:
    """Withdraw evidence: it stops counting, the row (and its file) stay for the record."""
    locked = MaturityEvidence.objects.select_for_update().get(pk=evidence.pk)
    if locked.withdrawn_at is not None:
        raise ValidationError(
            {"evidence": f"This evidence was already withdrawn on {locked.withdrawn_at:%Y-%m-%d %H:%M} UTC."}
        )
    locked.withdrawn_at = timezone.now()
    locked.withdrawn_by = actor if getattr(actor, "is_authenticated", False) else None
    locked.save()
    evidence.withdrawn_at, evidence.withdrawn_by = locked.withdrawn_at, locked.withdrawn_by
    return locked


#
# Recompute triggers
#

_pending = threading.local()

# When several changes of one transaction ask for a recompute with different triggers, the one
# that may create a first assessment (evidence) wins over a plain fact change.
_TRIGGER_STRENGTH = {AssessmentTriggerChoices.FACT_CHANGE: 0, AssessmentTriggerChoices.EVIDENCE: 1}


def request_recompute(use_case_id: int, trigger: str = AssessmentTriggerChoices.FACT_CHANGE) -> None:
    """Recompute the use case's maturity after the current transaction commits — once, however
    many facts of it change in the transaction (celery's ``delay_on_commit``, de-duplicated)."""
    from approvals.tasks import maturity_recompute

    pending = getattr(_pending, "callbacks", None)
    if pending is None:
        pending = _pending.callbacks = {}
    queued = pending.get(use_case_id)
    # A callback still waiting in this transaction covers this change too. One that was dropped
    # by a rollback is not in the connection's list any more, so it is asked for again.
    if queued is not None and any(callback is queued for _sids, callback, *_ in connection.run_on_commit):
        if _TRIGGER_STRENGTH.get(trigger, 0) > _TRIGGER_STRENGTH.get(queued.trigger, 0):
            queued.trigger = trigger
        return

    def send() -> None:
        pending.pop(use_case_id, None)
        maturity_recompute.delay(use_case_id=use_case_id, trigger=send.trigger)

    send.trigger = trigger
    pending[use_case_id] = send
    transaction.on_commit(send)


def _use_case_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        request_recompute(instance.pk)


def _use_case_fact_saved(sender, instance, raw=False, **kwargs):
    if not raw and getattr(instance, "use_case_id", None):
        request_recompute(instance.use_case_id)


def _evidence_saved(sender, instance, raw=False, **kwargs):
    if not raw:
        request_recompute(instance.use_case_id, AssessmentTriggerChoices.EVIDENCE)


def _release_pins_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if not action.startswith("post_"):
        return
    from inventory.models import Release

    if not reverse:
        request_recompute(instance.use_case_id)
    else:
        for use_case_id in set(
            Release.objects.filter(pk__in=pk_set or ()).values_list("use_case_id", flat=True)
        ):
            request_recompute(use_case_id)


def _version_saved(sender, instance, raw=False, created=False, **kwargs):
    """A model or dataset version changed (a digest or lineage added): every use case whose
    release pins it."""
    if raw or created:
        return  # a new version is pinned by nobody yet
    for use_case_id in set(instance.releases.values_list("use_case_id", flat=True)):
        request_recompute(use_case_id)


def _person_saved(sender, instance, raw=False, created=False, update_fields=None, **kwargs):
    """Someone in an ownership role was deactivated (or reactivated): their use cases. A sign-in
    only touches last_login and changes nothing the rubric reads."""
    if raw or created or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return
    from inventory.choices import OWNERSHIP_ROLES
    from inventory.models import UseCase

    roles = Q()
    for field, _label, _help in OWNERSHIP_ROLES:
        roles |= Q(**{field: instance})
    for use_case_id in UseCase.objects.filter(roles).values_list("pk", flat=True):
        request_recompute(use_case_id)


def _team_members_changed(sender, instance, action, reverse, pk_set, **kwargs):
    """The accountable owner joined or left the owning team (ownership health)."""
    if not action.startswith("post_"):
        return
    from inventory.models import UseCase

    if reverse and action == "post_clear":  # person.teams.clear()
        affected = UseCase.objects.filter(accountable_owner=instance)
    elif reverse:  # person.teams.add(team): the instance is the person, pk_set the teams
        affected = UseCase.objects.filter(owning_team__in=pk_set or (), accountable_owner=instance)
    elif action == "post_clear":
        affected = UseCase.objects.filter(owning_team=instance)
    else:
        affected = UseCase.objects.filter(owning_team=instance, accountable_owner__in=pk_set or ())
    for use_case_id in affected.values_list("pk", flat=True):
        request_recompute(use_case_id)


def connect_signals() -> None:
    from approvals.models import RiskAssessment
    from inventory.models import DatasetVersion, Kpi, ModelVersion, Release, UseCase

    post_save.connect(_use_case_saved, sender=UseCase, dispatch_uid="maturity-usecase")
    for model in (Release, Kpi, RiskAssessment):
        post_save.connect(
            _use_case_fact_saved, sender=model, dispatch_uid=f"maturity-{model._meta.model_name}"
        )
    post_save.connect(_evidence_saved, sender=MaturityEvidence, dispatch_uid="maturity-evidence")
    # Budgets are saved one at a time by the costs services; allocation rows are written in bulk
    # and ask for their recompute themselves (costs.allocation.allocate).
    for model, _lookup in fact_models(name_endings=("budget",), app_labels=("costs",)):
        if any(field.name == "use_case" for field in model._meta.get_fields()):
            for signal in (post_save, post_delete):
                signal.connect(
                    _use_case_fact_saved,
                    sender=model,
                    dispatch_uid=f"maturity-{model._meta.label_lower}-{signal}",
                )
    for model in (ModelVersion, DatasetVersion):
        post_save.connect(_version_saved, sender=model, dispatch_uid=f"maturity-{model._meta.model_name}")
    for field in ("model_versions", "prompt_versions", "dataset_versions"):
        m2m_changed.connect(
            _release_pins_changed,
            sender=getattr(Release, field).through,
            dispatch_uid=f"maturity-release-{field}",
        )
    m2m_changed.connect(
        _release_pins_changed_lineage,
        sender=DatasetVersion.derived_from.through,
        dispatch_uid="maturity-lineage",
    )
    post_save.connect(
        _dataset_saved, sender=apps.get_model("inventory", "Dataset"), dispatch_uid="maturity-dataset"
    )
    post_save.connect(_person_saved, sender=settings.AUTH_USER_MODEL, dispatch_uid="maturity-person")
    m2m_changed.connect(
        _team_members_changed,
        sender=apps.get_model("inventory", "Team").members.through,
        dispatch_uid="maturity-team-members",
    )
    m2m_changed.connect(
        _dataset_sources_changed,
        sender=apps.get_model("inventory", "Dataset").sources.through,
        dispatch_uid="maturity-dataset-sources",
    )


def _use_cases_pinning_datasets(dataset_version_ids=(), dataset_ids=()) -> set[int]:
    from inventory.models import Release

    releases = Release.objects.filter(
        Q(dataset_versions__in=list(dataset_version_ids)) | Q(dataset_versions__dataset__in=list(dataset_ids))
    )
    return set(releases.values_list("use_case_id", flat=True))


def _release_pins_changed_lineage(sender, instance, action, reverse, pk_set, **kwargs):
    if action.startswith("post_"):
        ids = {instance.pk} if not reverse else set(pk_set or ())
        for use_case_id in _use_cases_pinning_datasets(dataset_version_ids=ids):
            request_recompute(use_case_id)


def _dataset_sources_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action.startswith("post_"):
        ids = {instance.pk} if not reverse else set(pk_set or ())
        for use_case_id in _use_cases_pinning_datasets(dataset_ids=ids):
            request_recompute(use_case_id)


def _dataset_saved(sender, instance, raw=False, created=False, **kwargs):
    """A dataset's sensitivity changed: every use case whose release pins one of its versions."""
    if not raw and not created:
        for use_case_id in _use_cases_pinning_datasets(dataset_ids={instance.pk}):
            request_recompute(use_case_id)


#
# Reads that reach a person (always through portal.permissions)
#


def maturity_assessments_for(*, user, use_case):
    """The use case's assessments the person may see, newest version first."""
    from portal.permissions import restrict

    return (
        restrict(MaturityAssessment.objects.all(), user)
        .filter(use_case=use_case)
        .select_related("assessed_by")
        .order_by("-version")
    )


def maturity_evidence_for(*, user, use_case):
    """The use case's evidence the person may see, active first, newest first."""
    from portal.permissions import restrict

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
    from portal.permissions import may_maintain_maturity

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
