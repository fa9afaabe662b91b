from django.apps import AppConfig


class CostsConfig(AppConfig):
    name = "costs"
    verbose_name = "Costs"

    def ready(self) -> None:
        from costs import policies  # noqa: F401  (registers the cost permission policies)
        from costs.models import CostSource
        from portal import audit

        # The secret is recorded as "changed", never with its value. Imports and line items
        # are not governed records: each import writes one typed "import" entry instead.
        audit.register(CostSource, secret={"secret_access_key"})

        from costs.models import AllocationRule, Budget, KpiReading, SharedPool, SharedPoolMember

        # Governed: who changed a rule, a pool, a budget or a KPI reading, and how.
        for model in (AllocationRule, SharedPool, SharedPoolMember, Budget, KpiReading):
            audit.register(model, exclude={"updated_at"} if model is AllocationRule else ())

        from costs.api import urls as api_urls
        from portal.api import routes

        routes.register(viewsets=api_urls.viewsets, urlpatterns=api_urls.urlpatterns)

        from costs.demo import load_allocation_demo, load_costs
        from portal import demo

        demo.register("Cloud billing (a FOCUS export, imported)", load_costs, order=40)
        demo.register("Cost allocation, budgets and value", load_allocation_demo, order=50)

        from costs.views import usecase_tabs

        usecase_tabs.register()

        from costs.selectors.reports import cost_to_date
        from inventory import facts

        # The gate review page shows what the use case has cost so far (to those who may see it).
        facts.register("cost_so_far", cost_to_date)

        from django.db.models.signals import post_delete

        from costs import audit_checks  # noqa: F401  (registers costs' audit checks)
        from costs.ingest import store
        from costs.models import CostImport

        # Line items hang on their import without a foreign key (a partition per import on
        # PostgreSQL): deleting an import, or its source, takes its rows with it.
        post_delete.connect(
            lambda sender, instance, **kwargs: store.discard(instance.pk),
            sender=CostImport,
            weak=False,
            dispatch_uid="costs.drop_line_items_of_deleted_import",
        )
