from django.urls import path

from callflows.flows import views as flow_views

urlpatterns = [
    path("numbers/<uuid:subscription_code>/flow/", flow_views.flow_edit, name="flow_edit"),
    path(
        "numbers/<uuid:subscription_code>/flow/draft/",
        flow_views.flow_draft,
        name="flow_draft",
    ),
    path(
        "numbers/<uuid:subscription_code>/flow/history/",
        flow_views.flow_history,
        name="flow_history",
    ),
    path(
        "numbers/<uuid:subscription_code>/flow/versions/<uuid:flowversion_code>/restore/",
        flow_views.flow_restore,
        name="flow_restore",
    ),
    path(
        "numbers/<uuid:subscription_code>/flow/override/",
        flow_views.flow_override,
        name="flow_override",
    ),
    path(
        "numbers/<uuid:subscription_code>/flow/preview/",
        flow_views.flow_preview,
        name="flow_preview",
    ),
    path(
        "numbers/<uuid:subscription_code>/flow/test-call/",
        flow_views.flow_test_call,
        name="flow_test_call",
    ),
    path(
        "numbers/<uuid:subscription_code>/flow/test-calls/<uuid:testcall_code>/",
        flow_views.flow_test_call_status,
        name="flow_test_call_status",
    ),
]
