"""Catalog as code: YAML descriptors, the sync that applies a folder, and its commands."""

from io import StringIO
from types import SimpleNamespace

import pytest
import yaml
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command

from approvals.models import LifecycleStage
from inventory.models import UseCase
from inventory.services.descriptors import (
    DescriptorError,
    apply_descriptors,
    descriptor_filename,
    dump_descriptor,
    parse_descriptor,
    use_case_to_descriptor,
)
from inventory.services.usecases import usecase_create
from inventory.testing import TeamFactory
from portal.choices import AuditActionChoices
from portal.models import AuditEntry
from portal.roles import Role

pytestmark = pytest.mark.django_db

CHATBOT = """\
apiVersion: propylon.dev/v1
kind: AIUseCase
metadata:
  name: Support chatbot
  tags: [support, genai]
  links: {repository: "https://git.example.com/support/bot", runbook: "https://wiki.example.com/bot"}
spec:
  purpose: |
    Answers customer questions from the help centre.
    Hands over to an agent when unsure.
  owner: {team: support-automation, accountable: lena, technical: priya}
  lifecycle: proposed
  aiKind: generative
  dataSensitivity: pii
  customerFacing: yes
  humanOversight: on_the_loop
  visibility: normal
"""

TRIAGE = """\
apiVersion: propylon.dev/v1
kind: AIUseCase
metadata:
  key: UC-0200
  name: Ticket triage
spec:
  purpose: Routes tickets to the right queue.
  owner:
    team: Support Automation
    accountable: lena@example.com
  aiKind: predictive
  dataSensitivity: internal
"""


@pytest.fixture
def org(make_user):
    lena = make_user("lena", Role.TEAM_LEAD, Role.TEAM_MEMBER, email="lena@example.com")
    priya = make_user("priya", Role.TEAM_MEMBER)
    omar = make_user("omar", Role.TEAM_LEAD, Role.TEAM_MEMBER)
    support = TeamFactory(name="Support Automation", slug="support-automation", lead=lena, members=[priya])
    legal = TeamFactory(name="Legal Tech", slug="legal-tech", lead=omar)
    return SimpleNamespace(lena=lena, priya=priya, omar=omar, support=support, legal=legal)


@pytest.fixture
def folder(tmp_path):
    def write(**files):
        for name, text in files.items():
            (tmp_path / name).write_text(text, encoding="utf-8")
        return tmp_path

    return write


def audit_count():
    return AuditEntry.objects.count()


def use_case_changes(use_case):
    return AuditEntry.objects.filter(
        action=AuditActionChoices.UPDATE,
        content_type=ContentType.objects.get_for_model(UseCase),
        object_id=use_case.pk,
    )


def test_a_folder_syncs_once_and_then_reports_everything_unchanged(org, folder):
    directory = folder(**{"support.yaml": CHATBOT, "triage.yml": TRIAGE, "README.md": "not a descriptor"})

    first = apply_descriptors(directory, user=org.lena)

    assert first.ok and first.applied
    assert [(o.file, o.status) for o in first.files] == [
        ("support.yaml", "created"),
        ("triage.yml", "created"),
    ]
    chatbot = UseCase.objects.get(name="Support chatbot")
    assert first.files[0].key == chatbot.key and first.files[0].key_assigned
    assert f"add “key: {chatbot.key}” under metadata" in "\n".join(first.lines())
    assert (
        chatbot.purpose
        == "Answers customer questions from the help centre.\nHands over to an agent when unsure."
    )
    assert (chatbot.technical_owner, chatbot.tags, chatbot.lifecycle_stage.key) == (
        org.priya,
        ["genai", "support"],
        "proposed",
    )
    assert (chatbot.customer_facing, chatbot.human_oversight) == (True, "on_the_loop")
    assert chatbot.runbook_url == "https://wiki.example.com/bot"
    assert UseCase.objects.get(key="UC-0200").is_draft
    entries = audit_count()

    second = apply_descriptors(directory, user=org.lena)

    assert second.ok and [o.status for o in second.files] == ["unchanged", "unchanged"]
    assert second.files[0].key == chatbot.key  # matched by team and name, no key in the file
    assert audit_count() == entries


def test_a_changed_descriptor_updates_only_the_fields_that_differ(org, folder):
    directory = folder(**{"triage.yaml": TRIAGE})
    apply_descriptors(directory, user=org.lena)
    triage = UseCase.objects.get(key="UC-0200")
    folder(**{"triage.yaml": TRIAGE.replace("Routes tickets", "Routes and tags tickets").replace(
        "  aiKind", "  lifecycle: proposed\n  aiKind")})  # fmt: skip

    report = apply_descriptors(directory, user=org.lena)

    [outcome] = report.files
    assert (outcome.status, outcome.key) == ("updated", "UC-0200")
    assert outcome.fields == ["spec.purpose", "spec.lifecycle"]
    triage.refresh_from_db()
    assert (
        triage.purpose == "Routes and tags tickets to the right queue."
        and triage.lifecycle_stage.key == "proposed"
    )
    [change] = use_case_changes(triage).exclude(changes__has_key="lifecycle_stage")
    assert set(change.changes) == {"purpose"}


