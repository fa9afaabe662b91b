"""Guards that hold however a release is touched (form, API, import, shell), and the signals
inventory declares for the apps above it."""

from django.db.models.signals import m2m_changed
from django.dispatch import Signal, receiver

from inventory.models import Release
from inventory.models.assets import ReleaseFrozen

# An app changed facts other apps derive from (costs allocating spend, say): sent with
# ``use_case_ids``, inside the transaction that changed them; whoever derives from them (maturity)
# listens. The sender knows nothing of the listeners.
use_case_facts_changed = Signal()


@receiver(m2m_changed, sender=Release.model_versions.through, dispatch_uid="release-frozen-models")
@receiver(m2m_changed, sender=Release.prompt_versions.through, dispatch_uid="release-frozen-prompts")
@receiver(m2m_changed, sender=Release.dataset_versions.through, dispatch_uid="release-frozen-datasets")
def refuse_repinning_a_frozen_release(sender, instance, action, reverse, **kwargs):
    if action not in ("pre_add", "pre_remove", "pre_clear"):
        return
    releases = [instance] if not reverse else list(Release.objects.filter(pk__in=kwargs.get("pk_set") or ()))
    frozen = [
        release
        for release in releases
        if Release.objects.filter(pk=release.pk, frozen_at__isnull=False).exists()
    ]
    if frozen:
        raise ReleaseFrozen(f"Release {frozen[0].version} is frozen: its pinned versions cannot change.")
