from django.apps import AppConfig


class CostsConfig(AppConfig):
    name = "costs"
    verbose_name = "Costs"

    def ready(self) -> None:
        from costs.models import CostSource
        from portal import audit

        audit.register(CostSource)
