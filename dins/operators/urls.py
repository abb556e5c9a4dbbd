"""Platform operators' pages (superusers), across companies: not tenant pages."""

from django.urls import path

from dins.operators import views

urlpatterns = [
    path("", views.operator_home, name="operator_home"),
    path("costs/", views.operator_costs, name="operator_costs"),
    path(
        "alerts/<int:alert_id>/acknowledge/",
        views.operator_alert_acknowledge,
        name="operator_alert_acknowledge",
    ),
]
