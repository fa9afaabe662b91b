"""Scoring, verifiers, versions, evidence and recompute triggers (approvals.services.maturity)."""

import hashlib
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from approvals.catalogs.maturity import CHECKS, DIMENSIONS, RUBRIC_VERSION
from approvals.choices import AssessmentTriggerChoices, CheckStatusChoices
from approvals.models import MaturityAssessment, MaturityEvidence
from approvals.selectors import maturity as maturity_selectors
from approvals.services import maturity
from approvals.services.risk import risk_assessment_record
from inventory.choices import DataSensitivityChoices, ModelProviderChoices
from inventory.models import Dataset, DatasetVersion, DataSource, Kpi, Model, ModelVersion
from inventory.services import catalog as catalog_services
from inventory.services import usecases as inventory_services
from portal.choices import AuditActionChoices
from portal.models import AppendOnlyError, AuditEntry

pytestmark = pytest.mark.django_db

MANUAL = AssessmentTriggerChoices.MANUAL
FACT_CHANGE = AssessmentTriggerChoices.FACT_CHANGE


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def build_assets(team, *, with_digest=True, lineage="Tickets 2025, PII redacted.", suffix="1"):
    """A model version and a dataset version (from a data source) to pin in a release."""
    source = DataSource.objects.create(
        slug=f"crm-{suffix}", name=f"CRM {suffix}", owning_team=team, system="CRM: Case",
        sensitivity=DataSensitivityChoices.PII,
    )  # fmt: skip
    dataset = Dataset.objects.create(
        slug=f"tickets-{suffix}",
        name=f"Tickets {suffix}",
        owning_team=team,
        sensitivity=DataSensitivityChoices.PII,
    )
    dataset.sources.add(source)
    model = Model.objects.create(
        slug=f"llm-{suffix}", name=f"LLM {suffix}", owning_team=team, provider=ModelProviderChoices.API
    )
    model_version = ModelVersion.objects.create(
        model=model, version="1", sha256=digest(f"model{suffix}") if with_digest else ""
    )
    dataset_version = DatasetVersion.objects.create(
        dataset=dataset, version="1", sha256=digest(f"data{suffix}"), lineage=lineage
    )
    return model_version, dataset_version


def release(use_case, version, model_version, dataset_version):
    return catalog_services.release_create(
        use_case=use_case, actor=None, version=version, code_ref=f"git:{version}",
        model_versions=[model_version], dataset_versions=[dataset_version],
    )  # fmt: skip


def status_of(assessment, key):
    return assessment.results[key]["status"], assessment.results[key]["points"]


#
# Scoring
#


def test_a_bare_use_case_scores_what_its_facts_support(support_team, file_use_case):
    use_case = file_use_case(support_team)
    assessment = maturity.maturity_assess(use_case=use_case, actor=support_team.lead, trigger=MANUAL)
    assert (assessment.version, assessment.rubric_version, assessment.trigger) == (1, RUBRIC_VERSION, MANUAL)
    assert assessment.assessed_by == support_team.lead
    assert set(assessment.results) == set(CHECKS) and list(assessment.scores) == [d.key for d in DIMENSIONS]
    # The owner is filed in the owning team and active: verified; nothing else is recorded yet.
    assert status_of(assessment, "ownership.accountable_owner_active") == ("verified", "1.0")
    assert status_of(assessment, "ownership.technical_owner") == ("unmet", "0")
    assert status_of(assessment, "ownership.responsibilities_agreed") == ("unmet", "0")
    assert assessment.scores["ownership"] == "1.0"
    assert assessment.readiness == Decimal("0") and assessment.level == 0


@pytest.fixture
def no_later_facts(monkeypatch):
    """As before deployments, monitoring and costs record anything (whatever is installed now)."""
    monkeypatch.setattr(maturity_selectors, "fact_models", lambda **kwargs: [])


def test_pending_data_checks_earn_nothing_and_say_when_they_count(
    support_team, file_use_case, no_later_facts
):
    assessment = maturity.maturity_assess(use_case=file_use_case(support_team), trigger=MANUAL)
    for key in (
        "security_access.deployments_via_target",
        "monitoring_drift.signals_arrive",
        "cost_visibility.budget_set",
    ):
        result = assessment.results[key]
        assert (result["status"], result["points"]) == (CheckStatusChoices.PENDING_DATA, "0"), key
        assert result["detail"].startswith("Counts once")


