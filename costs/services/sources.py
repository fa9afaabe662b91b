"""Cost sources: creating and changing them (the secret access key is write-only)."""

from django.db import transaction

from costs.models import CostSource

SOURCE_FIELDS = (
    "name",
    "kind",
    "location",
    "enabled",
    "description",
    "aws_region",
    "endpoint_url",
    "role_arn",
    "external_id",
    "access_key_id",
    "use_case_tag_key",
)


def cost_source_create(*, secret_access_key: str = "", **fields) -> CostSource:
    source = CostSource(**{name: value for name, value in fields.items() if name in SOURCE_FIELDS})
    source.secret_access_key = secret_access_key or ""
    source.full_clean()
    source.save()
    return source


def cost_source_update(*, source: CostSource, secret_access_key: str | None = None, **fields) -> CostSource:
    """Change a source. ``secret_access_key=None`` keeps the stored secret (forms and the API
    never show it, so "not given" must not erase it); an empty string removes it."""
    with transaction.atomic():
        source = CostSource.objects.select_for_update().get(pk=source.pk)
        for name, value in fields.items():
            if name in SOURCE_FIELDS:
                setattr(source, name, value)
        if secret_access_key is not None:
            source.secret_access_key = secret_access_key
        source.full_clean()
        source.save()
    return source
