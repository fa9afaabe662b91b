from django.contrib import admin

from approvals.models import LifecycleStage, LifecycleTransition


class TransitionInline(admin.TabularInline):
    model = LifecycleTransition
    fk_name = "from_stage"
    extra = 0


@admin.register(LifecycleStage)
class LifecycleStageAdmin(admin.ModelAdmin):
    list_display = ("label", "key", "kind", "order")
    ordering = ("order",)
    inlines = [TransitionInline]
