from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory"

    def ready(self) -> None:
        from inventory import (  # noqa: F401  (release guards)
            models,
            policies,
            signals,
        )
        from portal import audit

        for model in (
            models.BusinessUnit,
            models.Team,
            models.Component,
            models.DataSource,
            models.Model,
            models.ModelVersion,
            models.PromptTemplate,
            models.PromptVersion,
            models.Dataset,
            models.DatasetVersion,
            models.Environment,
            models.Release,
            models.Kpi,
            models.NotDuplicate,
        ):
            audit.register(model)
        # updated_at moves on every save; the fields that changed are what the trail shows.
        audit.register(models.UseCase, exclude={"updated_at"})

        from inventory.api import urls as api_urls
        from portal.api import routes

        routes.register(viewsets=api_urls.viewsets, urlpatterns=api_urls.urlpatterns)

        from inventory import demo as inventory_demo
        from portal import demo

        demo.register("Business units and teams", inventory_demo.load_organisation, order=10)
        demo.register("AI use cases, assets and releases", inventory_demo.load_catalog, order=20)

        from inventory.views import usecases

        usecases.register_own_tabs()

        from inventory.views import home

        home.register_home_sections()