def test_evidence_earns_half_verification_a_full_point_and_the_dimension_sums(support_team, file_use_case):
    use_case = file_use_case(support_team)
    for key in ("ownership.responsibilities_agreed", "ownership.handover_plan"):
        maturity.evidence_add(
            use_case=use_case, check_key=key, actor=support_team.lead, note=f"Agreed: {key}"
        )
    inventory_services.usecase_update(
        use_case=use_case, actor=support_team.lead, technical_owner=support_team.members.exclude(
            pk=support_team.lead.pk).first(),
    )  # fmt: skip
    assessment = maturity.maturity_assess(use_case=use_case, trigger=MANUAL)
    assert status_of(assessment, "ownership.responsibilities_agreed") == ("evidenced", "0.5")
    assert status_of(assessment, "ownership.technical_owner") == ("verified", "1.0")
    # 1.0 owner + 1.0 technical owner + 0 sponsor + 0.5 + 0.5 evidence
    assert assessment.scores["ownership"] == "3.0"
    evidence_ids = sorted(MaturityEvidence.objects.filter(use_case=use_case).values_list("pk", flat=True))
    assert assessment.evidence_ids == evidence_ids
    assert assessment.results["ownership.handover_plan"]["evidence"] == [evidence_ids[1]]


def test_readiness_is_the_minimum_over_dimensions(support_team, file_use_case):
    use_case = file_use_case(support_team)
    for dimension in DIMENSIONS:
        manual = [check for check in dimension.checks if not check.verifier]
        for check in manual[:2]:
            maturity.evidence_add(use_case=use_case, check_key=check.key, actor=None, note="Done, see wiki.")
    assessment = maturity.maturity_assess(use_case=use_case, trigger=MANUAL)
    scores = {key: Decimal(value) for key, value in assessment.scores.items()}
    assert assessment.readiness == min(scores.values())
    assert scores["ownership"] == Decimal("2.0")  # owner verified + two pieces of evidence
    # Data & lineage has a single check held by hand: 0.5 is its whole score, and the readiness.
    assert scores["data_lineage"] == Decimal("0.5") == assessment.readiness and assessment.level == 0


def test_verified_beats_evidence_and_evidence_holds_when_verification_fails(support_team, file_use_case):
    use_case = file_use_case(support_team)
    maturity.evidence_add(
        use_case=use_case,
        check_key="documentation.runbook_linked",
        actor=None,
        url="https://wiki.example.com/rb",
    )
    first = maturity.maturity_assess(use_case=use_case, trigger=MANUAL)
    assert status_of(first, "documentation.runbook_linked") == ("evidenced", "0.5")
    assert (
        "Not verified automatically: No runbook link"
        in first.results["documentation.runbook_linked"]["detail"]
    )
    inventory_services.usecase_update(
        use_case=use_case, actor=None, runbook_url="https://runbooks.example.com/uc"
    )
    second = maturity.maturity_assess(use_case=use_case, trigger=MANUAL)
    assert status_of(second, "documentation.runbook_linked") == ("verified", "1.0")
    assert second.evidence_ids == []  # verified checks do not use evidence


#
# Verifiers flip when facts change
#


def test_owner_verifier_flips_when_the_owner_leaves(support_team, file_use_case):
    use_case = file_use_case(support_team)
    assert maturity_selectors.VERIFIERS["ownership.accountable_owner_active"](use_case).status == "verified"
    support_team.lead.is_active = False
    support_team.lead.save()
    use_case.refresh_from_db()
    verdict = maturity_selectors.VERIFIERS["ownership.accountable_owner_active"](use_case)
    assert verdict.status == "unmet" and "no longer active" in verdict.detail


def test_owner_verifier_uses_inventorys_ownership_health(support_team, legal_team, file_use_case):
    use_case = file_use_case(support_team)
    support_team.members.remove(support_team.lead)
    verdict = maturity_selectors.VERIFIERS["ownership.accountable_owner_active"](use_case)
    assert verdict.status == "unmet" and "not a member of" in verdict.detail


