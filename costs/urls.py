from django.urls import path

from costs.views import allocation, imports

app_name = "costs"

urlpatterns = [
    path("costs/sources/", imports.source_list, name="source-list"),
    path("costs/sources/new/", imports.source_edit, name="source-add"),
    path("costs/sources/<int:pk>/", imports.source_detail, name="source-detail"),
    path("costs/sources/<int:pk>/edit/", imports.source_edit, name="source-edit"),
    path("costs/sources/<int:pk>/import/", imports.source_import_now, name="source-import"),
    path("costs/sources/<int:pk>/upload/", imports.source_upload, name="source-upload"),
    path("costs/imports/", imports.import_list, name="import-list"),
    path("costs/imports/<int:pk>/", imports.import_detail, name="import-detail"),
]

# Where the money goes: allocation, reconciliation, budgets, value (costs/views/allocation.py).
urlpatterns += [
    path("costs/", allocation.portfolio, name="portfolio"),
    path("costs/reconciliation/", allocation.reconciliation, name="reconciliation"),
    path("costs/allocation/recompute/", allocation.recompute, name="recompute"),
    path("costs/rules/", allocation.rule_list, name="rule-list"),
    path("costs/rules/new/", allocation.rule_edit, name="rule-add"),
    path("costs/rules/<int:pk>/edit/", allocation.rule_edit, name="rule-edit"),
    path("costs/rules/<int:pk>/delete/", allocation.rule_delete, name="rule-delete"),
    path("costs/pools/new/", allocation.pool_edit, name="pool-add"),
    path("costs/pools/<int:pk>/edit/", allocation.pool_edit, name="pool-edit"),
    path("costs/pools/<int:pk>/delete/", allocation.pool_delete, name="pool-delete"),
    path("costs/budgets/", allocation.budget_list, name="budget-list"),
    path("costs/budgets/new/", allocation.budget_edit, name="budget-add"),
    path("costs/budgets/<int:pk>/edit/", allocation.budget_edit, name="budget-edit"),
    path("costs/budgets/<int:pk>/delete/", allocation.budget_delete, name="budget-delete"),
    path("costs/value/", allocation.value, name="value"),
    path("costs/value/readings/new/", allocation.reading_edit, name="reading-add"),
    path("costs/value/readings/<int:pk>/edit/", allocation.reading_edit, name="reading-edit"),
    path("costs/value/readings/<int:pk>/delete/", allocation.reading_delete, name="reading-delete"),
]
