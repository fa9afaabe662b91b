"""Querysets whose bulk operations are recorded in the audit trail.

``QuerySet.update()``, ``bulk_create()`` and ``bulk_update()`` send no model signals, so a change
made through them would slip past the signal-based audit. Governed models use this queryset
(``objects = AuditedQuerySet.as_manager()``) and every affected object gets its entry. Deletes
need no override: the audit's delete receivers make Django's collector delete object by object.
"""

from django.db import models, transaction


class AuditedQuerySet(models.QuerySet):
    def update(self, **kwargs):
        from portal import audit

        fields = audit.audited_field_names(self.model, kwargs)
        if not fields:
            return super().update(**kwargs)
        with transaction.atomic(using=self.db):
            before = {row["pk"]: row for row in self.values("pk", *fields)}
            count = super().update(**kwargs)
            after = self.model._base_manager.using(self.db).filter(pk__in=before).values("pk", *fields)
            audit.record_bulk_update(self.model, before, {row["pk"]: row for row in after})
        return count

    update.alters_data = True

    def bulk_create(self, objs, *args, **kwargs):
        from portal import audit

        with transaction.atomic(using=self.db):
            created = super().bulk_create(objs, *args, **kwargs)
            if audit.is_audited(self.model):
                audit.record_bulk_create(created)
        return created

    bulk_create.alters_data = True

    def bulk_update(self, objs, fields, *args, **kwargs):
        from portal import audit

        objs = list(objs)
        audited = audit.audited_field_names(self.model, dict.fromkeys(fields))
        if not audited:
            return super().bulk_update(objs, fields, *args, **kwargs)
        with transaction.atomic(using=self.db):
            pks = [obj.pk for obj in objs]
            manager = self.model._base_manager.using(self.db)
            before = {row["pk"]: row for row in manager.filter(pk__in=pks).values("pk", *audited)}
            count = super().bulk_update(objs, fields, *args, **kwargs)
            after = {row["pk"]: row for row in manager.filter(pk__in=pks).values("pk", *audited)}
            audit.record_bulk_update(self.model, before, after)
        return count

    bulk_update.alters_data = True
