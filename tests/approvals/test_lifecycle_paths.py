"""Lifecycle as data: the CoE lead's stages and transitions, direct (non-gated) moves, and every
path that could set a use case's stage outside intake and the gates — each one closed."""

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from approvals.models import LifecycleStage, LifecycleTransition
from approvals.services import gates, lifecycle
from inventory.services import usecases as inventory_services
from inventory.services.descriptors import apply_descriptors
from inventory.services.importing import commit_import, parse_upload, validate_rows
from portal.models import AuditEntry
from tests.approvals.gate_fixtures import move_to
from tests.inventory.test_importing import HEADER, csv_bytes, row

pytestmark = pytest.mark.django_db


def stage(key):
    return LifecycleStage.objects.get(key=key)


def test_the_default_lifecycle_is_seeded():
    keys = list(LifecycleStage.objects.values_list("key", flat=True))
    assert keys == ["proposed", "pilot", "production", "retired", "on_hold", "rejected"]
    gated = set(
        LifecycleTransition.objects.filter(requires_gate=True).values_list("from_stage__key", "to_stage__key")
    )
    # Every move between the main stages (proposed, pilot, production, retired) is a gate.
    assert gated == {
        ("proposed", "pilot"),
        ("pilot", "production"),
        ("pilot", "retired"),
        ("production", "retired"),
        ("on_hold", "pilot"),
    }


def test_direct_moves_only_where_no_gate_is_needed(support_team, file_use_case, reviewers):
    use_case = file_use_case(support_team, submit=True)
    with pytest.raises(ValidationError) as excinfo:
        gates.lifecycle_move(use_case=use_case, to_stage=stage("pilot"), actor=support_team.lead)
    assert "is a gate" in excinfo.value.message_dict["to_stage"][0]
    with pytest.raises(ValidationError) as excinfo:
        gates.lifecycle_move(use_case=use_case, to_stage=stage("production"), actor=support_team.lead)
    assert "allows no move from Proposed to Production" in excinfo.value.message_dict["to_stage"][0]
    gates.lifecycle_move(use_case=use_case, to_stage=stage("on_hold"), actor=support_team.lead,
                             reason="Waiting for budget.")  # fmt: skip
    use_case.refresh_from_db()
    assert use_case.lifecycle_stage.key == "on_hold"
    entry = AuditEntry.objects.filter(action="decision", object_id=str(use_case.pk)).latest("id")
    assert "moved from Proposed to On hold: Waiting for budget." in entry.message
    draft = file_use_case(support_team, name="Draft one")
    with pytest.raises(ValidationError, match="is a draft"):
        gates.lifecycle_move(use_case=draft, to_stage=stage("on_hold"), actor=support_team.lead)


def test_stage_and_transition_rules(reviewers, support_team, file_use_case):
    lead = reviewers["carl"]
    review = lifecycle.stage_create(actor=lead, key="review", label="Review", kind="active", order=25)
    with pytest.raises(ValidationError) as excinfo:
        lifecycle.stage_create(actor=lead, key="review", label="Again", kind="active", order=26)
    assert "already a stage" in excinfo.value.message_dict["key"][0]
    with pytest.raises(ValidationError) as excinfo:
        lifecycle.stage_update(stage=review, actor=lead, key="renamed")
    assert "stable" in excinfo.value.message_dict["key"][0]
    with pytest.raises(ValidationError) as excinfo:
        lifecycle.stage_update(stage=review, actor=lead, colour="pink")
    assert "colour" in excinfo.value.message_dict
    with pytest.raises(ValidationError) as excinfo:
        lifecycle.stage_update(stage=stage("proposed"), actor=lead, kind="active")
    assert "stays an intake stage" in excinfo.value.message_dict["kind"][0]
    move = lifecycle.transition_create(
        actor=lead, from_stage=stage("pilot"), to_stage=review, requires_gate=False
    )
    with pytest.raises(ValidationError):
        lifecycle.transition_create(actor=lead, from_stage=review, to_stage=review)
    use_case = file_use_case(support_team, submit=True)
    move_to(use_case, "pilot")
    gates.lifecycle_move(use_case=use_case, to_stage=review, actor=lead)
    with pytest.raises(ValidationError, match="1 use case"):
        lifecycle.stage_delete(stage=review, actor=lead)
    move_to(use_case, "pilot")
    lifecycle.stage_delete(stage=review, actor=lead)
    assert not LifecycleTransition.objects.filter(pk=move.pk).exists()
    with pytest.raises(ValidationError, match="cannot be deleted"):
        lifecycle.stage_delete(stage=stage("proposed"), actor=lead)


def test_the_api_cannot_set_a_stage(support_team, file_use_case):
    use_case = file_use_case(support_team, submit=True)
    client = APIClient()
    client.force_authenticate(support_team.lead)
    response = client.patch(
        f"/api/use-cases/{use_case.key}/", {"lifecycle_stage": "production"}, format="json"
    )
    assert response.status_code in (200, 400)
    use_case.refresh_from_db()
    assert use_case.lifecycle_stage.key == "proposed"


def test_the_service_and_form_cannot_set_a_stage(support_team, file_use_case, client):
    use_case = file_use_case(support_team, submit=True)
    with pytest.raises(ValidationError, match="cannot be changed here: lifecycle_stage"):
        inventory_services.usecase_update(
            use_case=use_case, actor=support_team.lead, lifecycle_stage=stage("pilot")
        )
    client.force_login(support_team.lead)
    client.post(
        f"/use-cases/{use_case.key}/edit/", {"name": use_case.name, "lifecycle_stage": stage("pilot").pk}
    )
    use_case.refresh_from_db()
    assert use_case.lifecycle_stage.key == "proposed"


def test_the_import_cannot_set_a_stage(support_team, file_use_case):
    use_case = file_use_case(support_team, submit=True)
    content = csv_bytes([row(use_case.name, key=use_case.key, stage="production")])
    preview = validate_rows(parse_upload(content, "use-cases.csv"), user=support_team.lead)
    result = commit_import(preview, user=support_team.lead)
    assert not result.ok
    assert any("stages move only through gates" in message for message in result.error_messages())
    use_case.refresh_from_db()
    assert use_case.lifecycle_stage.key == "proposed"
    assert "stage" in HEADER


def test_a_descriptor_cannot_set_a_stage(support_team, file_use_case, tmp_path):
    use_case = file_use_case(support_team, submit=True)
    (tmp_path / "bot.yaml").write_text(
        "apiVersion: propylon.dev/v1\nkind: AIUseCase\n"
        f"metadata:\n  key: {use_case.key}\n  name: {use_case.name}\n"
        f"spec:\n  purpose: {use_case.purpose}\n  owner: {{team: support-automation, accountable: lena}}\n"
        "  lifecycle: production\n  aiKind: generative\n  dataSensitivity: pii\n"
    )
    report = apply_descriptors(tmp_path, user=support_team.lead)
    assert not report.ok
    assert "stages move only through gates" in "\n".join(report.lines())
    use_case.refresh_from_db()
    assert use_case.lifecycle_stage.key == "proposed"