def test_release_verifiers_follow_digests_lineage_and_rollback(support_team, file_use_case):
    use_case = file_use_case(support_team)
    check = lambda key: maturity_selectors.VERIFIERS[key](use_case)  # noqa: E731
    assert check("release_rollback.pins_digests").status == "unmet"
    assert check("release_rollback.rollback_target").detail == "There is no earlier release to roll back to."
    model_version, dataset_version = build_assets(support_team, lineage="")
    release(use_case, "1.0", model_version, dataset_version)
    assert check("release_rollback.pins_digests").status == "verified"
    assert check("data_lineage.datasets_recorded").status == "verified"
    assert check("data_lineage.sources_recorded").status == "verified"
    lineage = check("data_lineage.datasets_have_lineage")
    assert lineage.status == "unmet" and "Tickets 1 1" in lineage.detail
    dataset_version.lineage = "Exported from the CRM, PII redacted."
    dataset_version.save()
    assert check("data_lineage.datasets_have_lineage").status == "verified"
    # A second release whose model lacks a digest: the latest fails, the earlier one is a target.
    undigested, dataset_two = build_assets(support_team, with_digest=False, suffix="2")
    release(use_case, "1.1", undigested, dataset_two)
    pins = check("release_rollback.pins_digests")
    assert pins.status == "unmet" and "LLM 2 1" in pins.detail
    assert check("release_rollback.rollback_target").status == "verified"


def test_sensitivity_verifier_compares_the_declared_level_with_the_data(support_team, file_use_case):
    use_case = file_use_case(support_team, data_sensitivity=DataSensitivityChoices.INTERNAL)
    release(use_case, "1.0", *build_assets(support_team))
    verdict = maturity_selectors.VERIFIERS["security_access.sensitivity_covers_data"](use_case)
    assert verdict.status == "unmet" and "Tickets 1 (Personal data (PII))" in verdict.detail
    inventory_services.usecase_update(
        use_case=use_case, actor=None, data_sensitivity=DataSensitivityChoices.PII
    )
    assert (
        maturity_selectors.VERIFIERS["security_access.sensitivity_covers_data"](use_case).status == "verified"
    )


def test_oversight_verifier_asks_for_a_human_when_high_risk(support_team, file_use_case):
    use_case = file_use_case(support_team, human_oversight="none")
    assert (
        "not classified"
        in maturity_selectors.VERIFIERS["human_oversight.oversight_fits_risk"](use_case).detail
    )
    risk_assessment_record(
        use_case=use_case, answers={"role": "both", "annex_iii_areas": ["employment"]}, actor=None
    )
    verdict = maturity_selectors.VERIFIERS["human_oversight.oversight_fits_risk"](use_case)
    assert verdict.status == "unmet" and "high-risk" in verdict.detail
    assert maturity_selectors.VERIFIERS["documentation.risk_classified"](use_case).status == "verified"
    inventory_services.usecase_update(use_case=use_case, actor=None, human_oversight="on_the_loop")
    assert maturity_selectors.VERIFIERS["human_oversight.oversight_fits_risk"](use_case).status == "verified"


def test_kpis_verify_success_criteria_and_value(support_team, file_use_case):
    use_case = file_use_case(support_team)
    Kpi.objects.create(use_case=use_case, name="Deflection", unit="%", target=Decimal("30"))
    assert maturity_selectors.VERIFIERS["testing_validation.success_criteria"](use_case).status == "verified"
    assert maturity_selectors.VERIFIERS["cost_visibility.value_measured"](use_case).status == "unmet"
    Kpi.objects.filter(use_case=use_case).update(value_per_unit=Decimal("4.20"))
    assert maturity_selectors.VERIFIERS["cost_visibility.value_measured"](use_case).status == "verified"


def test_later_facts_start_counting_once_a_model_holds_them(support_team, file_use_case, monkeypatch):
    """A model named like the facts it holds, with a foreign key to the use case, turns a
    pending verifier into a real one: no rows → unmet, rows → verified."""
    from approvals.models import RiskRegisterEntry

    use_case = file_use_case(support_team)
    monkeypatch.setattr(maturity_selectors, "fact_models", lambda **kwargs: [])
    assert maturity_selectors.VERIFIERS["cost_visibility.costs_attributed"](use_case).status == "pending_data"
    # Stand-in for a later costs allocation model: any installed model pointing at the use case.
    monkeypatch.setattr(maturity_selectors, "fact_models", lambda **kwargs: [(RiskRegisterEntry, "use_case")])
    assert maturity_selectors.VERIFIERS["cost_visibility.costs_attributed"](use_case).status == "unmet"
    RiskRegisterEntry.objects.create(
        use_case=use_case, title="x", category="privacy", likelihood=1, severity=1, owner=support_team.lead,
        residual_likelihood=1, residual_severity=1,
    )  # fmt: skip
    assert maturity_selectors.VERIFIERS["cost_visibility.costs_attributed"](use_case).status == "verified"


