"""Writes with rules for what use cases are built from: assets, their versions, releases.

The pages and the API call these, so both check the same permissions (portal.permissions) and
rules. ``actor=None`` is the system (demo, imports): it is trusted; a person is checked."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from inventory.choices import AssetKindChoices
from inventory.models import (
    Component,
    Dataset,
    DatasetVersion,
    DataSource,
    Model,
    ModelVersion,
    PromptTemplate,
    PromptVersion,
    Release,
    Team,
)
from inventory.models.assets import ReleaseFrozen
from inventory.policies import may_file_for_team
from portal.permissions import Action, can, can_add, restrict


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
