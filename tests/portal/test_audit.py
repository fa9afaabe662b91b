"""The audit trail: what is recorded, who it is attributed to, and that it cannot be rewritten."""

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from inventory.models import BusinessUnit, Team
from inventory.services.organisation import business_unit_update, team_update
from inventory.testing import BusinessUnitFactory, TeamFactory
from portal import audit
from portal.audit import audit_context, verify_chain
from portal.choices import ActorKindChoices, AuditActionChoices, ChannelChoices
from portal.models import AppendOnlyError, AuditEntry, User
from portal.roles import Role
from portal.services import api_token_create
from portal.testing.factories import UserFactory

pytestmark = pytest.mark.django_db
REPO_ROOT = Path(__file__).resolve().parents[2]


def entries_for(obj):
    return AuditEntry.objects.filter(object_id=str(obj.pk), object_repr=str(obj)).order_by("id")


def test_create_update_delete_are_recorded_field_by_field():
    unit = BusinessUnitFactory(name="Finance", slug="finance")
    created = AuditEntry.objects.get(action=AuditActionChoices.CREATE, object_repr="Finance")
    assert created.changes["name"] == {"before": None, "after": "Finance"}
    business_unit_update(unit=unit, description="Planning and accounting")
    updated = AuditEntry.objects.filter(action=AuditActionChoices.UPDATE, object_id=str(unit.pk)).get()
    assert updated.changes == {"description": {"before": "", "after": "Planning and accounting"}}
    pk = unit.pk
    unit.delete()
    deleted = AuditEntry.objects.get(action=AuditActionChoices.DELETE, object_id=str(pk))
    assert deleted.changes["name"] == {"before": "Finance", "after": None}
    assert deleted.content_type.model == "businessunit"


def test_saving_without_a_change_records_nothing():
    unit = BusinessUnitFactory()
    before = AuditEntry.objects.count()
    unit.save()
    assert AuditEntry.objects.count() == before


def test_membership_changes_are_recorded(team_lead, team_member):
    team = TeamFactory(lead=team_lead)
    team_update(team=team, members=[team_lead, team_member])
    change = (
        AuditEntry.objects.filter(object_id=str(team.pk), changes__has_key="members").order_by("id").last()
    )
    assert change.changes["members"]["after"] == sorted([team_lead.pk, team_member.pk])


def test_role_changes_and_secrets(team_member):
    team_member.groups.add(Group.objects.get(name=Role.COE_REVIEWER))
    entry = (
        AuditEntry.objects.filter(object_id=str(team_member.pk), changes__has_key="groups")
        .order_by("id")
        .last()
    )
    assert Group.objects.get(name=Role.COE_REVIEWER).pk in entry.changes["groups"]["after"]
    team_member.set_password("a new long password")
    team_member.save()
    entry = (
        AuditEntry.objects.filter(object_id=str(team_member.pk), changes__has_key="password")
        .order_by("id")
        .last()
    )
    assert entry.changes["password"] == {"before": "[hidden]", "after": "[hidden]"}
    assert "pbkdf2" not in str(AuditEntry.objects.values_list("changes", flat=True))
    assert "md5" not in str(AuditEntry.objects.values_list("changes", flat=True))


def test_bulk_operations_do_not_slip_past():
    first, second = BusinessUnitFactory(), BusinessUnitFactory()
    BusinessUnit.objects.filter(pk__in=[first.pk, second.pk]).update(description="Bulk")
    bulk_updates = AuditEntry.objects.filter(action=AuditActionChoices.UPDATE, extra__bulk=True)
    assert {e.object_id for e in bulk_updates} == {str(first.pk), str(second.pk)}
    assert bulk_updates.first().changes == {"description": {"before": "", "after": "Bulk"}}

    created = BusinessUnit.objects.bulk_create([BusinessUnit(name="Bulk A", slug="bulk-a")])
    assert AuditEntry.objects.filter(
        action=AuditActionChoices.CREATE, object_repr="Bulk A", extra__bulk=True
    ).exists()

    created[0].description = "Changed in bulk"
    BusinessUnit.objects.bulk_update(created, ["description"])
    assert AuditEntry.objects.filter(
        action=AuditActionChoices.UPDATE, object_repr="Bulk A", changes__description__after="Changed in bulk"
    ).exists()

    BusinessUnit.objects.filter(slug="bulk-a").delete()
    assert AuditEntry.objects.filter(action=AuditActionChoices.DELETE, object_repr="Bulk A").exists()