def test_a_fact_model_without_its_table_is_still_pending(support_team, file_use_case, monkeypatch):
    from approvals.models import RiskRegisterEntry

    monkeypatch.setattr(maturity_selectors, "fact_models", lambda **kwargs: [(RiskRegisterEntry, "use_case")])
    monkeypatch.setattr(RiskRegisterEntry._meta, "db_table", "not_migrated_yet")
    assert (
        maturity_selectors.VERIFIERS["cost_visibility.costs_attributed"](file_use_case(support_team)).status
        == "pending_data"
    )


def test_fact_models_finds_models_by_name_and_use_case_link():
    from django.apps import apps

    from approvals.models import RiskRegisterEntry
    from inventory.models import Release

    assert maturity_selectors._use_case_path(RiskRegisterEntry) == "use_case"
    assert maturity_selectors._use_case_path(Release) == "use_case"
    found = [model for model, _path in maturity_selectors.fact_models(name_endings=("registerentry",))]
    assert found == [RiskRegisterEntry]
    assert maturity_selectors.fact_models(
        name_endings=("evidence", "assessment"), app_labels=("approvals",)
    ) == [(apps.get_model("approvals", "RiskAssessment"), "use_case")]  # never scores itself


#
# Versions: append-only, idempotent recompute, trend
#


def test_recompute_saves_a_version_only_when_something_changed(support_team, file_use_case):
    use_case = file_use_case(support_team)
    first = maturity.maturity_assess(use_case=use_case, trigger=MANUAL)
    again = maturity.maturity_assess(use_case=use_case, trigger=FACT_CHANGE)
    nightly = maturity.maturity_assess(use_case=use_case, trigger=AssessmentTriggerChoices.NIGHTLY)
    assert again.pk == first.pk == nightly.pk and MaturityAssessment.objects.count() == 1
    inventory_services.usecase_update(
        use_case=use_case, actor=None, dashboard_url="https://grafana.example.com/d/1"
    )
    changed = maturity.maturity_assess(use_case=use_case, trigger=FACT_CHANGE)
    assert changed.version == 2 and changed.trigger == FACT_CHANGE
    assert status_of(changed, "monitoring_drift.dashboard_linked") == ("verified", "1.0")
    # A person asking always gets a new version, even when nothing changed.
    assert maturity.maturity_assess(use_case=use_case, trigger=MANUAL).version == 3


def test_versions_count_per_use_case_and_latest_is_the_newest(support_team, file_use_case):
    first, second = file_use_case(support_team), file_use_case(support_team, name="Agent assist")
    assert maturity_selectors.latest_assessment(first) is None
    maturity.maturity_assess(use_case=first, trigger=MANUAL)
    latest = maturity.maturity_assess(use_case=first, trigger=MANUAL)
    assert maturity.maturity_assess(use_case=second, trigger=MANUAL).version == 1
    assert maturity_selectors.latest_assessment(first) == latest and latest.version == 2


def test_assessments_are_append_only(support_team, file_use_case):
    assessment = maturity.maturity_assess(use_case=file_use_case(support_team), trigger=MANUAL)
    assessment.readiness = Decimal("4")
    with pytest.raises(AppendOnlyError):
        assessment.save()


def test_unknown_trigger_is_refused_naming_the_field(support_team, file_use_case):
    with pytest.raises(ValidationError) as caught:
        maturity.maturity_assess(use_case=file_use_case(support_team), trigger="whenever")
    assert "trigger" in caught.value.message_dict
    assert MaturityAssessment.objects.count() == 0


