"""Writes with rules for the catalog. Views, API, commands and jobs all call these."""

from collections.abc import Iterable

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.text import slugify
from guardian.shortcuts import assign_perm, remove_perm

from inventory.choices import OWNERSHIP_ROLES, AssetKindChoices, RiskTierChoices
from inventory.models import (
    BusinessUnit,
    Component,
    Dataset,
    DatasetVersion,
    DataSource,
    KeySequence,
    Model,
    ModelVersion,
    NotDuplicate,
    PromptTemplate,
    PromptVersion,
    Release,
    Team,
    UseCase,
)
from inventory.models.assets import ReleaseFrozen
from inventory.models.usecases import KEY_PREFIX, lifecycle_stage_model
from inventory.policies import may_file_for_team
from portal import audit
from portal.permissions import Action, can, can_add, restrict
from portal.roles import has_role

TEAM_LEAD_PERMISSION = "inventory.change_team"


#
# Business units
#


@transaction.atomic
def business_unit_create(*, name: str, slug: str = "", description: str = "", head=None) -> BusinessUnit:
    unit = BusinessUnit(name=name, slug=slug or slugify(name), description=description, head=head)
    unit.full_clean()
    unit.save()
    return unit


@transaction.atomic
def business_unit_update(*, unit: BusinessUnit, **changes) -> BusinessUnit:
    for name, value in changes.items():
        setattr(unit, name, value)
    unit.full_clean()
    unit.save()
    return unit


@transaction.atomic
def business_unit_delete(*, unit: BusinessUnit) -> None:
    if unit.teams.exists():
        raise ValidationError(
            f"“{unit.name}” still has {unit.teams.count()} team(s); move or delete them first."
        )
    unit.delete()


#
# Teams
#


@transaction.atomic
def team_create(
    *,
    name: str,
    business_unit: BusinessUnit,
    slug: str = "",
    description: str = "",
    lead=None,
    members: Iterable = (),
) -> Team:
    """Create a team with its permission group; the lead is always a member."""
    slug = slug or slugify(name)
    group, _ = Group.objects.get_or_create(name=Team.group_name_for(slug))
    team = Team(
        name=name, slug=slug, business_unit=business_unit, description=description, lead=lead, group=group
    )
    team.full_clean()
    team.save()
    team_set_members(team=team, members=[*members, *([lead] if lead else [])])
    _grant_lead_permission(team=team, previous_lead=None)
    return team


@transaction.atomic
def team_update(*, team: Team, members: Iterable | None = None, **changes) -> Team:
    """Change a team's fields (and, if given, its members); the lead's rights follow the lead."""
    previous_lead = team.lead
    slug_before = team.slug
    for name, value in changes.items():
        setattr(team, name, value)
    team.full_clean()
    team.save()
    if team.slug != slug_before:
        team.group.name = Team.group_name_for(team.slug)
        team.group.save(update_fields=["name"])
    if members is not None or team.lead != previous_lead:
        current = list(team.members.all()) if members is None else list(members)
        team_set_members(team=team, members=[*current, *([team.lead] if team.lead else [])])
    _grant_lead_permission(team=team, previous_lead=previous_lead)
    return team


@transaction.atomic
def team_set_members(*, team: Team, members: Iterable) -> Team:
    """Replace the membership; the team's group mirrors it so permissions follow people."""
    people = {person.pk: person for person in members if person is not None}
    team.members.set(people.values())
    team.group.user_set.set(people.values())
    return team


@transaction.atomic
def team_delete(*, team: Team) -> None:
    group = team.group
    try:
        team.delete()
    except ProtectedError as exc:
        raise ValidationError(f"“{team.name}” still owns records; reassign them first.") from exc
    group.delete()


def _grant_lead_permission(*, team: Team, previous_lead) -> None:
    if previous_lead is not None and previous_lead != team.lead:
        remove_perm(TEAM_LEAD_PERMISSION, previous_lead, team)
    if team.lead is not None:
        assign_perm(TEAM_LEAD_PERMISSION, team.lead, team)


#
# Use cases
#

USE_CASE_OPTIONAL_FIELDS = (
    "customer_facing",
    "human_oversight",
    "visibility",
    "technical_owner",
    "business_sponsor",
    "data_steward",
    "escalation_contact",
    "repository_url",
    "runbook_url",
    "dashboard_url",
    "tags",
    # A tier declared at intake or in the spreadsheet a portfolio starts from; afterwards only
    # the risk classification changes it, so it is not among the editable fields below.
    "risk_tier",
)
USE_CASE_EDITABLE_FIELDS = (
    "name",
    "purpose",
    "owning_team",
    "ai_kind",
    "data_sensitivity",
    "accountable_owner",
    *(field for field in USE_CASE_OPTIONAL_FIELDS if field != "risk_tier"),
)
OPTIONAL_PEOPLE_FIELDS = ("technical_owner", "business_sponsor", "data_steward", "escalation_contact")
INTAKE_STAGE_KEY = "proposed"