def test_dump_parse_apply_round_trip_is_unchanged(org, tmp_path):
    use_case = usecase_create(
        actor=org.lena, name="Contract: summaries", purpose="Summarises contracts.\n\nFor the legal team.\n",
        owning_team=org.support, accountable_owner=org.lena, ai_kind="generative", data_sensitivity="confidential",
        technical_owner=org.priya, escalation_contact=org.lena, tags=["legal", "rag"], visibility="restricted",
        repository_url="https://git.example.com/legal/summaries", customer_facing=True,
    )  # fmt: skip
    UseCase.objects.filter(pk=use_case.pk).update(lifecycle_stage=LifecycleStage.objects.get(key="pilot"))
    use_case.refresh_from_db()

    text = dump_descriptor(use_case)

    assert "tags: [legal, rag]" in text and "purpose: |" in text
    assert yaml.safe_load(text) == use_case_to_descriptor(use_case)
    intent = parse_descriptor(text, source="summaries.yaml")
    assert (
        intent["key"] == use_case.key
        and intent["stage"] == "pilot"
        and intent["escalation_contact"] == "lena"
    )
    (tmp_path / descriptor_filename(use_case)).write_text(text)
    assert descriptor_filename(use_case) == f"{use_case.key}-contract-summaries.yaml"
    entries = audit_count()
    report = apply_descriptors(tmp_path, user=org.lena)
    assert [o.status for o in report.files] == ["unchanged"]
    assert audit_count() == entries


def test_a_bad_descriptor_names_file_and_field_and_nothing_is_written(org, folder):
    directory = folder(**{
        "a-good.yaml": CHATBOT,
        "support.yaml": TRIAGE.replace("lena@example.com", "lenna").replace("internal", "secret"),
    })  # fmt: skip
    before = UseCase.objects.count(), audit_count()

    report = apply_descriptors(directory, user=org.lena)

    assert not report.ok and not report.applied
    assert [o.status for o in report.files] == ["created", "error"]
    lines = "\n".join(report.lines())
    assert 'support.yaml: spec.owner.accountable: unknown person "lenna"' in lines
    assert (
        'support.yaml: spec.dataSensitivity: "secret" is not a data sensitivity; use one of: public' in lines
    )
    assert "Nothing written: 1 descriptor(s) failed" in lines
    assert (UseCase.objects.count(), audit_count()) == before


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (TRIAGE.replace("propylon.dev/v1", "backstage.io/v1alpha1"), "apiVersion: must be propylon.dev/v1"),
        (
            TRIAGE.replace("  name:", "  nmae:"),
            "metadata.nmae: unknown field; metadata has key, name, tags, links",
        ),
        (TRIAGE.replace("    accountable: lena@example.com\n", ""), "spec.owner.accountable: is required."),
        (TRIAGE.replace("  aiKind: predictive", "  aiKind: [predictive]"), "spec.aiKind: must be text"),
        (
            CHATBOT.replace("customerFacing: yes", "customerFacing: sometimes"),
            "spec.customerFacing: must be true or false",
        ),
        (
            CHATBOT.replace("  tags: [support, genai]", "  tags: {a: b}"),
            "metadata.tags: must be a list of words",
        ),
        (
            "apiVersion: propylon.dev/v1\nkind: AIUseCase\nmetadata: {name: [unclosed\n",
            "line 4, column 1: not valid YAML",
        ),
        ("- just\n- a list\n", "a descriptor is a mapping"),
        ("", "is empty"),
    ],
)
def test_parse_errors_name_the_file_and_the_field_path(text, expected):
    with pytest.raises(DescriptorError) as refused:
        parse_descriptor(text, source="support.yaml")
    assert f"support.yaml: {expected}" in str(refused.value)


def test_stages_move_only_through_gates(org, folder):
    directory = folder(**{"late.yaml": TRIAGE.replace("  aiKind", "  lifecycle: production\n  aiKind")})
    report = apply_descriptors(directory, user=org.lena)
    assert (
        'late.yaml: spec.lifecycle: a new use case cannot start at "production": stages move only through gates'
        in "\n".join(report.lines())
    )
    assert not UseCase.objects.exists()


def test_permissions_apply_to_descriptors(org, folder, make_user):
    theirs = usecase_create(
        actor=org.omar, name="Clause finder", purpose="Finds clauses.", owning_team=org.legal,
        accountable_owner=org.omar, ai_kind="predictive", data_sensitivity="confidential",
    )  # fmt: skip
    directory = folder(**{
        "theirs.yaml": dump_descriptor(theirs).replace("Finds clauses.", "Hijacked."),
        "other-team.yaml": TRIAGE.replace("Support Automation", "legal-tech").replace("lena@example.com", "omar"),
    })  # fmt: skip
    report = apply_descriptors(directory, user=org.lena)
    lines = "\n".join(report.lines())
    assert (
        f"theirs.yaml: metadata.key: {theirs.key} exists and belongs to Legal Tech; you may not change it."
        in lines
    )
    assert "other-team.yaml: spec.owner.team: you are not a member of Legal Tech" in lines
    auditor = make_user("aksel", Role.AUDITOR)
    assert all(o.status == "error" for o in apply_descriptors(directory, user=auditor).files)
    theirs.refresh_from_db()
    assert theirs.purpose == "Finds clauses." and UseCase.objects.count() == 1