def test_assessments_and_evidence_are_in_the_audit_trail(support_team, file_use_case):
    use_case = file_use_case(support_team)
    evidence = maturity.evidence_add(
        use_case=use_case, check_key="ownership.handover_plan", actor=None, note="Plan"
    )
    assessment = maturity.maturity_assess(use_case=use_case, trigger=MANUAL)
    maturity.evidence_withdraw(evidence=evidence, actor=support_team.lead)
    entries = AuditEntry.objects.filter(content_type__app_label="approvals")
    created = entries.get(content_type__model="maturityassessment", object_id=str(assessment.pk))
    assert created.action == AuditActionChoices.CREATE and created.changes["readiness"]["after"] == "0.0"
    evidence_entries = entries.filter(content_type__model="maturityevidence", object_id=str(evidence.pk))
    assert [entry.action for entry in evidence_entries.order_by("pk")] == ["create", "update"]
    assert set(evidence_entries.order_by("pk").last().changes) == {"withdrawn_at", "withdrawn_by"}


#
# Evidence
#


def test_evidence_hashes_its_content(support_team, file_use_case, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    use_case = file_use_case(support_team)
    link = maturity.evidence_add(
        use_case=use_case,
        check_key="documentation.model_card",
        actor=None,
        url="  https://wiki.example.com/card ",
    )
    assert (link.kind, link.url, link.sha256) == ("link", "https://wiki.example.com/card", digest(link.url))
    note = maturity.evidence_add(
        use_case=use_case, check_key="documentation.model_card", actor=None, note="Line one  \r\nLine two\r\n"
    )
    assert note.note == "Line one\nLine two" and note.sha256 == digest("Line one\nLine two")
    upload = SimpleUploadedFile("card.pdf", b"%PDF-1.7 model card", content_type="application/pdf")
    attached = maturity.evidence_add(
        use_case=use_case, check_key="documentation.model_card", actor=support_team.lead, file=upload
    )
    assert attached.kind == "file" and attached.sha256 == digest("%PDF-1.7 model card")
    assert attached.file.name.startswith("maturity-evidence/") and attached.added_by == support_team.lead
    assert (tmp_path / attached.file.name).read_bytes() == b"%PDF-1.7 model card"


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"check_key": "ownership.nope", "note": "x"}, "check_key"),
        ({"check_key": "ownership.handover_plan"}, "url"),
        ({"check_key": "ownership.handover_plan", "note": "x", "url": "https://a.example.com"}, "note"),
        ({"check_key": "ownership.handover_plan", "url": "not a link"}, "url"),
        ({"check_key": "ownership.handover_plan", "note": "x" * 5001}, "note"),
        ({"check_key": "ownership.handover_plan", "file": SimpleUploadedFile("run.exe", b"MZ")}, "file"),
        ({"check_key": "ownership.handover_plan", "file": SimpleUploadedFile("empty.pdf", b"")}, "file"),
        ({"check_key": "ownership.handover_plan", "file": SimpleUploadedFile("page.pdf", b"<html>")}, "file"),
    ],
)
def test_bad_evidence_names_the_field_and_writes_nothing(support_team, file_use_case, arguments, field):
    use_case = file_use_case(support_team)
    with pytest.raises(ValidationError) as caught:
        maturity.evidence_add(use_case=use_case, actor=None, **arguments)
    assert field in caught.value.message_dict, caught.value.message_dict
    assert MaturityEvidence.objects.count() == 0


def test_too_large_a_file_is_refused(support_team, file_use_case, monkeypatch):
    monkeypatch.setattr(maturity, "EVIDENCE_FILE_MAX_BYTES", 10)
    with pytest.raises(ValidationError, match="the limit is"):
        maturity.evidence_add(
            use_case=file_use_case(support_team), check_key="documentation.model_card", actor=None,
            file=SimpleUploadedFile("card.pdf", b"%PDF-1.7 more than ten bytes"),
        )  # fmt: skip


def test_withdrawn_evidence_stops_counting_but_stays(support_team, file_use_case):
    use_case = file_use_case(support_team)
    evidence = maturity.evidence_add(
        use_case=use_case, check_key="ownership.handover_plan", actor=None, note="x"
    )
    assert (
        maturity.maturity_assess(use_case=use_case, trigger=MANUAL).results["ownership.handover_plan"][
            "points"
        ]
        == "0.5"
    )
    maturity.evidence_withdraw(evidence=evidence, actor=support_team.lead)
    evidence.refresh_from_db()
    assert evidence.withdrawn_at is not None and evidence.withdrawn_by == support_team.lead
    latest = maturity.maturity_assess(use_case=use_case, trigger=FACT_CHANGE)
    assert latest.version == 2 and status_of(latest, "ownership.handover_plan") == ("unmet", "0")
    with pytest.raises(ValidationError, match="already withdrawn"):
        maturity.evidence_withdraw(evidence=evidence, actor=None)