def normalise_tags(tags) -> list[str]:
    """Tags as a sorted list of unique lowercase words (a comma string is accepted too)."""
    if isinstance(tags, str):
        tags = tags.split(",")
    return sorted({str(tag).strip().lower() for tag in tags or () if str(tag).strip()})


def _check_owner_in_team(*, owner, team: Team) -> None:
    if owner is None:
        raise ValidationError({"accountable_owner": "Every use case needs an accountable owner."})
    if not owner.is_active:
        raise ValidationError({"accountable_owner": f"{owner.get_username()} is no longer active."})
    if not team.members.filter(pk=owner.pk).exists():
        raise ValidationError(
            {
                "accountable_owner": f"{owner.get_username()} is not a member of {team.name}; add them to the team first."
            }
        )


def _check_optional_people_active(fields: dict) -> None:
    """A newly named technical owner, sponsor, steward or contact must be someone who is here."""
    for field in OPTIONAL_PEOPLE_FIELDS:
        person = fields.get(field)
        if person is not None and not person.is_active:
            raise ValidationError({field: f"{person.get_username()} is no longer active."})


@transaction.atomic
def usecase_create(*, actor, name: str, purpose: str, owning_team: Team, accountable_owner, ai_kind: str,
                   data_sensitivity: str, submit: bool = False, key: str = "", **optional) -> UseCase:  # fmt: skip
    """File a use case. It stays a draft unless ``submit``: then it enters the lifecycle as proposed."""
    unknown = set(optional) - set(USE_CASE_OPTIONAL_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown use case field(s): {', '.join(sorted(unknown))}.")
    _check_owner_in_team(owner=accountable_owner, team=owning_team)
    _check_optional_people_active(optional)
    if "tags" in optional:
        optional["tags"] = normalise_tags(optional["tags"])
    if key:
        number = key.removeprefix(KEY_PREFIX)
        if not number.isdigit():
            raise ValidationError({"key": f"“{key}” is not a use case key like {KEY_PREFIX}0042."})
        KeySequence.advance_past("usecase", int(number))
    else:
        key = f"{KEY_PREFIX}{KeySequence.next_value('usecase'):04d}"
    now = timezone.now()
    use_case = UseCase(
        key=key,
        name=name,
        purpose=purpose,
        owning_team=owning_team,
        business_unit_id=owning_team.business_unit_id,
        accountable_owner=accountable_owner,
        ai_kind=ai_kind,
        data_sensitivity=data_sensitivity,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        created_at=now,
        updated_at=now,
        **optional,
    )
    use_case.full_clean()
    use_case.save()
    _grant_team_permissions(use_case=use_case, team=owning_team, previous_team=None)
    if submit:
        usecase_submit(use_case=use_case, actor=actor)
    return use_case


@transaction.atomic
def usecase_update(*, use_case, actor, **changes) -> UseCase:
    unknown = set(changes) - set(USE_CASE_EDITABLE_FIELDS)
    if unknown:
        raise ValidationError(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    previous_team = use_case.owning_team
    previous_owner_id = use_case.accountable_owner_id
    _check_optional_people_active(changes)
    if "tags" in changes:
        changes["tags"] = normalise_tags(changes["tags"])
    for field, value in changes.items():
        setattr(use_case, field, value)
    if use_case.owning_team_id != previous_team.pk:
        use_case.business_unit_id = use_case.owning_team.business_unit_id
    if use_case.owning_team_id != previous_team.pk or use_case.accountable_owner_id != previous_owner_id:
        _check_owner_in_team(owner=use_case.accountable_owner, team=use_case.owning_team)
    use_case.updated_at = timezone.now()
    use_case.full_clean()
    use_case.save()
    if use_case.owning_team_id != previous_team.pk:
        _grant_team_permissions(use_case=use_case, team=use_case.owning_team, previous_team=previous_team)
    return use_case


@transaction.atomic
def usecase_submit(*, use_case, actor) -> UseCase:
    """A draft enters the lifecycle at its first stage (proposed)."""
    if not use_case.is_draft:
        raise ValidationError(f"{use_case.key} was already submitted ({use_case.lifecycle_stage.label}).")
    stage = lifecycle_stage_model().objects.filter(key=INTAKE_STAGE_KEY).first()
    if stage is None:
        raise ValidationError("The lifecycle has no “proposed” stage; ask the CoE lead to restore it.")
    use_case.lifecycle_stage = stage
    use_case.submitted_at = use_case.updated_at = timezone.now()
    use_case.save(update_fields=["lifecycle_stage", "submitted_at", "updated_at"])
    return use_case


ONBOARDING_ROLES = ("admin", "coe-lead")  # portal.roles.Role.ADMIN, Role.COE_LEAD


@transaction.atomic
def usecase_onboard_at_stage(*, use_case, stage, actor) -> UseCase:
    """Put a use case that already runs (a pilot, a production system) at its real stage.

    Companies onboarding their portfolio have systems that never went through our gates; an
    administrator or CoE lead attests the stage. The trail records the attestation, and the use
    case shows “no approval on record” until it passes a gate.
    """

    if not has_role(actor, *ONBOARDING_ROLES):
        raise ValidationError(
            {"stage": "Only an administrator or a CoE lead may onboard a use case at a later stage."}
        )
    now = timezone.now()
    use_case.lifecycle_stage = stage
    use_case.onboarding_attested = True
    use_case.submitted_at = use_case.submitted_at or now
    use_case.updated_at = now
    use_case.save(update_fields=["lifecycle_stage", "onboarding_attested", "submitted_at", "updated_at"])
    audit.record(
        audit.AuditActionChoices.UPDATE,
        obj=use_case,
        message=(
            f"Attested onboarding: {use_case.key} entered the lifecycle at {stage.label} without a gate "
            f"approval, attested by {actor.get_username()}."
        ),
        extra={"attested_onboarding": True, "stage": stage.key},
    )
    return use_case


@transaction.atomic
def usecase_set_risk_tier(*, use_case, tier: str) -> UseCase:
    """Only the risk classification calls this (approvals.services.risk.risk_assessment_record):
    the tier follows the latest assessment, never a hand edit."""
    if tier not in RiskTierChoices.values():
        raise ValidationError({"risk_tier": f"“{tier}” is not a risk tier."})
    if use_case.risk_tier != tier:
        use_case.risk_tier = tier
        use_case.updated_at = timezone.now()
        use_case.save(update_fields=["risk_tier", "updated_at"])
    return use_case


@transaction.atomic
def usecase_reassign_owners(*, use_case, actor, **owners) -> UseCase:
    """The CoE's repair for orphaned use cases: new owners, recorded in the audit trail."""
    allowed = {field for field, _label, _help in OWNERSHIP_ROLES}
    unknown = set(owners) - allowed
    if unknown:
        raise ValidationError(f"Not an ownership role: {', '.join(sorted(unknown))}.")
    if "accountable_owner" in owners:
        _check_owner_in_team(owner=owners["accountable_owner"], team=use_case.owning_team)
    for field, person in owners.items():
        if person is not None and not person.is_active:
            raise ValidationError({field: f"{person.get_username()} is no longer active."})
        setattr(use_case, field, person)
    use_case.updated_at = timezone.now()
    use_case.full_clean()
    use_case.save()
    return use_case


@transaction.atomic
def usecase_delete(*, use_case) -> None:
    # The rule holds whoever calls (a page, the API, a script): submitted use cases are retired.
    if not use_case.is_draft:
        raise ValidationError(
            f"{use_case.key} is not a draft (it is at {use_case.lifecycle_stage.label}): only drafts "
            "are deleted; retire it instead."
        )
    if use_case.releases.filter(frozen_at__isnull=False).exists():
        raise ValidationError(
            f"{use_case.key} has releases used by approvals or deployments; retire it instead."
        )
    use_case.delete()


def _grant_team_permissions(*, use_case, team: Team, previous_team: Team | None) -> None:
    """The owning team's group holds view/change/delete on its use cases (django-guardian)."""
    for codename in ("view_usecase", "change_usecase", "delete_usecase"):
        if previous_team is not None:
            remove_perm(f"inventory.{codename}", previous_team.group, use_case)
        assign_perm(f"inventory.{codename}", team.group, use_case)


@transaction.atomic
def mark_not_duplicate(*, first, second, actor, reason: str = ""):
    """Record that two use cases only look alike; the duplicate finder stops pairing them.

    Callers pass use cases the person may see (selectors.use_case_for), so nobody learns
    about a restricted use case by marking it.
    """
    if first.pk == second.pk:
        raise ValidationError("A use case is not a duplicate of itself.")
    low, high = sorted((first, second), key=lambda use_case: use_case.pk)
    existing = NotDuplicate.objects.filter(first=low, second=high).first()
    if existing is not None:
        return existing
    pair = NotDuplicate(first=low, second=high, decided_by=actor, reason=reason.strip()[:300])
    pair.full_clean()
    pair.save()
    return pair


#
# What use cases are built from: assets, their versions, releases
#
# The pages and the API call these, so both check the same permissions (portal.permissions) and
# rules. ``actor=None`` is the system (demo, imports): it is trusted; a person is checked.


def _check(actor, allowed, message: str) -> None:
    if actor is not None and not allowed():
        raise PermissionDenied(message)


def _digest(value: str) -> str:
    """Digests as people paste them: ``sha256:`` prefixes and capitals are accepted."""
    value = (value or "").strip()
    return value.removeprefix("sha256:").lower() if value.lower().startswith("sha256:") else value.lower()


def asset_model(kind: str):
    models = {
        AssetKindChoices.MODEL: Model,
        AssetKindChoices.PROMPT: PromptTemplate,
        AssetKindChoices.DATASET: Dataset,
        AssetKindChoices.DATA_SOURCE: DataSource,
        AssetKindChoices.COMPONENT: Component,
    }
    if kind not in models:
        raise ValidationError(f"“{kind}” is not a kind of asset ({', '.join(AssetKindChoices.values())}).")
    return models[kind]


@transaction.atomic
def asset_create(*, actor, kind: str, owning_team: Team, name: str, slug: str = "", description: str = "",
                 sources=None, use_case=None, **fields):  # fmt: skip
    """Register a model, prompt template, dataset, data source or shared component for a team the
    actor belongs to. A component registered from a use case is attached to it."""
    model_class = asset_model(kind)
    _check(
        actor,
        lambda: can_add(actor, model_class) and may_file_for_team(actor, owning_team),
        f"You register assets only for teams you belong to, not {owning_team.name}.",
    )
    asset = model_class(
        owning_team=owning_team,
        name=name.strip(),
        slug=slug.strip() or slugify(name)[:80],
        description=description.strip(),
        **fields,
    )
    asset.full_clean()
    asset.save()
    if sources is not None:
        asset.sources.set(sources)
    if use_case is not None and kind == AssetKindChoices.COMPONENT:
        _check(actor, lambda: can(actor, Action.CHANGE, use_case), f"You may not change {use_case.key}.")
        use_case.components.add(asset)
    return asset


@transaction.atomic
def asset_update(*, actor, asset, sources=None, **changes):
    _check(actor, lambda: can(actor, Action.CHANGE, asset), f"You may not change {asset.name}.")
    if "owning_team" in changes and changes["owning_team"] != asset.owning_team:
        team = changes["owning_team"]
        _check(actor, lambda: may_file_for_team(actor, team), "You may move assets only to your teams.")
    for field, value in changes.items():
        setattr(asset, field, value)
    asset.full_clean()
    asset.save()
    if sources is not None:
        asset.sources.set(sources)
    return asset


def _check_parent(actor, parent) -> None:
    _check(
        actor,
        lambda: can(actor, Action.CHANGE, parent),
        f"Versions of {parent.name} are added by its owning team ({parent.owning_team.name}).",
    )


@transaction.atomic
def model_version_create(*, actor, model, version: str, artifact_uri: str = "", sha256: str = "",
                         registry_url: str = ""):  # fmt: skip
    _check_parent(actor, model)
    item = ModelVersion(model=model, version=version.strip(), artifact_uri=artifact_uri.strip(),
                        sha256=_digest(sha256), registry_url=registry_url.strip())  # fmt: skip
    item.full_clean()
    item.save()
    return item


@transaction.atomic
def prompt_version_create(*, actor, template, version: str, content: str):
    _check_parent(actor, template)
    item = PromptVersion(template=template, version=version.strip(), content=content)
    item.full_clean(exclude=["content_sha256"])  # computed on save from the content
    item.save()
    return item


@transaction.atomic
def dataset_version_create(*, actor, dataset, version: str, location: str = "", sha256: str = "",
                           lineage: str = "", derived_from=()):  # fmt: skip
    _check_parent(actor, dataset)
    item = DatasetVersion(dataset=dataset, version=version.strip(), location=location.strip(),
                          sha256=_digest(sha256), lineage=lineage.strip())  # fmt: skip
    item.full_clean()
    item.save()
    item.derived_from.set(derived_from)
    return item


@transaction.atomic
def version_update(*, actor, item, **changes):
    """Correct a version's fields. A version a frozen release pins is what an approval covered:
    its digest and location stay as they were (add a new version instead)."""
    parent = getattr(item, "model", None) or getattr(item, "template", None) or item.dataset
    _check_parent(actor, parent)
    derived_from = changes.pop("derived_from", None)
    if item.pk and item.releases.filter(frozen_at__isnull=False).exists():
        raise ReleaseFrozen(
            f"{item} is pinned by a frozen release ({item.releases.filter(frozen_at__isnull=False).first().version}); "
            "add a new version instead."
        )
    for field, value in changes.items():
        setattr(item, field, _digest(value) if field == "sha256" else value)
    item.full_clean(exclude=["content_sha256"] if isinstance(item, PromptVersion) else None)
    item.save()
    if derived_from is not None:
        item.derived_from.set(derived_from)
    return item


PIN_FIELDS = (
    ("model_versions", "model", "Model"),
    ("prompt_versions", "template", "Prompt"),
    ("dataset_versions", "dataset", "Dataset"),
)


def _check_pins(*, actor, pins: dict) -> None:
    """One version of each asset, and only versions the actor may see."""
    for field, parent_field, label in PIN_FIELDS:
        versions = list(pins.get(field) or ())
        if actor is not None and versions:
            model_class = type(versions[0])
            visible = set(
                restrict(model_class.objects.filter(pk__in=[v.pk for v in versions]), actor).values_list(
                    "pk", flat=True
                )
            )
            hidden = [v for v in versions if v.pk not in visible]
            if hidden:
                raise ValidationError({field: f"No {label.lower()} version {hidden[0].pk} that you may see."})
        seen = {}
        for item in versions:
            parent_id = getattr(item, f"{parent_field}_id")
            if parent_id in seen and seen[parent_id] != item.pk:
                raise ValidationError(
                    {field: f"A release pins one version of each {label.lower()}: "
                            f"{getattr(item, parent_field).name} is pinned twice."}
                )  # fmt: skip
            seen[parent_id] = item.pk


@transaction.atomic
def release_create(*, use_case, actor, version: str, code_ref: str, notes: str = "", model_versions=(),
                   prompt_versions=(), dataset_versions=()):  # fmt: skip
    """Assemble a release: one version of each model, prompt and dataset plus a code ref. The
    owning team (who may change the use case) assembles it."""
    _check(actor, lambda: can(actor, Action.CHANGE, use_case), f"You may not change {use_case.key}.")
    pins = {"model_versions": model_versions, "prompt_versions": prompt_versions,
            "dataset_versions": dataset_versions}  # fmt: skip
    _check_pins(actor=actor, pins=pins)
    release = Release(
        use_case=use_case,
        version=version.strip(),
        code_ref=code_ref.strip(),
        notes=notes.strip(),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    release.full_clean()
    release.save()
    for field, versions in pins.items():
        getattr(release, field).set(versions)
    return release


@transaction.atomic
def release_update(*, release, actor, **changes):
    """Change an open release. A frozen one (used by a gate request or a deployment) never
    changes: assemble a new release instead."""
    locked = Release.objects.select_for_update().get(pk=release.pk)
    if locked.is_frozen:
        raise ReleaseFrozen(
            f"Release {locked.version} was used by {locked.frozen_reason or 'an approval'} and cannot change; "
            "assemble a new release instead."
        )
    _check(actor, lambda: can(actor, Action.CHANGE, locked), f"You may not change release {locked.version}.")
    pins = {field: changes.pop(field) for field, _parent, _label in PIN_FIELDS if field in changes}
    unknown = set(changes) - {"version", "code_ref", "notes"}
    if unknown:
        raise ValidationError(f"These release fields cannot be changed: {', '.join(sorted(unknown))}.")
    _check_pins(actor=actor, pins=pins)
    for field, value in changes.items():
        setattr(locked, field, value.strip())
    locked.full_clean()
    locked.save()
    for field, versions in pins.items():
        getattr(locked, field).set(versions)
    return locked


@transaction.atomic
def release_freeze(*, release, reason: str):
    """Called by approvals and deployments: from now on the release never changes."""
    locked = Release.objects.select_for_update().get(pk=release.pk)
    if locked.frozen_at is None:
        locked.frozen_at = timezone.now()
        locked.frozen_reason = reason[:200]
        locked.save(update_fields=["frozen_at", "frozen_reason"])
    return locked