#
# The commands
#


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_sync_command_reports_and_is_idempotent(org, folder, admin_user):
    directory = folder(**{"support.yaml": CHATBOT, "triage.yaml": TRIAGE})
    output = run("sync_descriptors", str(directory))
    assert "triage.yaml: created UC-0200" in output and "Synced 2 descriptor(s): 2 created" in output
    created = UseCase.objects.get(key="UC-0200")
    assert (
        AuditEntry.objects.filter(object_id=created.pk, action="create", content_type__model="usecase")
        .get()
        .actor_id
        == admin_user.pk
    )
    entries = audit_count()
    again = run("sync_descriptors", str(directory), "--as", "lena")
    assert "0 created, 0 updated, 2 unchanged, 0 failed" in again
    assert audit_count() == entries


def test_sync_command_fails_with_nothing_written(org, folder, admin_user):
    directory = folder(
        **{"support.yaml": CHATBOT, "triage.yaml": TRIAGE.replace("lena@example.com", "lenna")}
    )
    before = UseCase.objects.count(), audit_count()
    with pytest.raises(CommandError, match="1 descriptor failed; nothing was written"):
        run("sync_descriptors", str(directory))
    assert (UseCase.objects.count(), audit_count()) == before


def test_sync_dry_run_writes_nothing(org, folder, admin_user):
    directory = folder(**{"support.yaml": CHATBOT, "triage.yaml": TRIAGE})
    before = UseCase.objects.count(), audit_count()
    output = run("sync_descriptors", str(directory), "--dry-run")
    assert "support.yaml: would create (new key)" in output and "triage.yaml: would create UC-0200" in output
    assert "Dry run, nothing written: 2 to create" in output
    assert (UseCase.objects.count(), audit_count()) == before


def test_sync_command_needs_someone_to_act_as(org, folder):
    directory = folder(**{"triage.yaml": TRIAGE})
    with pytest.raises(CommandError, match="No active administrator exists"):
        run("sync_descriptors", str(directory))
    with pytest.raises(CommandError, match='No person has the username "nobody"'):
        run("sync_descriptors", str(directory), "--as", "nobody")
    with pytest.raises(CommandError, match="is not a folder"):
        run("sync_descriptors", str(directory / "missing"), "--as", "lena")


def test_export_descriptors_bootstraps_a_folder_that_syncs_unchanged(org, tmp_path, admin_user):
    for name, team, owner in [
        ("Support chatbot", org.support, org.lena),
        ("Clause finder", org.legal, org.omar),
    ]:
        usecase_create(actor=owner, name=name, purpose="Does things.", owning_team=team, accountable_owner=owner,
                       ai_kind="generative", data_sensitivity="internal", tags=["x"])  # fmt: skip
    output = run("export_descriptors", str(tmp_path / "repo"), "--team", "support-automation")
    assert "Wrote 1 descriptor(s)" in output
    assert sorted(p.name for p in (tmp_path / "repo").iterdir()) == ["UC-0001-support-chatbot.yaml"]
    run("export_descriptors", str(tmp_path / "all"))
    assert len(list((tmp_path / "all").iterdir())) == 2
    assert AuditEntry.objects.filter(action=AuditActionChoices.EXPORT, extra__format="yaml").count() == 2
    assert "2 unchanged, 0 failed" in run("sync_descriptors", str(tmp_path / "all"))
    with pytest.raises(CommandError, match='No team has the slug "nope"'):
        run("export_descriptors", str(tmp_path / "x"), "--team", "nope")


#
# Issue 10, item 30: aliases are refused and no message grows with the input
#

BILLION_LAUGHS = """\
apiVersion: propylon.dev/v1
kind: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
metadata: {name: *f}  # 9**6 strings: megabytes when printed (the real one went to gigabytes)
"""


def test_yaml_anchors_and_aliases_are_refused_with_a_clear_message():
    with pytest.raises(DescriptorError) as refused:
        parse_descriptor(BILLION_LAUGHS, "bomb.yaml")
    message = str(refused.value)
    assert message.startswith("bomb.yaml: line 2, column 7: YAML anchors and aliases")
    assert len(message) < 300

    with pytest.raises(DescriptorError, match="anchors and aliases"):
        parse_descriptor(CHATBOT.replace("  purpose: |", "  purpose: &p |") + "x: *p\n", "plain.yaml")


def test_a_huge_value_is_cut_short_in_the_message():
    huge = CHATBOT.replace("kind: AIUseCase", "kind: " + "A" * 200_000)
    with pytest.raises(DescriptorError) as refused:
        parse_descriptor(huge, "huge.yaml")
    message = str(refused.value)
    assert 'kind: must be AIUseCase (found "AAAA' in message and "…" in message
    assert len(message) < 300