def test_evidence_is_never_edited(support_team, file_use_case):
    evidence = maturity.evidence_add(
        use_case=file_use_case(support_team), check_key="ownership.handover_plan", actor=None, note="x"
    )
    evidence.note = "rewritten"
    with pytest.raises(AppendOnlyError):
        evidence.save()


#
# Gaps
#


def test_gaps_list_what_reaches_the_next_level_weakest_first(support_team, file_use_case, no_later_facts):
    use_case = file_use_case(support_team)
    assessment = maturity.maturity_assess(use_case=use_case, trigger=MANUAL)
    gaps = maturity_selectors.maturity_gaps(assessment)
    assert {gap["target_level"] for gap in gaps} == {1}
    dimensions = [gap["dimension"] for gap in gaps]
    # Ownership already has 1.0 (level 1's threshold), so it is not listed; the others are,
    # lowest score first, each with its most valuable checks first.
    assert "ownership" not in dimensions
    scores = [Decimal(gap["dimension_score"]) for gap in gaps]
    assert scores == sorted(scores)
    lineage = [gap for gap in gaps if gap["dimension"] == "data_lineage"]
    assert [gap["gain"] for gap in lineage] == ["1.0", "1.0", "1.0", "1.0", "0.5"]
    assert lineage[-1]["action"].endswith("(0.5 point with evidence).")
    pending = next(gap for gap in gaps if gap["check"] == "monitoring_drift.signals_arrive")
    assert (
        pending["gain"] == "0.5" and "verified automatically once the data is recorded" in pending["action"]
    )


def test_no_gaps_at_the_top_level(support_team, file_use_case):
    assessment = maturity.maturity_assess(use_case=file_use_case(support_team), trigger=MANUAL)
    assessment.level = 4  # an unsaved stand-in: the top level has no next level
    assert maturity_selectors.maturity_gaps(assessment) == []


#
# Recompute triggers and jobs
#


def committed(capture, function, **kwargs):
    """Run ``function`` as if in its own committed transaction (tests share one transaction, so
    on-commit work of the setup would otherwise linger into the block under test)."""
    with capture(execute=True):
        return function(**kwargs)


def test_fact_changes_recompute_after_commit_once_per_transaction(
    support_team, file_use_case, django_capture_on_commit_callbacks
):
    use_case = committed(django_capture_on_commit_callbacks, file_use_case, team=support_team)
    maturity.maturity_assess(use_case=use_case, trigger=MANUAL)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        inventory_services.usecase_update(
            use_case=use_case, actor=None, runbook_url="https://rb.example.com/"
        )
        inventory_services.usecase_update(
            use_case=use_case, actor=None, dashboard_url="https://d.example.com/"
        )
    recomputes = [
        callback
        for callback in callbacks
        if callback.__qualname__.endswith("request_recompute.<locals>.send")
    ]
    assert len(recomputes) == 1
    latest = maturity_selectors.latest_assessment(use_case)
    assert latest.version == 2 and latest.trigger == FACT_CHANGE
    assert status_of(latest, "documentation.runbook_linked") == ("verified", "1.0")
    assert status_of(latest, "monitoring_drift.dashboard_linked") == ("verified", "1.0")


def test_release_pins_trigger_a_recompute(support_team, file_use_case, django_capture_on_commit_callbacks):
    use_case = committed(django_capture_on_commit_callbacks, file_use_case, team=support_team)
    maturity.maturity_assess(use_case=use_case, trigger=MANUAL)
    with django_capture_on_commit_callbacks(execute=True):
        release(use_case, "1.0", *build_assets(support_team))
    assert status_of(maturity_selectors.latest_assessment(use_case), "release_rollback.pins_digests") == (
        "verified",
        "1.0",
    )


