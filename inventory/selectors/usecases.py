"""Reads of the catalog that reach a person, always through portal.permissions.restrict."""

from django.db.models import Count, Q, QuerySet

from inventory.choices import AssetKindChoices
from inventory.filtersets import UseCaseFilterSet
from inventory.models import Component, Dataset, DataSource, Model, PromptTemplate, UseCase
from inventory.services.usecases import OPTIONAL_PEOPLE_FIELDS
from portal.permissions import Action, get_restricted_object_or_404, restrict


def use_cases_visible_to(user, *, ownership_health: bool = True) -> QuerySet:
    queryset = restrict(UseCase.objects.all(), user).select_related(
        "owning_team", "business_unit", "lifecycle_stage", "accountable_owner"
    )
    return queryset.with_ownership_health() if ownership_health else queryset


def use_case_list(*, user, params, ownership_health: bool = True) -> tuple[UseCaseFilterSet, QuerySet]:
    """The filtered list the page, the API and the exports share.

    A paginated page passes ``ownership_health=False`` and calls :func:`attach_ownership_health`
    on the page's rows: annotated in the query, the check runs for every row OFFSET skips
    (31 ms for page 50 of 5,000 use cases, docs/benchmarks.md).
    """
    base = use_cases_visible_to(user, ownership_health=ownership_health)
    filterset = UseCaseFilterSet(params, queryset=base)
    queryset = filterset.qs if filterset.is_valid() else base.none()
    if not params.get("sort"):
        queryset = queryset.order_by("key")
    return filterset, queryset


def attach_ownership_health(use_cases: list[UseCase]) -> None:
    """Set ``is_orphaned`` on fetched use cases that lack it, in one query."""
    missing = {use_case.pk: use_case for use_case in use_cases if not hasattr(use_case, "is_orphaned")}
    if not missing:
        return
    health = dict(
        UseCase.objects.filter(pk__in=missing).with_ownership_health().values_list("pk", "is_orphaned")
    )
    for pk, use_case in missing.items():
        use_case.is_orphaned = health.get(pk, False)


def use_case_for(*, user, key: str, action: str = Action.VIEW) -> UseCase:
    return get_restricted_object_or_404(
        # Optional people are prefetched rather than joined: see UseCaseViewSet.queryset.
        UseCase.objects.select_related("owning_team", "business_unit", "lifecycle_stage", "accountable_owner")
        .prefetch_related(*OPTIONAL_PEOPLE_FIELDS, "created_by")
        .with_ownership_health(),
        user,
        action,
        key=key.upper(),
    )


def portfolio_counts(*, user) -> dict:
    """Headline numbers of the visible portfolio, in one query."""
    return restrict(UseCase.objects.all(), user).aggregate(
        total=Count("pk"),
        drafts=Count("pk", filter=Q(lifecycle_stage__isnull=True)),
        production=Count("pk", filter=Q(lifecycle_stage__kind="production")),
        high_risk=Count("pk", filter=Q(risk_tier__in=["high", "prohibited"])),
    )


def releases_with_changes(use_case) -> list:
    """The use case's releases, newest first, each with ``previous`` (the release before it) and
    ``changes``: what it pins differently from that one, so reviewers see what a gate covers
    that the last one did not. The releases' pins are prefetched: one query per kind."""
    releases = list(
        use_case.releases.order_by("-created_at", "-pk").prefetch_related(
            "model_versions__model", "prompt_versions__template", "dataset_versions__dataset"
        )
    )
    for index, release in enumerate(releases):
        release.previous = releases[index + 1] if index + 1 < len(releases) else None
        release.changes = release_changes(release, release.previous)
    return releases


def _pins_by_asset(release) -> dict:
    pins = {}
    if release is None:
        return pins
    for label, versions, parent in (
        ("Model", release.model_versions.all(), "model"),
        ("Prompt", release.prompt_versions.all(), "template"),
        ("Dataset", release.dataset_versions.all(), "dataset"),
    ):
        for item in versions:
            asset = getattr(item, parent)
            pins[(label, asset.pk)] = (asset.name, item)
    return pins


def release_changes(release, previous) -> list[dict]:
    """Rows of what changed from ``previous`` to ``release``: code ref, then each pinned asset
    added, removed or moved to another version (unchanged pins are left out)."""
    rows = []
    if previous is not None and previous.code_ref != release.code_ref:
        rows.append({"kind": "Code", "name": "code ref", "change": "changed",
                     "before": previous.code_ref, "after": release.code_ref})  # fmt: skip
    before, after = _pins_by_asset(previous), _pins_by_asset(release)
    for key in sorted(before.keys() | after.keys(), key=lambda k: (k[0], (after.get(k) or before[k])[0])):
        old, new = before.get(key), after.get(key)
        if old and new and old[1].pk == new[1].pk:
            continue
        rows.append({
            "kind": key[0],
            "name": (new or old)[0],
            "change": "changed" if old and new else "added" if new else "removed",
            "before": old[1].version if old else "",
            "after": new[1].version if new else "",
        })  # fmt: skip
    return rows


def built_from(*, user, use_case) -> list[dict]:
    """What the Releases tab lists to pin: per kind, the owning team's assets and those the use
    case's releases pin (a shared model of another team included), with their latest versions."""

    pinned = {
        Model: use_case.releases.values("model_versions__model"),
        PromptTemplate: use_case.releases.values("prompt_versions__template"),
        Dataset: use_case.releases.values("dataset_versions__dataset"),
    }
    sections = []
    for kind, model_class in (
        (AssetKindChoices.MODEL, Model),
        (AssetKindChoices.PROMPT, PromptTemplate),
        (AssetKindChoices.DATASET, Dataset),
        (AssetKindChoices.DATA_SOURCE, DataSource),
        (AssetKindChoices.COMPONENT, Component),
    ):
        mine = Q(owning_team=use_case.owning_team)
        if model_class in pinned:
            mine |= Q(pk__in=pinned[model_class])
        if model_class is Component:
            mine |= Q(pk__in=use_case.components.values("pk"))
        assets = restrict(model_class.objects.all(), user).filter(mine).select_related("owning_team")
        if kind in AssetKindChoices.VERSIONED:
            assets = assets.prefetch_related("versions")
        items = list(assets.order_by("name")[:50])
        changeable = set(
            restrict(model_class.objects.filter(pk__in=[asset.pk for asset in items]), user, Action.CHANGE)
            .values_list("pk", flat=True)
        )  # fmt: skip
        for asset in items:
            asset.may_add_version = kind in AssetKindChoices.VERSIONED and asset.pk in changeable
        sections.append({"kind": kind, "label": AssetKindChoices.label(kind), "assets": items})
    return sections
