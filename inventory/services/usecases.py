"""Writes with rules for use cases: filing, editing, submitting, onboarding at a later stage,
the risk tier, reassigning owners, deleting, and "not a duplicate". Views, API, commands and
jobs all call these."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from guardian.shortcuts import assign_perm, remove_perm

from inventory.choices import OWNERSHIP_ROLES, RiskTierChoices
from inventory.models import (
    KeySequence,
    NotDuplicate,
    Team,
    UseCase,
)
from inventory.models.usecases import KEY_PREFIX, lifecycle_stage_model
from portal import audit
from portal.roles import has_role

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