def test_evidence_creates_the_first_assessment_but_a_fact_change_does_not(
    support_team, file_use_case, django_capture_on_commit_callbacks
):
    use_case = committed(django_capture_on_commit_callbacks, file_use_case, team=support_team)
    with django_capture_on_commit_callbacks(execute=True):
        inventory_services.usecase_update(
            use_case=use_case, actor=None, runbook_url="https://rb.example.com/"
        )
    assert maturity_selectors.latest_assessment(use_case) is None
    with django_capture_on_commit_callbacks(execute=True):
        maturity.evidence_add(use_case=use_case, check_key="ownership.handover_plan", actor=None, note="x")
    latest = maturity_selectors.latest_assessment(use_case)
    assert latest.trigger == AssessmentTriggerChoices.EVIDENCE
    assert status_of(latest, "ownership.handover_plan") == ("evidenced", "0.5")


def test_a_rolled_back_request_is_asked_again(
    support_team, file_use_case, django_capture_on_commit_callbacks
):
    from django.db import transaction

    use_case = committed(django_capture_on_commit_callbacks, file_use_case, team=support_team)
    maturity.maturity_assess(use_case=use_case, trigger=MANUAL)
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                inventory_services.usecase_update(
                    use_case=use_case, actor=None, runbook_url="https://a.example.com/"
                )
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass
        use_case.refresh_from_db()
        inventory_services.usecase_update(
            use_case=use_case, actor=None, dashboard_url="https://d.example.com/"
        )
    latest = maturity_selectors.latest_assessment(use_case)
    assert latest.version == 2 and status_of(latest, "monitoring_drift.dashboard_linked")[0] == "verified"
    assert status_of(latest, "documentation.runbook_linked")[0] == "unmet"


def test_nightly_job_recomputes_every_use_case_idempotently(support_team, file_use_case, run_job):
    from approvals.tasks import maturity_recompute_all

    first, second = file_use_case(support_team), file_use_case(support_team, name="Agent assist")
    maturity.maturity_assess(use_case=first, trigger=MANUAL)
    run = run_job(maturity_recompute_all)
    assert run.status == "succeeded" and run.result == {"use_cases": 2, "new_versions": 1}
    assert maturity_selectors.latest_assessment(second).trigger == AssessmentTriggerChoices.NIGHTLY
    again = run_job(maturity_recompute_all)
    assert again.result == {"use_cases": 2, "new_versions": 0}


def test_an_owner_leaving_the_team_or_the_company_recomputes(
    support_team, file_use_case, django_capture_on_commit_callbacks
):
    use_case = committed(django_capture_on_commit_callbacks, file_use_case, team=support_team)
    maturity.maturity_assess(use_case=use_case, trigger=MANUAL)
    with django_capture_on_commit_callbacks(execute=True):
        support_team.members.remove(support_team.lead)
    latest = maturity_selectors.latest_assessment(use_case)
    assert (
        latest.version == 2
        and "not a member of" in latest.results["ownership.accountable_owner_active"]["detail"]
    )
    with django_capture_on_commit_callbacks(execute=True):
        support_team.lead.teams.add(support_team)
    assert (
        maturity_selectors.latest_assessment(use_case).results["ownership.accountable_owner_active"]["status"]
        == "verified"
    )
    with django_capture_on_commit_callbacks(execute=True):
        support_team.lead.is_active = False
        support_team.lead.save()
    latest = maturity_selectors.latest_assessment(use_case)
    assert (
        latest.version == 4
        and "no longer active" in latest.results["ownership.accountable_owner_active"]["detail"]
    )


def test_signing_in_does_not_recompute(support_team, file_use_case, django_capture_on_commit_callbacks):
    use_case = committed(django_capture_on_commit_callbacks, file_use_case, team=support_team)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        support_team.lead.save(update_fields=["last_login"])
    assert callbacks == [] and use_case.pk


def test_evidence_wins_over_a_fact_change_in_the_same_transaction(
    support_team, file_use_case, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        use_case = file_use_case(support_team)
        maturity.evidence_add(use_case=use_case, check_key="ownership.handover_plan", actor=None, note="x")
    assert maturity_selectors.latest_assessment(use_case).trigger == AssessmentTriggerChoices.EVIDENCE


def test_nightly_schedule_is_registered():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="approvals.maturity_recompute_all")
    assert task.enabled and task.crontab.hour == "3"