def test_a_bulk_update_of_unrecorded_fields_writes_nothing(team_member):
    before = AuditEntry.objects.count()
    User.objects.filter(pk=team_member.pk).update(last_login="2026-01-01T00:00:00Z")
    assert AuditEntry.objects.count() == before


def test_ui_changes_are_attributed_to_the_person_and_request(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("inventory:business-unit-add"), {"name": "People", "slug": "people"})
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action=AuditActionChoices.CREATE, object_repr="People")
    assert (entry.actor, entry.actor_kind, entry.channel) == (
        admin_user,
        ActorKindChoices.USER,
        ChannelChoices.UI,
    )
    assert str(entry.request_id) == response["X-Request-ID"]


def test_api_changes_through_a_token_are_attributed_to_the_token(admin_user):
    token, key = api_token_create(user=admin_user, name="automation", scopes=["read", "write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.post("/api/business-units/", {"name": "Legal", "slug": "legal"}, format="json")
    assert response.status_code == 201
    entry = AuditEntry.objects.get(action=AuditActionChoices.CREATE, object_repr="Legal")
    assert (entry.token_id, entry.actor, entry.channel) == (token.pk, admin_user, ChannelChoices.API)
    assert entry.actor_label == f"{admin_user.username} (token “automation”)"
    used = AuditEntry.objects.get(action=AuditActionChoices.TOKEN_USED)
    assert used.token_id == token.pk and used.extra["path"] == "/api/business-units/"


def test_changes_made_by_a_job_are_attributed_to_the_job(run_job, admin_user):
    from portal.jobs import JobContext, job

    @job(name="tests.rename_unit", label="Rename unit")
    def rename_unit(run: JobContext, *, slug: str) -> dict:
        unit = BusinessUnit.objects.get(slug=slug)
        business_unit_update(unit=unit, name="Renamed by a job")
        return {}

    unit = BusinessUnitFactory(slug="to-rename")
    run = run_job(rename_unit, actor=admin_user, slug=unit.slug)
    entry = AuditEntry.objects.get(
        action=AuditActionChoices.UPDATE, object_id=str(unit.pk), content_type__model="businessunit"
    )
    assert (entry.actor_kind, entry.channel, entry.job_run_id, entry.actor) == (
        ActorKindChoices.JOB,
        ChannelChoices.JOB,
        run.pk,
        admin_user,
    )
    assert entry.actor_label == f"job “Rename unit” #{run.pk} for {admin_user.username}"


def test_commands_record_their_actor_through_the_context_manager():
    with audit_context(channel=ChannelChoices.COMMAND, label="propylon sync (as ops)"):
        unit = BusinessUnitFactory()
    entry = AuditEntry.objects.get(
        action=AuditActionChoices.CREATE, object_id=str(unit.pk), content_type__model="businessunit"
    )
    assert (entry.actor_kind, entry.channel, entry.actor_label) == (
        ActorKindChoices.COMMAND,
        ChannelChoices.COMMAND,
        "propylon sync (as ops)",
    )


def test_the_propylon_cli_attributes_changes_to_the_command(tmp_path):
    env = {**os.environ, "PROPYLON_DATA_DIR": str(tmp_path), "DATABASE_URL": "", "CELERY_BROKER_URL": ""}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    run = [sys.executable, "-m", "portal.cli"]
    subprocess.run([*run, "migrate", "-v0"], cwd=REPO_ROOT, env=env, check=True, timeout=180)
    script = (
        "from inventory.services.organisation import business_unit_create as c; c(name='From the shell');"
        "from portal.models import AuditEntry as A; e=A.objects.get(object_repr='From the shell');"
        "print(e.channel, e.actor_kind, e.actor_label)"
    )
    out = (
        subprocess.run(
            [*run, "shell", "-c", script], cwd=REPO_ROOT, env=env, check=True, capture_output=True, text=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    assert out.startswith("command command propylon shell (as ")


def test_sign_in_sign_out_and_failures_are_recorded(client, team_lead):
    client.post(reverse("login"), {"username": team_lead.username, "password": "wrong"})
    failed = AuditEntry.objects.get(action=AuditActionChoices.LOGIN_FAILED)
    assert failed.extra == {"username": team_lead.username, "ip": "127.0.0.1"}
    assert failed.actor_kind == ActorKindChoices.ANONYMOUS
    client.post(reverse("login"), {"username": team_lead.username, "password": "correct-horse-battery"})
    login = AuditEntry.objects.get(action=AuditActionChoices.LOGIN)
    assert (login.actor, login.object_id) == (team_lead, str(team_lead.pk))
    client.post(reverse("logout"))
    assert AuditEntry.objects.get(action=AuditActionChoices.LOGOUT).actor == team_lead


def test_the_chain_links_every_entry_and_verifies():
    for index in range(5):
        BusinessUnitFactory(name=f"Unit {index}")
    entries = list(AuditEntry.objects.order_by("id"))
    assert entries[0].prev_hash == audit.GENESIS_HASH
    for previous, entry in itertools.pairwise(entries):
        assert entry.prev_hash == previous.entry_hash
    result = verify_chain()
    assert result.intact and result.checked == len(entries)
    assert result.head_hash == entries[-1].entry_hash


def test_entries_cannot_be_changed_or_deleted_through_the_application():
    BusinessUnitFactory()
    entry = AuditEntry.objects.first()
    entry.message = "rewritten"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().update(message="rewritten")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()


def _raw_sql(sql: str, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _tamper(sql: str, params=()):
    """Rewrite the trail behind the application's back, as an attacker with SQL access would."""
    if connection.vendor == "postgresql":
        with transaction.atomic():
            _raw_sql("ALTER TABLE portal_auditentry DISABLE TRIGGER portal_auditentry_append_only")
            _raw_sql(sql, params)
            _raw_sql("ALTER TABLE portal_auditentry ENABLE TRIGGER portal_auditentry_append_only")
    else:
        _raw_sql(sql, params)


def test_verify_names_an_altered_entry(capsys):
    for index in range(4):
        BusinessUnitFactory(name=f"Unit {index}")
    victim = AuditEntry.objects.order_by("id")[2]
    _tamper("UPDATE portal_auditentry SET object_repr = %s WHERE id = %s", ["Nothing to see", victim.pk])
    result = verify_chain()
    assert not result.intact
    assert result.broken_entry_id == victim.pk
    assert "altered" in result.reason
    with pytest.raises(CommandError, match=f"broken at entry #{victim.pk}: its content does not match"):
        call_command("verify_audit_trail")


def test_verify_names_the_entry_after_a_removed_one():
    for index in range(4):
        BusinessUnitFactory(name=f"Unit {index}")
    ids = list(AuditEntry.objects.order_by("id").values_list("id", flat=True))
    _tamper("DELETE FROM portal_auditentry WHERE id = %s", [ids[1]])
    result = verify_chain()
    assert (result.intact, result.broken_entry_id, result.checked) == (False, ids[2], 1)
    assert "removed or rewritten" in result.reason


def test_verify_command_and_api_report_intact(capsys, auditor):
    BusinessUnitFactory()
    call_command("verify_audit_trail")
    assert f"Audit trail intact: {AuditEntry.objects.count()} entries" in capsys.readouterr().out
    client = APIClient()
    client.force_authenticate(auditor)
    body = client.get("/api/audit/verify/").json()
    assert body["status"] == "intact" and body["checked"] == AuditEntry.objects.count()


def test_the_verify_api_reports_the_broken_entry(auditor):
    BusinessUnitFactory()
    BusinessUnitFactory()
    victim = AuditEntry.objects.order_by("id").first()
    _tamper("UPDATE portal_auditentry SET message = %s WHERE id = %s", ["edited", victim.pk])
    client = APIClient()
    client.force_authenticate(auditor)
    body = client.get("/api/audit/verify/").json()
    assert (body["status"], body["broken_entry_id"]) == ("broken", victim.pk)


@pytest.mark.postgres
def test_postgres_trigger_refuses_update_and_delete():
    from django.db.utils import DatabaseError

    BusinessUnitFactory()
    entry = AuditEntry.objects.first()
    for statement in (
        "UPDATE portal_auditentry SET message = 'x' WHERE id = %s",
        "DELETE FROM portal_auditentry WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="the audit trail is append-only"), transaction.atomic():
            _raw_sql(statement, [entry.pk])
    assert verify_chain().intact


def test_the_verify_job_records_the_result(run_job):
    from portal.tasks import verify_audit_trail

    BusinessUnitFactory()
    run = run_job(verify_audit_trail)
    assert run.result["status"] == "intact"
    assert run.result["checked"] >= 1


def test_team_and_guardian_grants_are_recorded(team_lead, make_user):
    other = make_user("omar", Role.TEAM_LEAD)
    team = TeamFactory(lead=team_lead)
    team_update(team=team, lead=other)
    grants = AuditEntry.objects.filter(content_type__model="userobjectpermission")
    assert grants.filter(action=AuditActionChoices.CREATE).count() == 2
    assert grants.filter(action=AuditActionChoices.DELETE).count() == 1
    assert Team.objects.get(pk=team.pk).lead == other


def test_user_factory_sees_no_leak():
    # UserFactory uses the audited manager; creating people is recorded too.
    person = UserFactory(username="newcomer")
    assert AuditEntry.objects.filter(action=AuditActionChoices.CREATE, object_id=str(person.pk)).exists()


def test_the_chain_is_verified_nightly():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="portal.verify_audit_trail")
    assert task.enabled and task.crontab.hour == "2"


def test_a_broken_chain_fails_the_verify_job_so_operators_are_alerted(run_job):
    from portal.tasks import verify_audit_trail

    BusinessUnitFactory()
    BusinessUnitFactory()
    victim = AuditEntry.objects.order_by("id").first()
    _tamper("UPDATE portal_auditentry SET message = %s WHERE id = %s", ["edited", victim.pk])
    run = run_job(verify_audit_trail)
    assert run.status == "failed"
    assert run.error.startswith(f"Audit trail broken at entry #{victim.pk}")


def test_someone_who_is_admin_and_auditor_only_views_in_the_admin_site(make_user, client):
    both = make_user("both", Role.ADMIN, Role.AUDITOR)
    client.force_login(both)
    assert client.get("/admin/costs/costsource/").status_code == 200
    assert client.get("/admin/costs/costsource/add/").status_code == 403


#
# Signed checkpoints of the head, and TRUNCATE (issue 10, #35)
#


def _checkpointed_trail(entries: int = 4):
    for index in range(entries):
        BusinessUnitFactory(name=f"Unit {index}")
    return audit.write_checkpoint()


def test_a_checkpoint_signs_the_head_outside_the_database(settings):
    checkpoint = _checkpointed_trail()
    head = AuditEntry.objects.order_by("-id").first()
    assert (checkpoint.entry_id, checkpoint.entry_hash, checkpoint.count) == (
        head.pk,
        head.entry_hash,
        AuditEntry.objects.count(),
    )
    files = list(Path(settings.PROPYLON_AUDIT_CHECKPOINT_DIR).glob("checkpoint-*.json"))
    assert [f.name for f in files] == [checkpoint.file_name]
    assert checkpoint.signature_valid
    # Nothing new: no second file. Something new: a new checkpoint after the old one.
    assert audit.write_checkpoint() == audit.latest_checkpoint()
    BusinessUnitFactory(name="Later")
    newer = audit.write_checkpoint()
    assert newer.entry_id > checkpoint.entry_id
    assert audit.latest_checkpoint().entry_id == newer.entry_id
    result = verify_chain()
    assert result.intact and result.checkpoint["entry_id"] == newer.entry_id
    assert "matches the checkpoint of" in result.summary()


def test_deleting_the_newest_entries_is_detected_against_the_checkpoint(capsys, auditor, run_job):
    """Before, a superuser deleting the tail left a shorter chain that verified "intact"."""
    from portal.tasks import verify_audit_trail

    checkpoint = _checkpointed_trail()
    ids = list(AuditEntry.objects.order_by("id").values_list("id", flat=True))
    _tamper("DELETE FROM portal_auditentry WHERE id >= %s", [ids[-2]])
    result = verify_chain()
    assert not result.intact
    assert result.deleted_tail_entries == 2
    assert "entries were deleted from the end of the trail" in result.reason
    assert f"counted {checkpoint.count} entries up to #{checkpoint.entry_id}" in result.reason
    with pytest.raises(CommandError, match="entries were deleted from the end"):
        call_command("verify_audit_trail")
    client = APIClient()
    client.force_authenticate(auditor)
    body = client.get("/api/audit/verify/").json()
    assert (body["status"], body["deleted_tail_entries"]) == ("broken", 2)
    assert body["checkpoint"]["entry_hash"] == checkpoint.entry_hash
    run = run_job(verify_audit_trail)
    assert run.status == "failed" and "deleted from the end" in run.error
    # A tampered tail is reported, never anchored by a new checkpoint.
    with pytest.raises(audit.CheckpointError, match="not writing a checkpoint"):
        audit.write_checkpoint()


def test_deleting_the_tail_then_writing_on_is_still_detected():
    checkpoint = _checkpointed_trail()
    _tamper("DELETE FROM portal_auditentry WHERE id = %s", [checkpoint.entry_id])
    BusinessUnitFactory(name="Written after the deletion")  # links to the new, shorter head
    result = verify_chain()
    assert not result.intact and "deleted from the end" in result.reason


def test_a_forged_or_unreadable_checkpoint_is_reported_not_trusted(settings):
    checkpoint = _checkpointed_trail()
    path = Path(settings.PROPYLON_AUDIT_CHECKPOINT_DIR) / checkpoint.file_name
    forged = json.loads(path.read_text())
    forged["count"] = 1
    path.write_text(json.dumps(forged))
    result = verify_chain()
    assert not result.intact and "does not carry a valid signature" in result.reason
    path.write_text("{not json")
    result = verify_chain()
    assert not result.intact and "cannot be read" in result.reason


def test_the_checkpoint_task_is_scheduled_and_writes_one():
    from django_celery_beat.models import PeriodicTask

    from portal.tasks import checkpoint_audit_trail

    task = PeriodicTask.objects.get(task="portal.checkpoint_audit_trail")
    assert task.enabled and (task.interval.every, task.interval.period) == (15, "minutes")
    BusinessUnitFactory()
    assert checkpoint_audit_trail.apply().get() == AuditEntry.objects.order_by("-id").first().pk
    assert audit.latest_checkpoint().count == AuditEntry.objects.count()


def test_the_checkpoint_command(capsys):
    call_command("checkpoint_audit_trail")
    assert "nothing to checkpoint" in capsys.readouterr().out
    BusinessUnitFactory()
    call_command("checkpoint_audit_trail")
    assert f"entry #{AuditEntry.objects.order_by('-id').first().pk}" in capsys.readouterr().out


def test_exports_carry_the_latest_checkpoint(login, auditor):
    import csv
    import io

    checkpoint = _checkpointed_trail(2)
    client = login(auditor)
    body = json.loads(b"".join(client.get("/audit/export.json").streaming_content))
    assert body["checkpoint"] == checkpoint.as_dict()
    assert any(entry["entry_hash"] == checkpoint.entry_hash for entry in body["entries"])
    text = b"".join(client.get("/audit/export.csv").streaming_content).decode().lstrip("\ufeff")
    last = list(csv.DictReader(io.StringIO(text)))[-1]
    assert (last["id"], last["action"], last["entry_hash"]) == ("", "checkpoint", checkpoint.entry_hash)
    assert json.loads(last["extra"]) == checkpoint.as_dict()


@pytest.mark.postgres
def test_postgres_trigger_refuses_truncate():
    from django.db.utils import DatabaseError

    BusinessUnitFactory()
    # The test database runs with it off (tests/conftest.py); on for this transaction only.
    _raw_sql("ALTER TABLE portal_auditentry ENABLE TRIGGER portal_auditentry_refuse_truncate")
    with pytest.raises(DatabaseError, match="TRUNCATE on portal_auditentry refused"), transaction.atomic():
        _raw_sql("TRUNCATE portal_auditentry")
    assert AuditEntry.objects.exists()


def _offline_script(tmp_path) -> Path:
    """The verification script exactly as docs/audit-trail.md prints it."""
    text = (REPO_ROOT / "docs" / "audit-trail.md").read_text()
    start = text.index('```python\n"""Verify a JSON export') + len("```python\n")
    script = tmp_path / "verify_audit_export.py"
    script.write_text(text[start : text.index("```", start)])
    return script


def test_the_documented_offline_script_checks_the_export_s_checkpoint(login, auditor, settings, tmp_path):
    settings.PROPYLON_AUDIT_CHECKPOINT_KEY = "offline-test-key"
    checkpoint = _checkpointed_trail(3)
    client = login(auditor)
    export = tmp_path / "export.json"

    def export_and_check(key: str):
        export.write_bytes(b"".join(client.get("/audit/export.json").streaming_content))
        env = {**os.environ, "PROPYLON_AUDIT_CHECKPOINT_KEY": key}
        return subprocess.run(
            [sys.executable, str(_offline_script(tmp_path)), str(export)],
            capture_output=True,
            text=True,
            env=env,
        )

    good = export_and_check("offline-test-key")
    assert good.returncode == 0, good.stderr
    assert f"(entry {checkpoint.entry_id}) matches" in good.stdout
    assert "the checkpoint's signature does not verify" in export_and_check("another-key").stderr
    # The newest entries deleted in the database: the export no longer holds the signed head.
    _tamper("DELETE FROM portal_auditentry WHERE id >= %s", [checkpoint.entry_id])
    gone = export_and_check("offline-test-key")
    assert gone.returncode == 1
    assert f"entry {checkpoint.entry_id} is not in the export as signed" in gone.stderr
