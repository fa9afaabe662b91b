"""The Releases tab's forms: register what a use case is built from, add versions, assemble and
correct releases. The owning team (who may change the use case) does this; everyone else gets
the choke point's 404 (cannot see it) or 403 (may not change it)."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.urls import reverse

from inventory.choices import AssetKindChoices
from inventory.forms import AssetForm, ReleaseForm, VersionForm
from inventory.models import Release
from inventory.selectors.usecases import use_case_for
from inventory.services import catalog as catalog_services
from portal.permissions import Action, get_restricted_object_or_404
from portal.views.generic import service_edit_view


def _releases_tab(use_case) -> str:
    return use_case.get_absolute_url() + "?tab=releases"


def _form_page(
    request, *, use_case, form, save, success_url, success_message, title: str, intro: str, submit: str
):
    """One of the tab's forms (inventory/catalog_form.html), saved through ``save``, the service."""
    return service_edit_view(
        request,
        form=form,
        save=save,
        template="inventory/catalog_form.html",
        context={"use_case": use_case, "title": title, "intro": intro, "submit": submit,
                 "cancel_url": _releases_tab(use_case)},
        success_url=success_url,
        success_message=success_message,
    )  # fmt: skip


def _kind(kind: str, *, versioned: bool = False) -> str:
    allowed = AssetKindChoices.VERSIONED if versioned else AssetKindChoices.values()
    if kind not in allowed:
        raise Http404(f"No kind of asset “{kind}”.")
    return kind


@login_required
def asset_new(request, key: str, kind: str):
    use_case = use_case_for(user=request.user, key=key, action=Action.CHANGE)
    kind = _kind(kind)
    label = AssetKindChoices.label(kind).lower()
    form = AssetForm(request.POST or None, kind=kind, user=request.user, use_case=use_case)
    versioned = kind in AssetKindChoices.VERSIONED

    def save(data):
        sources = data.pop("sources", None)
        return catalog_services.asset_create(
            actor=request.user, kind=kind, sources=sources, use_case=use_case, **data
        )

    return _form_page(
        request, use_case=use_case, form=form, save=save,
        success_url=lambda asset: (
            reverse("inventory:version-add", kwargs={"key": use_case.key, "kind": kind, "slug": asset.slug})
            if versioned else _releases_tab(use_case)
        ),
        success_message=lambda asset: (
            f"{asset.name} registered. Add the version this use case runs." if versioned
            else f"{asset.name} registered."
        ),
        title=f"Register a {label}",
        intro=f"A {label} your team maintains; other teams can see and reuse it.", submit=f"Register {label}",
    )  # fmt: skip


@login_required
def version_new(request, key: str, kind: str, slug: str):
    use_case = use_case_for(user=request.user, key=key, action=Action.CHANGE)
    kind = _kind(kind, versioned=True)
    asset = get_restricted_object_or_404(
        catalog_services.asset_model(kind).objects.select_related("owning_team"),
        request.user,
        Action.CHANGE,
        slug=slug,
    )
    form = VersionForm(request.POST or None, kind=kind, asset=asset, user=request.user)
    create = {
        AssetKindChoices.MODEL: lambda data: catalog_services.model_version_create(actor=request.user, model=asset, **data),
        AssetKindChoices.PROMPT: lambda data: catalog_services.prompt_version_create(actor=request.user, template=asset, **data),
        AssetKindChoices.DATASET: lambda data: catalog_services.dataset_version_create(actor=request.user, dataset=asset, **data),
    }[kind]  # fmt: skip
    return _form_page(
        request, use_case=use_case, form=form, save=create,
        success_url=_releases_tab(use_case), success_message=lambda item: f"{item} added. Pin it in a release.",
        title=f"Add a version of {asset.name}",
        intro=f"{AssetKindChoices.label(kind)} maintained by {asset.owning_team.name}.", submit="Add version",
    )  # fmt: skip


def _previous_pins(use_case) -> dict:
    """A new release starts from what the latest one pins: usually one thing changes."""
    latest = use_case.releases.order_by("-created_at", "-pk").first()
    if latest is None:
        return {}
    return {field: list(getattr(latest, field).values_list("pk", flat=True))
            for field in ("model_versions", "prompt_versions", "dataset_versions")}  # fmt: skip


@login_required
def release_new(request, key: str):
    use_case = use_case_for(user=request.user, key=key, action=Action.CHANGE)
    form = ReleaseForm(request.POST or None, user=request.user, initial=_previous_pins(use_case))
    return _form_page(
        request, use_case=use_case, form=form,
        save=lambda data: catalog_services.release_create(use_case=use_case, actor=request.user, **data),
        success_url=lambda release: release,
        success_message=lambda release: f"Release {release.version} assembled. Ask for a gate when it is ready.",
        title="Assemble a release",
        intro="A release pins one version of each model, prompt and dataset plus a code ref: it is what a "
              "gate approves and what gets deployed.",
        submit="Assemble release",
    )  # fmt: skip


@login_required
def release_edit(request, key: str, pk: int):
    use_case = use_case_for(user=request.user, key=key, action=Action.CHANGE)
    release = get_restricted_object_or_404(use_case.releases.all(), request.user, Action.VIEW, pk=pk)
    if release.is_frozen:
        raise PermissionDenied(
            f"Release {release.version} was used by {release.frozen_reason or 'an approval'} and cannot change; "
            "assemble a new release instead."
        )
    release = get_restricted_object_or_404(Release.objects.all(), request.user, Action.CHANGE, pk=pk)
    initial = {"version": release.version, "code_ref": release.code_ref, "notes": release.notes,
               **{field: list(getattr(release, field).values_list("pk", flat=True))
                  for field in ("model_versions", "prompt_versions", "dataset_versions")}}  # fmt: skip
    form = ReleaseForm(request.POST or None, user=request.user, initial=initial)
    return _form_page(
        request, use_case=use_case, form=form,
        save=lambda data: catalog_services.release_update(release=release, actor=request.user, **data),
        success_url=lambda saved: saved, success_message=lambda saved: f"Release {saved.version} saved.",
        title=f"Change release {release.version}",
        intro="Open releases can change; once a gate request or a deployment uses one, it is frozen.",
        submit="Save release",
    )  # fmt: skip
