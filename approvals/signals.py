"""Maturity recompute triggers: saving a use case, a release (or its pins), a dataset version, a
KPI, a risk assessment, evidence, a budget or an owner's account asks for a recompute of the
use cases it touches after the transaction commits, once per use case and transaction
(:func:`request_recompute`). ``ApprovalsConfig.ready()`` connects the receivers."""

import threading

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.signals import m2m_changed, post_delete, post_save

from approvals.choices import AssessmentTriggerChoices
from approvals.models import MaturityEvidence, RiskAssessment
from approvals.selectors.maturity import fact_models
from approvals.tasks import maturity_recompute
from inventory.choices import OWNERSHIP_ROLES
from inventory.models import DatasetVersion, Kpi, ModelVersion, Release, UseCase

_pending = threading.local()


# When several changes of one transaction ask for a recompute with different triggers, the one
# that may create a first assessment (evidence) wins over a plain fact change.
_TRIGGER_STRENGTH = {AssessmentTriggerChoices.FACT_CHANGE: 0, AssessmentTriggerChoices.EVIDENCE: 1}


def request_recompute(use_case_id: int, trigger: str = AssessmentTriggerChoices.FACT_CHANGE) -> None:
    """Recompute the use case's maturity after the current transaction commits — once, however
    many facts of it change in the transaction (celery's ``delay_on_commit``, de-duplicated)."""

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

    roles = Q()
    for field, _label, _help in OWNERSHIP_ROLES:
        roles |= Q(**{field: instance})
    for use_case_id in UseCase.objects.filter(roles).values_list("pk", flat=True):
        request_recompute(use_case_id)


def _team_members_changed(sender, instance, action, reverse, pk_set, **kwargs):
    """The accountable owner joined or left the owning team (ownership health)."""
    if not action.startswith("post_"):
        return

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
    post_save.connect(_use_case_saved, sender=UseCase, dispatch_uid="maturity-usecase")
    for model in (Release, Kpi, RiskAssessment):
        post_save.connect(
            _use_case_fact_saved, sender=model, dispatch_uid=f"maturity-{model._meta.model_name}"
        )
    post_save.connect(_evidence_saved, sender=MaturityEvidence, dispatch_uid="maturity-evidence")
    # Budgets are saved one at a time by the costs services; allocation rows are written in bulk
    # and ask for their recompute themselves (costs.services.allocation_engine.allocate).
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
